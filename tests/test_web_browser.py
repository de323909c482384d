"""arena serve driven in a real headless Chromium: people play, walk away, play at once, vote; the token."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from arena.cli import main
from arena.storage import load_matches, load_transcript
from arena.web.security import serving_token
from envs import get_domain, load_scenarios
from tests.web_helpers import browser, overflow, serving

pytestmark = pytest.mark.browser
SCENARIO = load_scenarios("credit", "test")[0].id


def click_through(b, element) -> None:
    """Click something that loads a new page, and wait until the old page is gone."""
    b.execute_script("window.arenaOldPage = true")
    element.click()
    WebDriverWait(b, 30).until(lambda d: d.execute_script(
        "return window.arenaOldPage === undefined && document.readyState === 'complete'"))


def start_match(b, url: str, role: str, opponent: str, scenario: str = SCENARIO) -> str:
    b.get(url + "/play")
    Select(b.find_element(By.ID, "domain")).select_by_value("credit")
    b.find_element(By.CSS_SELECTOR, f"input[name=role][value={role}]").click()
    click_through(b, b.find_element(By.ID, "next"))
    Select(b.find_element(By.ID, "opponent")).select_by_value(opponent)
    Select(b.find_element(By.ID, "scenario")).select_by_value(scenario)
    click_through(b, b.find_element(By.ID, "start"))
    return b.current_url


def wait_state(b) -> str:
    """The match page's state once it is the person's turn or the match is over."""
    WebDriverWait(b, 30).until(
        lambda d: d.find_element(By.ID, "state").get_attribute("data-state") in ("your_turn", "over"))
    return b.find_element(By.ID, "state").get_attribute("data-state")


def send(b, move: str, value: int | None = None, message: str = "", emotion: str = "neutral") -> None:
    b.find_element(By.ID, {"offer": "move-offer", "accept": "move-accept", "walk_away": "move-walk"}[move]).click()
    if value is not None:
        box = b.find_element(By.ID, "value")
        box.clear()
        box.send_keys(str(value))
    Select(b.find_element(By.ID, "emotion")).select_by_visible_text(emotion)
    b.find_element(By.ID, "message").send_keys(message)
    click_through(b, b.find_element(By.ID, "send"))


def their_last_offer(b, kind: str) -> int | None:
    other = "counterpart" if kind == "focal" else "focal"
    offers = [li.get_attribute("data-value") for li in b.find_elements(By.CSS_SELECTOR, f"li.move.{other}")
              if li.get_attribute("data-move") == "offer"]
    return int(offers[-1]) if offers else None


def play_to_the_end(b, kind: str, tag: str) -> str:
    """Concede from the target toward the reservation; accept once their offer is within it."""
    domain = get_domain("credit")
    target = int(b.find_element(By.ID, "target").text)
    reservation = int(b.find_element(By.ID, "reservation").text)
    for step in range(40):
        if wait_state(b) == "over":
            return b.find_element(By.ID, "ended-by").text
        offer = their_last_offer(b, kind)
        if offer is not None and not domain.better(kind, reservation, offer):
            send(b, "accept", message=f"{tag}: agreed.", emotion="joy")
        else:
            value = round(target + (reservation - target) * min(1.0, step / 5))
            send(b, "offer", value, f"{tag}: I can do {value} days.")
    raise AssertionError("the match did not end")


TAG = "Ünïcödé ✓ 你好 مرحبا"  # a person's words in any script, stored as written


def test_a_person_plays_to_an_agreement_and_it_leaves_the_agents_ratings_unchanged(run):
    with serving(run) as server, browser() as b:
        b.get(server.url + "/")
        click_through(b, b.find_element(By.LINK_TEXT, "run"))
        run_page = b.current_url
        before = b.find_element(By.ID, "leaderboard").text
        start_match(b, server.url, "focal", "victim")
        assert play_to_the_end(b, "focal", TAG) == "accept"
        click_through(b, b.find_element(By.ID, "to-run"))
        assert "1 played by people" in b.find_element(By.ID, "summary").text
        assert b.find_element(By.ID, "leaderboard").text == before  # people apart: the agents' ratings as they were
        people = b.find_element(By.ID, "people").text  # in their own table, paired with each agent's match
        assert "credit focal victim eq-negotiator 1 1" in people and "credit focal victim vanilla 1 1" in people
        click_through(b, b.find_element(By.ID, "with-people"))
        board = b.find_element(By.ID, "leaderboard").text
        assert "human" in board and "vanilla" in board and board != before  # only when asked
        b.get(run_page + "/matches?agent=human")
        rows = b.find_elements(By.CSS_SELECTOR, "#matches tr")[1:]
        assert len(rows) == 1 and "accept" in rows[0].text
        click_through(b, rows[0].find_element(By.TAG_NAME, "a"))
        assert f"{TAG}: I can do" in b.find_element(By.ID, "transcript").text
    record = load_matches(run).query("focal_agent == 'human'").iloc[0]
    assert record["agreement"] and record["ended_by"] == "accept" and record["person"]
    assert record["scenario"] == SCENARIO and record["focal_backend"] == "person"
    moves = load_transcript(run, record["match_id"])
    assert len(moves) == record["rounds"]
    assert all(m["message"].startswith(TAG) for m in moves if m["role"] == "focal")  # exactly as typed


def test_a_stale_tab_or_a_resubmitted_form_is_refused_and_shows_the_match_as_it_stands(run):
    with serving(run) as server, browser() as b:
        page = start_match(b, server.url, "focal", "victim")
        assert wait_state(b) == "your_turn"
        first = b.current_window_handle
        b.switch_to.new_window("tab")
        b.get(page)
        assert wait_state(b) == "your_turn"
        second = b.current_window_handle
        b.switch_to.window(first)
        send(b, "offer", 20, "from the first tab")
        assert wait_state(b) == "your_turn"
        b.switch_to.window(second)  # still showing the position before the first tab's move
        send(b, "offer", 21, "from the stale second tab")
        assert "earlier turn" in b.find_element(By.ID, "error").text
        transcript = b.find_element(By.ID, "transcript").text
        assert "from the first tab" in transcript and "stale second tab" not in transcript
        b.back()  # the form sent once more from the history
        b.refresh()
        assert "stale second tab" not in b.find_element(By.ID, "transcript").text
        live = next(iter(server.room.live.values()))
        assert [m["message"] for m in live.moves if m["role"] == "focal"] == ["from the first tab"]


def test_a_person_walks_away(run):
    with serving(run) as server, browser() as b:
        start_match(b, server.url, "counterpart", "vanilla")
        assert wait_state(b) == "your_turn"
        assert their_last_offer(b, "counterpart") is not None  # the focal agent opened
        # during play a person sees what agents see of the other side: its words, not its emotion label
        assert "expressed" not in b.find_element(By.CSS_SELECTOR, "li.move.focal").text
        send(b, "walk_away", message="I will not accept this.", emotion="anger")
        assert wait_state(b) == "over" and b.find_element(By.ID, "ended-by").text == "walk_away"
        assert "expressed" in b.find_element(By.CSS_SELECTOR, "li.move.focal").text
        click_through(b, b.find_element(By.ID, "to-run"))
        b.get(b.current_url + "/matches?counterpart=human&outcome=breakdown")
        rows = b.find_elements(By.CSS_SELECTOR, "#matches tr")[1:]
        assert len(rows) == 1 and "walk_away" in rows[0].text
    record = load_matches(run).query("counterpart_agent == 'human'").iloc[0]
    assert record["ended_by"] == "walk_away" and not record["agreement"] and record["rounds"] == 2


def test_two_browser_sessions_play_at_once_without_seeing_each_other(run):
    with serving(run) as server, browser() as one, browser() as two:
        first = start_match(one, server.url, "focal", "victim")
        second = start_match(two, server.url, "focal", "threatening")
        for step in range(3):  # interleaved moves
            for b, tag in ((one, "one"), (two, "two")):
                assert wait_state(b) == "your_turn"
                send(b, "offer", 10 + step, f"session {tag} offers")
        for b, mine, theirs in ((one, "session one", "session two"), (two, "session two", "session one")):
            wait_state(b)
            text = b.find_element(By.ID, "transcript").text
            assert text.count(mine) == 3 and theirs not in text
        two.get(first)  # another session's match is not there for it
        assert "no such match of yours" in two.find_element(By.ID, "error").text
        two.get(second)
        for b in (one, two):
            if wait_state(b) == "your_turn":
                send(b, "walk_away", message="done")
            assert wait_state(b) == "over"
        assert second != first
    people = load_matches(run).dropna(subset=["person"])
    assert len(people) == 2 and people["person"].nunique() == 2
    assert set(people["counterpart_agent"]) == {"victim", "threatening"}


def test_a_blind_vote_is_recorded_and_rated(run, capsys):
    with serving(run) as server, browser() as b:
        b.get(server.url + "/judge")
        page = b.page_source
        pending = list(server.app.extensions["arena"]["pending"].values())
        _, _, pair = pending[-1]
        assert pair.agent_first not in page and pair.agent_second not in page  # blind
        b.find_element(By.ID, "outcome-a").click()
        b.find_element(By.ID, "persuasive-b").click()
        click_through(b, b.find_element(By.ID, "vote"))
        assert b.find_element(By.ID, "voted").is_displayed()
        b.get(server.url + "/")
        click_through(b, b.find_element(By.LINK_TEXT, "run"))
        assert pair.agent_first in b.find_element(By.ID, "votes").text
    votes = [json.loads(line) for line in (run / "votes.jsonl").read_text().splitlines()]
    assert len(votes) == 1
    vote = votes[0]
    assert (vote["agent_a"], vote["agent_b"], vote["outcome"], vote["persuasive"]) == \
        (pair.agent_first, pair.agent_second, "a", "b")
    assert vote["match_a"] == pair.first and vote["person"]
    capsys.readouterr()
    assert main(["leaderboard", str(run), "--human-votes", "--bootstrap", "200", "--format", "json"]) == 0
    table = json.loads(capsys.readouterr().out)
    # one vote each way: the winner won every battle, so it ranks first with no finite rating (n/a)
    outcome = {row["agent"]: row["rank"] for row in table if row["criterion"] == "outcome"}
    persuasive = {row["agent"]: row["rank"] for row in table if row["criterion"] == "persuasive"}
    assert outcome[pair.agent_first] < outcome[pair.agent_second]
    assert persuasive[pair.agent_first] > persuasive[pair.agent_second]


def test_a_server_on_another_interface_refuses_requests_without_its_token(run):
    token = serving_token("0.0.0.0", None)
    assert token and len(token) >= 16
    with serving(run, token=token) as server, browser() as b:
        b.get(server.url + "/play")
        assert "access token" in b.find_element(By.ID, "error").text
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/runs", timeout=10)
        assert refused.value.code == 403
        b.get(server.url + "/?token=" + token)
        assert b.find_element(By.ID, "runs")
        b.get(server.url + "/play")  # the token is remembered for the session
        assert b.find_element(By.ID, "choose-role")


def test_every_page_fits_a_390_pixel_phone_screen(run):
    with serving(run) as server, browser(phone=True) as b:
        checked = []

        def fits(url: str) -> None:
            b.get(url)
            assert overflow(b) <= 0, f"{url} is {overflow(b)} px wider than a 390 px screen"
            checked.append(url)

        fits(server.url + "/")
        run_page = b.find_element(By.LINK_TEXT, "run").get_attribute("href")
        for path in ("", "?by=domain", "?people=1", "/compare", "/matches", "/matches?page=99999"):
            fits(run_page + path)
        assert len(b.find_elements(By.CSS_SELECTOR, "#matches tr")) > 1  # a page past the end shows the last one
        fits(b.find_element(By.CSS_SELECTOR, "#matches td a").get_attribute("href"))  # a transcript
        fits(server.url + "/judge")
        assert b.find_element(By.CSS_SELECTOR, ".pair section:last-child").rect["x"] < 100  # the two stacked
        fits(server.url + "/play")
        page = start_match(b, server.url, "counterpart", "vanilla")
        fits(page)
        send(b, "offer", 60, "A long message without spaces: " + "x" * 120)
        assert overflow(b) <= 0
        fits(server.url + "/runs/nothing-here")
        assert "/tmp" not in b.find_element(By.ID, "error").text
    assert len(checked) == 12
