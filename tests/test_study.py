"""Human studies without a browser: the study file's checks, balanced seeded assignment, a whole
participant through the pages (Flask's test client), export, withdrawal, and arena serve --study."""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import leaderboards
from agents.llm import ConfigError
from arena.cli import main
from arena.storage import load_matches
from arena.study import assign
from arena.study.spec import load_study
from arena.study.store import EVENTS, plan
from tests.web_helpers import STUDY_FILE, study_server

TURN = re.compile(r'name="turn" value="(\d+)"')
STUDY = load_study(STUDY_FILE)
ENTRY = "/study?PROLIFIC_PID={pid}&STUDY_ID=st1&SESSION_ID=se1"
RIGHT = {q.id: q.answer for q in STUDY.comprehension}


def variant(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "study.toml"
    text = STUDY_FILE.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, problem", [
    ('kind = "negotiate"', 'kind = "survey"', "kind must be negotiate or judge"),
    ('agent = { name = "vanilla" }', 'agent = { name = "vanila" }', "conditions\\[1\\].agent: .*vanila"),
    ('agent = { name = "eq-negotiator" }', 'agent = { name = "victim" }', "'victim' cannot play the focal role"),
    ('scenarios = ["credit-080",', 'scenarios = ["credit-000",', "'credit-000' is not in the credit test split"),
    ('matches = 2 ', 'matches = 3 ', "matches must be between 1 and the number of conditions"),
    ('version = "2026-05-01"', 'versoin = "2026-05-01"', "unknown key 'versoin'"),
    ('expect = "2"', 'expect = "9"', "attention item needs expect"),
    ('completion_code = "C1EQARENA"\ncompletion_url = "https://app.prolific.com/submissions/complete?cc=C1EQARENA"',
     "", "needs completion_code or completion_url"),
    ('max_messages = 12', 'max_messages = 1', "--max-messages must be at least 2"),
])
def test_a_bad_study_file_is_named_in_one_line_with_exit_2(tmp_path, capsys, old, new, problem):
    path = variant(tmp_path, old, new)
    with pytest.raises(ConfigError, match=problem):
        load_study(path)
    assert main(["study", "check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_the_williams_design_balances_position_and_carryover(n):
    rows = assign.williams(n)
    assert len(rows) == (n if n % 2 == 0 else 2 * n) and all(sorted(r) == list(range(n)) for r in rows)
    for position in range(n):  # every treatment equally often in every position
        assert len(set(Counter(r[position] for r in rows).values())) == 1
    follows = Counter((r[i], r[i + 1]) for r in rows for i in range(n - 1))
    assert len(follows) == n * (n - 1) and len(set(follows.values())) == 1  # each ordered pair equally often


def test_assignment_fills_each_condition_in_turn_and_balances_scenarios():
    slots = [assign.slots(STUDY, i) for i in range(8)]
    assert slots == [assign.slots(STUDY, i) for i in range(8)]  # a function of the seed and arrival only
    for block in (slots[0:2], slots[2:4], slots[4:6]):  # after every block of 2 both orders were handed out
        assert sorted(tuple(s.condition for s in p) for p in block) == [("eq", "vanilla"), ("vanilla", "eq")]
    for participant in slots:
        assert len({s.scenario for s in participant}) == len(participant)  # never the same scenario twice
    per_condition = Counter((s.condition, s.scenario) for p in slots for s in p)
    assert set(per_condition.values()) == {2}  # 8 participants: each condition met each of its 4 scenarios twice


def test_between_designs_keep_a_participant_in_one_condition(tmp_path):
    study = load_study(variant(tmp_path, 'design = "within"', 'design = "between"'))
    orders = [assign.condition_order(study, i) for i in range(6)]
    assert all(len(set(o)) == 1 and len(o) == 2 for o in orders)
    assert Counter(o[0] for o in orders) == Counter({0: 3, 1: 3})


def test_the_plan_puts_each_step_in_order():
    steps = plan(STUDY)
    assert steps[:3] == ["instructions", "practice", "check"]
    assert steps[3:6] == ["match:0", "q:after:0", "labels:0"] and steps[-2:] == ["q:final:end", "complete"]


class Person:
    """A participant in Flask's test client: follows redirects by hand and fills each page."""

    def __init__(self, app, pid: str):
        self.client, self.pid = app.test_client(), pid
        self.page = self.client.get(ENTRY.format(pid=pid))

    @property
    def where(self) -> str:
        return self.page.headers.get("Location", "").split("#")[0]

    def key(self) -> str:
        with self.client.session_transaction() as session:
            return session["csrf"]

    def post(self, path: str, **form) -> None:
        self.page = self.client.post(path, data=form | {"csrf": self.key()})

    def go(self) -> str:
        """Follow the redirect; the page's path."""
        path = self.where
        self.page = self.client.get(path)
        return path

    def play_to_the_end(self, path: str) -> str:
        """Walk away at the first turn; returns the page's text once the match is over."""
        for _ in range(50):
            html = self.client.get(path).get_data(as_text=True)
            if 'data-state="over"' in html:
                return html
            turn = TURN.search(html)
            if turn:
                self.post(path, move="walk_away", emotion="neutral", message="Ünïcödé ✓ 你好 مرحبا — I must go.",
                          turn=turn.group(1))
        raise AssertionError("the match did not end")


def walk_through(app, pid: str) -> Person:
    """One participant from the entry URL to the completion code, answering everything."""
    person = Person(app, pid)
    assert person.where == "/study/consent"
    person.post("/study/consent", choice="agree")
    assert person.where == "/study/instructions"
    person.post("/study/instructions")
    assert person.where == "/study/practice"
    html = person.play_to_the_end("/study/practice")
    assert "does not count" in html and 'href="/study/check"' in html
    person.post("/study/check", reservation="The number of days I hope for", **{"walk-away": "Neither side gets a deal"})
    assert person.page.status_code == 400 and "not right" in person.page.get_data(as_text=True)
    person.post("/study/check", **RIGHT)
    for slot in range(STUDY.matches):
        assert person.where == f"/study/match/{slot}"
        html = person.play_to_the_end(f"/study/match/{slot}")
        for agent in ("eq-negotiator", "vanilla", "linear"):
            assert agent not in html  # the participant never sees an agent's name
        person.page = person.client.get(f"/study/match/{slot}")
        person.post(f"/study/questionnaire/after/{slot}", outcome_good="6", outcome_expected="5", self_proud="4",
                    self_standards="7", attention_after="2", process_fair="3", process_heard="4",
                    relationship_trust="2", relationship_again="3", their_emotion="anger")
        assert person.where == f"/study/labels/{slot}", person.page.get_data(as_text=True)[:400]
        labels = person.client.get(person.where).get_data(as_text=True)
        person.post(f"/study/labels/{slot}", **{f"label-{i}": "anger" for i in range(labels.count("<select"))})
    person.post("/study/questionnaire/final/end", experience="monthly", comments="")
    assert person.where == "/study/done"
    assert STUDY.completion_code in person.client.get("/study/done").get_data(as_text=True)
    return person


@pytest.fixture
def server(tmp_path, served_run_template):
    server = study_server(tmp_path / "study", run=served_run_template)
    try:
        yield server
    finally:
        server.close()


def test_a_participant_goes_from_the_entry_url_to_the_completion_code(server, tmp_path):
    walk_through(server.app, "PID0001")
    store = server.app.extensions["arena"]["store"]
    p = store.get("PID0001")
    assert p.params == {"PROLIFIC_PID": "PID0001", "STUDY_ID": "st1", "SESSION_ID": "se1"} and p.index == 0
    expected = [s.condition for s in assign.slots(STUDY, 0)]
    assert [p.done[f"match:{k}"]["condition"] for k in range(2)] == expected
    assert set(p.done) == set(plan(STUDY))
    server.close()
    matches = load_matches(tmp_path / "study")
    counted = matches[matches["phase"] == "match"].sort_values("slot")
    assert list(counted["condition"]) == expected and set(matches["participant"]) == {"PID0001"}
    assert list(matches["phase"]).count("practice") == 1
    assert set(leaderboards.agent_matches(matches)["match_id"]) == set()  # every match is a person's


def test_a_participant_who_declines_leaves_nothing(server, tmp_path):
    person = Person(server.app, "PIDNOPE")
    person.post("/study/consent", choice="decline")
    assert "Nothing about you has been stored" in person.page.get_data(as_text=True)
    events = tmp_path / "study" / EVENTS
    assert not events.exists() or "PIDNOPE" not in events.read_text()
    assert person.client.get("/study/instructions").status_code == 403  # the session holds nothing either


def test_a_returning_participant_resumes_and_pages_cannot_be_skipped(server):
    person = Person(server.app, "PIDBACK")
    person.post("/study/consent", choice="agree")
    person.post("/study/instructions")
    other = Person(server.app, "PIDBACK")  # another browser, the same link: resumes at the practice round
    assert other.where == "/study/practice"
    assert other.client.get("/study/match/0").headers["Location"].startswith("/study/practice")
    assert other.client.get("/study/done").headers["Location"].startswith("/study/practice")


def test_participants_see_only_study_pages_and_researchers_need_the_token(server):
    client = server.app.test_client()
    for path in ("/", "/play", "/judge", "/researcher"):
        assert client.get(path).status_code == 403
    assert client.get("/study?PROLIFIC_PID=X1").status_code == 303
    page = client.get("/study/consent").get_data(as_text=True)
    assert "<nav>" not in page and "Runs" not in page
    token = server.config.token
    assert client.get(f"/researcher?token={token}").status_code == 200
    assert client.get(f"/?token={token}").status_code == 200


def test_export_writes_every_table_and_withdrawal_removes_the_participant(server, tmp_path, capsys):
    walk_through(server.app, "PIDEXP1")
    walk_through(server.app, "PIDEXP2")
    server.close()
    folder = tmp_path / "study"
    assert main(["study", "export", str(folder), "--with-ids"]) == 0
    out = folder / "export"
    answers = pd.read_parquet(out / "answers.parquet")
    mine = answers[(answers["participant"] == "PIDEXP1") & (answers["item"] == "outcome_good")]
    assert list(mine["answer"]) == ["6", "6"] and set(mine["condition"]) == {"eq", "vanilla"}
    assert set(answers.loc[answers["item"] == "attention_after", "attention_passed"]) == {True}
    matches = pd.read_csv(out / "matches.csv")
    assert (matches["participant"] == "PIDEXP1").sum() == 3  # practice and two counted matches
    moves = pd.read_parquet(out / "moves.parquet")
    assert "Ünïcödé ✓ 你好 مرحبا — I must go." in set(moves.loc[moves["by"] == "participant", "message"])
    labels = pd.read_parquet(out / "labels.parquet")
    assert len(labels) and set(labels["label"]) == {"anger"} and set(labels["role"]) == {"focal"}
    participants = pd.read_parquet(out / "participants.parquet")
    assert set(participants["status"]) == {"completed"} and list(participants["index"]) == [0, 1]
    assert (out / "data_dictionary.md").read_text().count("## ") == 8
    dictionary = pd.read_csv(out / "data_dictionary.csv")
    assert not dictionary["meaning"].isna().any()
    assert main(["study", "export", str(folder), "--out", str(tmp_path / "pseud")]) == 0
    assert "PIDEXP1" not in (tmp_path / "pseud" / "answers.csv").read_text()
    capsys.readouterr()
    assert main(["study", "withdraw", str(folder), "PIDEXP1"]) == 0
    assert "removed 'PIDEXP1'" in capsys.readouterr().out
    for path in folder.rglob("*"):
        if path.is_file() and "export" not in path.parts:
            assert b"PIDEXP1" not in path.read_bytes(), path
    assert set(load_matches(folder)["participant"]) == {"PIDEXP2"}
    withdrawn = [json.loads(line) for line in (folder / "withdrawals.jsonl").read_text().splitlines()]
    assert withdrawn[0]["removed"]["matches"] == 3 and withdrawn[0]["index"] == 0
    assert main(["study", "withdraw", str(folder), "PIDEXP1"]) == 2  # nothing left of them


def test_a_withdrawn_participant_cannot_come_back(tmp_path, served_run_template):
    server = study_server(tmp_path / "study", run=served_run_template)
    try:
        person = Person(server.app, "PIDGONE")
        person.post("/study/consent", choice="agree")
    finally:
        server.close()
    assert main(["study", "withdraw", str(tmp_path / "study"), "PIDGONE"]) == 0
    server = study_server(tmp_path / "study", run=served_run_template)
    try:
        page = server.app.test_client().get(ENTRY.format(pid="PIDGONE")).get_data(as_text=True)
        assert "You have withdrawn" in page
        assert main(["study", "withdraw", str(tmp_path / "study"), "PIDGONE"]) == 2  # and the server holds it
    finally:
        server.close()


def test_a_changed_design_refuses_the_old_folder(tmp_path, served_run_template):
    server = study_server(tmp_path / "study", run=served_run_template)
    server.close()
    changed = variant(tmp_path, "seed = 20260501", "seed = 1")
    with pytest.raises(ConfigError, match="another design"):
        study_server(tmp_path / "study", study_file=changed, run=served_run_template)


def test_arena_serve_study_prints_the_links_and_serves_participants_without_the_token(tmp_path, served_run_template):
    import http.cookiejar
    import os
    import signal
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "arena.cli", "serve", str(served_run_template), "--study",
                             str(STUDY_FILE), "--out", str(tmp_path / "s"), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        assert "participants open http://127.0.0.1:" in lines[2] and "/researcher?token=" in lines[2]
        base = lines[1].split()[1].split("?")[0].rstrip("/")
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        entry = opener.open(f"{base}/study?PROLIFIC_PID=CLI1&STUDY_ID=a&SESSION_ID=b", timeout=30)
        assert entry.status == 200 and "I agree to take part" in entry.read().decode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/runs", timeout=30)
        assert refused.value.code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert (tmp_path / "s" / "study.toml").is_file()
