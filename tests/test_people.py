"""People as agents of the arena (without a browser): moves checked, guards applied, abandonment
recorded, matches paired with the run's, the token rule, the serve command, and vote ratings."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest

import leaderboards
from agents import AgentSpec
from arena.cli import build_parser, main
from arena.people import PlayRequest, PlayRoom, person_action
from arena.spec import TournamentSpec
from arena.storage import load_matches, load_transcript
from arena.web.security import is_loopback, serving_token
from arena.web.serve import config_from_args
from agents.llm import ConfigError
from agents import ScenarioView
from envs import DEFAULT_TAXONOMY, load_scenarios
from tests.web_helpers import LiveServer

SCENARIO = load_scenarios("credit", "test")[0]


def room_for(run, **kwargs) -> PlayRoom:
    from arena.web.serve import play_spec

    return PlayRoom(run, play_spec(run), **kwargs)


def finished(live, timeout_s: float = 20.0):
    deadline = time.time() + timeout_s
    while live.record is None and time.time() < deadline:
        time.sleep(0.02)
    assert live.record is not None, "the match did not finish"
    return live.record


def offer_then_walk_away(room: PlayRoom, request: PlayRequest, value: int, reply_wait_s: float = 10.0):
    """A person's match: one offer, the agent's answer, then walking away; returns (live, record)."""
    try:
        live = room.start("p1", request)
        assert live.channel.wait_for_turn(10) == "your_turn"
        live.channel.submit(person_action({"move": "offer", "value": str(value), "message": f"{value} days"},
                                          live.view, None))
        assert live.channel.wait_for_turn(reply_wait_s) == "your_turn"
        live.channel.submit(person_action({"move": "walk_away"}, live.view, live.their_offer))
        return live, finished(live)
    finally:
        room.close()


def view(kind: str = "focal") -> ScenarioView:
    return ScenarioView.of(SCENARIO, kind, 30, DEFAULT_TAXONOMY)


@pytest.mark.parametrize("form, problem", [
    ({"move": "bargain"}, "choose a move"),
    ({"move": "offer", "value": "soon"}, "whole number of days"),
    ({"move": "offer", "value": "9999"}, "between 1 and 365"),
    ({"move": "offer", "value": "20", "emotion": "smug"}, "unknown emotion"),
    ({"move": "offer", "value": "20", "message": "x" * 501}, "at most 500"),
    ({"move": "accept"}, "no offer to accept"),
])
def test_a_persons_bad_move_is_refused_with_the_reason(form, problem):
    with pytest.raises(ValueError, match=problem):
        person_action(form, view(), None)


def test_a_person_abandoning_a_match_is_recorded_as_abandoned_with_the_moves_made(run):
    room = room_for(run, abandon_after_s=0.3)
    try:
        live = room.start("p1", PlayRequest("credit", "counterpart", "vanilla", "scripted", SCENARIO.id))
        record = finished(live)
    finally:
        room.close()
    assert record["ended_by"] == "abandoned" and record["error"].startswith("abandoned: no move")
    assert record["rounds"] == 1 and record["agreement"] is None
    stored = load_matches(run).set_index("match_id").loc[live.match.match_id]
    assert stored["ended_by"] == "abandoned" and stored["person"] == "p1"
    assert [m["role"] for m in load_transcript(run, live.match.match_id)] == ["focal"]
    board = leaderboards.leaderboard(load_matches(run), by="all", bootstrap=100)
    assert "human" not in set(board["agent"]) and board.attrs["errored_excluded"] == 1  # never a loss


def test_stopping_the_server_records_unfinished_matches_as_abandoned(run):
    room = room_for(run, abandon_after_s=60)
    live = room.start("p1", PlayRequest("credit", "focal", "victim", "scripted", SCENARIO.id))
    assert live.channel.wait_for_turn(10) == "your_turn"
    room.close()
    assert live.record["ended_by"] == "abandoned" and "closed" in live.record["error"]
    assert live.match.match_id in set(load_matches(run)["match_id"])


def test_a_persons_words_are_stored_exactly_and_their_match_pairs_with_the_runs(run):
    reservation = SCENARIO.reservation["focal"]
    words = f"Ünïcödé ✓ 你好 مرحبا. Final stretch: {reservation} days."
    room = room_for(run)
    try:
        live = room.start("p1", PlayRequest("credit", "focal", "victim", "scripted", SCENARIO.id))
        assert live.channel.wait_for_turn(10) == "your_turn"
        live.channel.submit(person_action({"move": "offer", "value": str(reservation), "message": words},
                                          live.view, None), turn=0)
        assert live.channel.wait_for_turn(10) == "your_turn"
        live.channel.submit(person_action({"move": "walk_away"}, live.view, live.their_offer), turn=2)
        record = finished(live)
    finally:
        room.close()
    first = load_transcript(run, live.match.match_id)[0]
    assert first["message"] == words and first["value"] == reservation  # not a letter changed, no "that days"
    assert first["guard"] == [] and first["mentions_reservation"] is True
    assert record["focal_clamped_offers"] == 0 and record["focal_redactions"] == 0
    matches = load_matches(run)
    agents_match = matches[(matches["scenario"] == SCENARIO.id) & (matches["focal_agent"] == "vanilla")
                           & (matches["counterpart_agent"] == "victim")].iloc[0]
    # the same coordinates and seeds as the run's own matches: the victim draws the same numbers
    assert (record["seed"], record["counterpart_seed"]) == (agents_match["seed"], agents_match["counterpart_seed"])


@pytest.mark.parametrize("form, their_offer, problem", [
    ({"move": "offer", "value": "75"}, None, "75 days is past your reservation of 45 days"),
    ({"move": "accept"}, 80, "their offer of 80 days is past your reservation of 45 days"),
    ({"move": "offer", "value": "30", "message": "bell\x07"}, None, "control character \\(U\\+0007\\)"),
    ({"move": "offer", "value": "30", "message": "evil\u202eetxt"}, None, "control character"),
])
def test_a_move_past_ones_reservation_or_with_control_characters_is_refused_not_rewritten(form, their_offer, problem):
    assert SCENARIO.reservation["focal"] == 45  # the creditor prefers fewer days: more is past the limit
    with pytest.raises(ValueError, match=problem):
        person_action(form, view(), their_offer)


def test_a_persons_message_is_normalised_to_nfc_and_keeps_its_line_breaks():
    decomposed = "Cafe\u0301\r\nsecond line"
    action = person_action({"move": "offer", "value": "30", "message": decomposed}, view(), None)
    assert action.message == "Caf\u00e9\nsecond line"


def test_a_move_for_a_turn_that_has_passed_is_refused(run):
    room = room_for(run)
    try:
        live = room.start("p1", PlayRequest("credit", "focal", "victim", "scripted", SCENARIO.id))
        assert live.channel.wait_for_turn(10) == "your_turn"
        move = person_action({"move": "offer", "value": "20"}, live.view, None)
        live.channel.submit(move, turn=0)
        assert live.channel.wait_for_turn(10) == "your_turn"
        with pytest.raises(ValueError, match="earlier turn"):
            live.channel.submit(move, turn=0)  # the same form again, after the agent answered
        assert len(live.moves) == 2
    finally:
        room.close()


def test_people_do_not_reach_each_others_matches(run):
    room = room_for(run)
    try:
        live = room.start("p1", PlayRequest("credit", "focal", "victim", "scripted", None))
        assert room.get("p1", live.live_id) is live
        with pytest.raises(KeyError):
            room.get("p2", live.live_id)
        assert room.of("p2") == [] and room.of("p1") == [live]
        assert live.record is None and live.scenario.id in {s.id for s in room.scenarios("credit")}
    finally:
        room.close()
    assert live.record["scenario_pick"].startswith("random:")  # the pick's seed is kept with the result


def test_a_bad_choice_of_match_is_named(run):
    room = room_for(run)
    try:
        for request, problem in ((PlayRequest("sleep", "focal", "victim", "scripted"), "no domain 'sleep'"),
                                 (PlayRequest("credit", "focal", "eq-negotiator", "scripted"), "cannot play opposite"),
                                 (PlayRequest("credit", "focal", "victim", "ollama"), "not configured"),
                                 (PlayRequest("credit", "focal", "victim", "scripted", "credit-000"), "not one of")):
            with pytest.raises(ConfigError, match=problem):
                room.start("p1", request)
    finally:
        room.close()


def test_a_full_server_refuses_another_match_and_leaves_no_channel_open(run):
    from agents.human import CHANNELS

    room = room_for(run, max_live=2)
    try:
        room.start("p1", PlayRequest("credit", "focal", "victim", "scripted", SCENARIO.id))
        open_before = set(CHANNELS)
        with pytest.raises(ConfigError, match="already have 1 match"):  # one session cannot hold every slot
            room.start("p1", PlayRequest("credit", "focal", "victim", "scripted", SCENARIO.id))
        room.start("p2", PlayRequest("credit", "focal", "victim", "scripted", SCENARIO.id))
        with pytest.raises(ConfigError, match="2 matches are already being played"):
            room.start("p3", PlayRequest("credit", "focal", "victim", "scripted", SCENARIO.id))
        assert len(set(CHANNELS) - open_before) == 1 and len(room.live) == 2
    finally:
        room.close()


def test_the_human_agent_cannot_join_a_tournament(tmp_path, capsys):
    code = main(["tournament", "--agents", "human,victim", "--domains", "credit", "--scenarios", "1",
                 "--workers", "0", "--out", str(tmp_path / "t"), "--quiet"])
    assert code == 2 and "played by a person" in capsys.readouterr().err
    with pytest.raises(ConfigError):
        TournamentSpec(agents=[AgentSpec("human"), AgentSpec("victim")], domains=["credit"]).validate()


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True),
                                            ("::1", True), ("0.0.0.0", False), ("192.168.1.5", False), ("::", False)])
def test_only_loopback_serves_without_a_token(host, loopback):
    assert is_loopback(host) is loopback
    token = serving_token(host, None)
    assert (token is None) is loopback
    args = build_parser().parse_args(["serve", "--host", host])
    assert (config_from_args(args)[0].token is None) is loopback
    with pytest.raises(ValueError, match="at least 16"):
        serving_token(host, "short")


def test_posts_need_the_sessions_form_key_and_moves_their_turn(run):
    server = LiveServer(run)
    try:
        client = server.app.test_client()
        client.get("/")
        form = {"domain": "credit", "role": "counterpart", "opponent": "vanilla", "backend": "scripted",
                "scenario": SCENARIO.id}
        assert client.post("/play", data=form).status_code == 400  # no form key: refused
        with client.session_transaction() as session:
            key = session["csrf"]
        started = client.post("/play", data=form | {"csrf": key})
        assert started.status_code == 303
        page = started.headers["Location"].split("#")[0]
        live = server.room.of(next(iter({m.person for m in server.room.live.values()})))[0]
        assert live.channel.wait_for_turn(10) == "your_turn"
        turn = str(live.channel.turn)
        bad = client.post(page, data={"csrf": key, "move": "offer", "value": "0", "turn": turn})
        assert bad.status_code == 400 and b"between 1 and 365" in bad.data
        move = {"csrf": key, "move": "offer", "value": "60", "turn": turn, "message": "60 days."}
        assert client.post(page, data=move).status_code == 303
        again = client.post(page, data=move)  # the same form sent twice: refused, the match as it stands shown
        assert again.status_code == 409 and b"earlier turn" in again.data and b'id="transcript"' in again.data
        assert sum(m["role"] == "counterpart" for m in live.moves) == 1  # the person's move made once
        other = server.app.test_client()
        assert other.get(page).status_code == 404
    finally:
        server.close()


def test_arena_serve_starts_serves_and_stops_cleanly(run):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "arena.cli", "serve", str(run), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        address = lines[1].split()[1]
        assert address.startswith("http://127.0.0.1:") and str(run) in lines[0]
        with urllib.request.urlopen(address, timeout=30) as page:
            assert page.status == 200 and "run" in page.read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_arena_serve_names_a_missing_run_directory_and_too_few_resamples(run, tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nowhere")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main(["serve", str(run), "--bootstrap", "10"]) == 2
    assert "--bootstrap must be at least 100" in capsys.readouterr().err


def votes_table(rows) -> pd.DataFrame:
    return pd.DataFrame([{"vote_id": str(i), "person": f"p{i % 3}", "domain": "credit", "scenario": f"s{i % 12}",
                          "role": "focal", "opponent": "victim", "agent_a": a, "agent_b": b, "outcome": o,
                          "persuasive": p} for i, (a, b, o, p) in enumerate(rows)])


def test_votes_rate_the_agent_people_prefer_higher_with_intervals():
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(60):  # people prefer eq-negotiator's outcome 80% of the time, shown in either order
        better = rng.random() < 0.8
        first = rng.random() < 0.5
        a, b = ("eq-negotiator", "vanilla") if first else ("vanilla", "eq-negotiator")
        winner_first = better == first
        rows.append((a, b, "a" if winner_first else "b", None))
    table = leaderboards.vote_leaderboard(votes_table(rows), bootstrap=300)
    outcome = table[table["criterion"] == "outcome"].set_index("agent")
    assert outcome.loc["eq-negotiator", "lower"] > outcome.loc["vanilla", "upper"]
    assert set(table["criterion"]) == {"outcome"}  # nobody answered the optional question
    assert "60 blind votes from 3 people" in table.attrs["notes"][0]


def test_the_human_votes_leaderboard_names_a_run_without_votes(run, capsys):
    assert main(["leaderboard", str(run), "--human-votes"]) == 2
    assert "no votes" in capsys.readouterr().err
    (run / "votes.jsonl").write_text(json.dumps({"vote_id": "1"})[:-3] + "\n")  # a line cut short
    assert main(["leaderboard", str(run), "--human-votes"]) == 2


@pytest.mark.llm
def test_a_person_plays_an_agent_on_the_embedded_model(run):
    from agents.llm import BackendSpec
    from arena.web.serve import play_spec

    room = PlayRoom(run, play_spec(run), {"llama-cpp": BackendSpec("llama-cpp")})
    live, record = offer_then_walk_away(room, PlayRequest("credit", "focal", "victim", "llama-cpp", SCENARIO.id),
                                        20, reply_wait_s=300)
    assert live.opponent.display_name == "victim@llama-cpp"
    reply = live.moves[1]
    assert reply["role"] == "counterpart" and reply["completion_tokens"] > 0  # SmolLM2 answered the person
    assert record["counterpart_backend"] == "llama-cpp" and record["focal_backend"] == "person"
    assert record["ended_by"] == "walk_away"


def test_pages_carry_security_headers_and_a_tokenless_server_answers_only_to_its_own_name(run):
    server = LiveServer(run)
    try:
        client = server.app.test_client()
        page = client.get("/", headers={"Host": "127.0.0.1:8765"})
        assert page.status_code == 200
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
        for host in ("localhost:8765", "[::1]:8765"):
            assert client.get("/", headers={"Host": host}).status_code == 200
        rebound = client.get("/", headers={"Host": "attacker.example:8765"})  # DNS rebinding
        assert rebound.status_code == 403 and b"DNS rebinding" in rebound.data
        missing = client.get("/runs/0000000000/match?id=x")
        assert missing.status_code == 404 and str(run).encode() not in missing.data
    finally:
        server.close()


def test_a_number_reads_as_a_number_on_the_pages():
    from arena.web.display import num, whole

    assert num(-0.0001) == "0.000" and num(float("nan")) == "" and num(None) == ""
    assert whole(36.0) == "36" and whole(float("nan")) == ""


def test_people_are_rated_apart_unless_asked_and_paired_in_their_own_table(run, capsys):
    room = room_for(run)
    try:
        live = room.start("p9", PlayRequest("credit", "focal", "victim", "scripted", SCENARIO.id))
        assert live.channel.wait_for_turn(10) == "your_turn"
        live.channel.submit(person_action({"move": "walk_away"}, live.view, None), turn=0)
        finished(live)
    finally:
        room.close()
    matches = load_matches(run)
    agents_only = leaderboards.agent_matches(matches)
    assert len(matches) - len(agents_only) == 1 and "human" not in set(agents_only["focal_agent"])
    capsys.readouterr()
    assert main(["leaderboard", str(run), "--by", "all", "--bootstrap", "100", "--format", "json"]) == 0
    assert "human" not in {row["agent"] for row in json.loads(capsys.readouterr().out)["rows"]}
    assert main(["leaderboard", str(run), "--by", "all", "--bootstrap", "100", "--format", "json", "--with-people"]) == 0
    assert "human" in {row["agent"] for row in json.loads(capsys.readouterr().out)["rows"]}
    assert main(["leaderboard", str(run), "--people", "--bootstrap", "100", "--format", "json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert {row["agent"] for row in table} == {"vanilla", "eq-negotiator"}  # the agents that met the same victim
    assert all(row["person_utility"] == 0.0 and row["pairs"] == 1 for row in table)


def test_a_vote_or_a_persons_match_leaves_the_agents_tables_computed_and_transcripts_are_found_by_offset(run):
    from arena.judging import append_vote
    from arena.storage import load_transcripts

    server = LiveServer(run)
    try:
        catalog = server.app.extensions["arena"]["catalog"]
        ref = catalog.get(catalog.key_of(run))
        board, metrics = catalog.leaderboard(ref, "all"), catalog.metrics(ref)
        append_vote(run, {"vote_id": "v1", "person": "p", "domain": "credit", "scenario": SCENARIO.id, "role": "focal",
                          "opponent": "victim", "agent_a": "vanilla", "agent_b": "eq-negotiator", "match_a": "a",
                          "match_b": "b", "outcome": "a", "persuasive": None})
        live = server.room.start("p1", PlayRequest("credit", "focal", "victim", "scripted", SCENARIO.id))
        assert live.channel.wait_for_turn(10) == "your_turn"
        live.channel.submit(person_action({"move": "walk_away"}, live.view, None), turn=0)
        record = finished(live)
        assert catalog.leaderboard(ref, "all") is board and catalog.metrics(ref) is metrics  # not recomputed
        assert catalog.summary(ref)["people"] == 1 and catalog.record(ref, record["match_id"])["person"] == "p1"
        assert catalog.leaderboard(ref, "all", people=True) is not board
        everything = load_transcripts(run)
        for match_id in list(everything)[:: max(1, len(everything) // 5)] + [list(everything)[-1]]:
            assert catalog.transcript(ref, match_id) == everything[match_id]
        assert catalog.transcript(ref, record["match_id"])[0]["move"] == "walk_away"
    finally:
        server.close()


def test_the_people_table_pairs_each_persons_match_with_the_agents_and_resamples_people():
    rows = []
    for person, utility in (("p1", 0.6), ("p2", 0.2), ("p3", 0.4)):
        for scenario in ("s1", "s2"):
            rows.append({"match_id": f"{person}/{scenario}", "domain": "credit", "scenario": scenario, "repeat": 0,
                         "focal_agent": "human", "counterpart_agent": "victim", "focal_backend": "person",
                         "counterpart_backend": "scripted", "person": person, "focal_utility": utility,
                         "counterpart_utility": 0.5, "agreement": True, "error": None, "ended_by": "accept"})
    for scenario in ("s1", "s2", "s3"):
        rows.append({"match_id": f"agent/{scenario}", "domain": "credit", "scenario": scenario, "repeat": 0,
                     "focal_agent": "vanilla", "counterpart_agent": "victim", "focal_backend": "scripted",
                     "counterpart_backend": "scripted", "person": None, "focal_utility": 0.3,
                     "counterpart_utility": 0.5, "agreement": True, "error": None, "ended_by": "accept"})
    table = leaderboards.people_table(pd.DataFrame(rows), bootstrap=500)
    row = table.set_index("agent").loc["vanilla"]
    assert (row["pairs"], row["people"]) == (6, 3)
    assert row["difference"] == pytest.approx(0.1) and row["person_utility"] == pytest.approx(0.4)
    assert 0.2 - 0.3 - 1e-9 <= row["lower"] < row["difference"] < row["upper"] <= 0.6 - 0.3 + 1e-9
