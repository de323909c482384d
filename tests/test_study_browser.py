"""A study run as a participant would run it: headless Chromium on a 390-pixel phone screen, from a
Prolific-style link to the completion code; a second participant in the other order; declining;
export and withdrawal. One study server for the module (the tests run in file order)."""
from __future__ import annotations

import pandas as pd
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from arena.cli import main
from arena.storage import load_matches, load_transcript
from arena.study import assign
from arena.study.store import EVENTS
from tests.test_web_browser import click_through, wait_state
from tests.web_helpers import browser, overflow, study_server

pytestmark = pytest.mark.browser
WORDS = "Ünïcödé ✓ 你好 مرحبا — I need more time."
AGENTS = ("eq-negotiator", "vanilla", "linear")


@pytest.fixture(scope="module")
def study(tmp_path_factory, served_run_template):
    folder = tmp_path_factory.mktemp("study") / "data"
    server = study_server(folder, run=served_run_template)
    server.folder = folder
    yield server
    server.close()


def entry(server, pid: str) -> str:
    return f"{server.url}/study?PROLIFIC_PID={pid}&STUDY_ID=abc123&SESSION_ID=s-{pid}"


def seen(b, pages: list[str]) -> str:
    """Note the page, check it fits the phone's width and shows no agent's name; its text."""
    assert overflow(b) <= 0, f"{b.current_url} is {overflow(b)} px wider than the screen"
    text = b.find_element(By.TAG_NAME, "body").text
    assert not any(agent in text for agent in AGENTS), b.current_url
    pages.append(b.current_url.split("#")[0].split("?")[0])
    return text


def in_view(b, element_id: str) -> bool:
    return b.execute_script("const r = document.getElementById(arguments[0]).getBoundingClientRect();"
                            "return r.top >= 0 && r.top < window.innerHeight", element_id)


def submit(b, button_id: str) -> None:
    click_through(b, b.find_element(By.ID, button_id))


def play_once(b, pages: list[str], message: str) -> None:
    """Make one offer with ``message``, then walk away; continue past the finished match."""
    for move in ("offer", "walk_away"):
        if wait_state(b) == "over":
            break
        seen(b, pages)
        assert in_view(b, "state")  # the page opens at the newest move: the state line and the form in view
        b.find_element(By.ID, "move-offer" if move == "offer" else "move-walk").click()
        if move == "offer":
            box = b.find_element(By.ID, "value")
            box.clear()
            box.send_keys(str(int(b.find_element(By.ID, "reservation").text) + 20))
        b.find_element(By.ID, "message").send_keys(message)
        submit(b, "send")
    assert wait_state(b) == "over"
    seen(b, pages)
    submit(b, "continue")


def answer_questionnaire(b, pages: list[str], attention: str = "2") -> None:
    seen(b, pages)
    for fieldset in b.find_elements(By.CSS_SELECTOR, "fieldset.item"):
        item = fieldset.get_attribute("id").removeprefix("item-")
        value = attention if item.startswith("attention") else None
        radios = fieldset.find_elements(By.CSS_SELECTOR, "input[type=radio]")
        if radios:
            choice = next(r for r in radios if r.get_attribute("value") == value) if value else radios[len(radios) // 2]
            b.execute_script("arguments[0].click()", choice)
    submit(b, "submit-answers")


def label_messages(b, pages: list[str]) -> None:
    seen(b, pages)
    for select in b.find_elements(By.CSS_SELECTOR, "select[id^=label-]"):
        Select(select).select_by_visible_text("anger")
    submit(b, "submit-labels")


def test_a_participant_goes_from_a_prolific_link_to_the_completion_code_on_a_phone(study):
    pages: list[str] = []
    with browser(phone=True) as b:
        b.get(entry(study, "PROLIFICA1"))
        assert "research study" in seen(b, pages) and not b.find_elements(By.TAG_NAME, "nav")
        submit(b, "agree")
        assert "Instructions" in seen(b, pages)
        submit(b, "continue")
        assert "Practice round" in seen(b, pages)
        play_once(b, pages, "practice")
        seen(b, pages)
        b.find_element(By.CSS_SELECTOR, "input[name=reservation][value='The number of days I hope for']").click()
        b.find_element(By.CSS_SELECTOR, "input[name=walk-away][value='Neither side gets a deal']").click()
        submit(b, "submit-check")
        assert "not right" in seen(b, pages)  # a wrong answer: the instructions again, and retry
        b.find_element(By.CSS_SELECTOR, "input[name=reservation][value='The fewest days I can accept']").click()
        b.find_element(By.CSS_SELECTOR, "input[name=walk-away][value='Neither side gets a deal']").click()
        submit(b, "submit-check")
        for slot in range(2):
            assert f"Match {slot + 1} of 2" in seen(b, pages)
            play_once(b, pages, WORDS)
            answer_questionnaire(b, pages)
            label_messages(b, pages)
        answer_questionnaire(b, pages)
        assert b.find_element(By.ID, "completion-code").text == "C1EQARENA"
        assert b.find_element(By.ID, "completion-link").get_attribute("href").endswith("cc=C1EQARENA")
        seen(b, pages)
    assert {p.rsplit("/study", 1)[1] for p in pages} >= {"/consent", "/instructions", "/practice", "/check", "/match/0",
                                                         "/match/1", "/questionnaire/after/0", "/labels/0",
                                                         "/questionnaire/final/end", "/done"}
    store = study.app.extensions["arena"]["store"]
    p = store.get("PROLIFICA1")
    assert p.params["STUDY_ID"] == "abc123" and "complete" in p.done
    conditions = [p.done[f"match:{k}"]["condition"] for k in range(2)]
    assert conditions == [s.condition for s in assign.slots(store.study, p.index)]
    for k in range(2):  # the assigned opponent played, and the person's words are stored as written
        match_id = p.done[f"match:{k}"]["match_id"]
        agent = store.study.condition(conditions[k]).agent.display_name
        assert f"/{agent}__human/" in match_id
        mine = [m for m in load_transcript(study.folder, match_id) if m["role"] == "counterpart"]
        assert mine[0]["message"] == WORDS and mine[0]["guard"] == []


def test_a_second_participant_gets_the_other_order(study):
    store = study.app.extensions["arena"]["store"]
    with browser() as b:
        b.get(entry(study, "PROLIFICB2"))
        submit(b, "agree")
        submit(b, "continue")
        play_once(b, [], "practice")
        for name, value in (("reservation", "The fewest days I can accept"), ("walk-away", "Neither side gets a deal")):
            b.find_element(By.CSS_SELECTOR, f"input[name={name}][value='{value}']").click()
        submit(b, "submit-check")
        play_once(b, [], "the first match")
    first, second = store.get("PROLIFICA1"), store.get("PROLIFICB2")
    assert (first.index, second.index) == (0, 1)
    orders = [[s.condition for s in store.slots(p)] for p in (first, second)]
    assert sorted(orders) == [["eq", "vanilla"], ["vanilla", "eq"]]  # one block: both orders handed out
    assert second.done["match:0"]["condition"] == orders[1][0]


def test_a_participant_who_declines_leaves_nothing(study):
    with browser() as b:
        b.get(entry(study, "PROLIFICNO"))
        submit(b, "decline")
        assert "Nothing about you has been stored" in b.find_element(By.ID, "message").text
        b.get(study.url + "/study/instructions")
        assert "open the study link" in b.find_element(By.ID, "error").text
    assert "PROLIFICNO" not in (study.folder / EVENTS).read_text(encoding="utf-8")
    assert study.app.extensions["arena"]["store"].get("PROLIFICNO") is None


def test_the_researcher_sees_the_overview_and_exports_then_a_withdrawal_removes_the_participant(study, tmp_path):
    with browser(phone=True) as b:
        b.get(f"{study.url}/researcher")
        assert "access token" in b.find_element(By.ID, "error").text  # participants never see it
        b.get(f"{study.url}/researcher?token={study.config.token}")
        assert "completed 1" in b.find_element(By.ID, "study-counts").text
        assert overflow(b) <= 0
    out = tmp_path / "export"
    assert main(["study", "export", str(study.folder), "--out", str(out), "--with-ids"]) == 0  # while it serves
    answers = pd.read_parquet(out / "answers.parquet")
    assert set(answers["participant"]) == {"PROLIFICA1"} and len(answers) == 2 * 10 + 2
    moves = pd.read_parquet(out / "moves.parquet")
    assert WORDS in set(moves["message"])
    study.close()
    assert main(["study", "withdraw", str(study.folder), "PROLIFICA1"]) == 0
    assert "PROLIFICA1" not in set(load_matches(study.folder)["participant"])
    assert "PROLIFICA1" not in (study.folder / EVENTS).read_text(encoding="utf-8")
