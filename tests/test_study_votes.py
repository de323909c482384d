"""Judge studies and people's labels: vote checks counted by reason, Krippendorff's alpha, a judge
study through its pages and arena leaderboard --human-votes, and the sensing benchmark scored against
people's emotion labels."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import leaderboards
from arena.cli import main
from tests.test_study import Person
from tests.web_helpers import study_server


def votes(rows) -> pd.DataFrame:
    keys = ["participant", "item", "match_a", "match_b", "outcome", "gold_answer", "seconds"]
    frame = pd.DataFrame([dict(zip(keys, row)) for row in rows])
    return frame.assign(person=frame["participant"], vote_id=[str(i) for i in range(len(frame))], domain="credit",
                        scenario="credit-080", role="focal", opponent="victim", agent_a="x", agent_b="y",
                        persuasive=None)


def test_votes_failing_the_checks_are_dropped_and_counted_by_reason():
    table = votes([("r1", "pair", "m1", "m2", "a", None, 9), ("r1", "repeat", "m2", "m1", "b", None, 9),
                   ("r1", "gold", "g", "m3", "b", "b", 9),
                   ("r2", "pair", "m1", "m2", "a", None, 9), ("r2", "gold", "g", "m3", "a", "b", 9),
                   ("r3", "pair", "m1", "m2", "b", None, 9), ("r3", "repeat", "m2", "m1", "b", None, 9),
                   ("r4", "pair", "m1", "m2", "a", None, 1), ("r4", "pair", "m2", "m1", "b", None, 9)])
    kept, dropped = leaderboards.vote_quality(table, leaderboards.VoteRules(min_seconds=5))
    assert list(kept.index) == [0, 8]  # r1's first showing; r4's second vote (its first was too fast)
    reasons = dict(zip(dropped["reason"], dropped["votes"]))
    assert reasons["failed gold pairs (fewer than 100% right)"] == 2  # r2: every vote
    assert reasons["inconsistent on repeated pairs (more than 50% changed)"] == 2  # r3 changed its answer
    assert reasons["gold pair (an attention check, never rated)"] == 1 and reasons["faster than 5 s"] == 1
    assert reasons["repeated pair (a consistency check, never rated)"] == 1


def test_krippendorffs_alpha_is_one_for_raters_who_agree_and_low_for_ones_who_do_not():
    pairs = [(f"m{i}", f"n{i}") for i in range(6)]
    same = votes([(r, "pair", a, b, "a" if i % 2 else "b", None, 9) for r in ("r1", "r2", "r3")
                  for i, (a, b) in enumerate(pairs)])
    assert leaderboards.rater_agreement(same)["alpha"] == pytest.approx(1.0)
    shown_swapped = same.assign(match_a=same["match_b"], match_b=same["match_a"],
                                outcome=same["outcome"].map({"a": "b", "b": "a"}))
    assert leaderboards.rater_agreement(pd.concat([same[same["participant"] == "r1"],
                                                   shown_swapped[shown_swapped["participant"] != "r1"]])
                                        )["alpha"] == pytest.approx(1.0)  # the order shown does not matter
    opposed = votes([(r, "pair", a, b, ("a" if i % 2 else "b") if r == "r1" else ("b" if i % 2 else "a"), None, 9)
                     for r in ("r1", "r2") for i, (a, b) in enumerate(pairs)])
    stats = leaderboards.rater_agreement(opposed)
    assert stats["alpha"] < 0 and stats["pairs"] == 6 and stats["raters"] == 2
    assert "Krippendorff's alpha (ordinal) -" in leaderboards.agreement_note(stats)


JUDGE_STUDY = """
[study]
id = "judges"
kind = "judge"
seed = 3
completion_code = "JUDGED"
id_params = ["PROLIFIC_PID"]

[consent]
version = "j1"
text = "You will read negotiations and judge them."

[judge]
run = "{run}"
pairs = 3
repeats = 1
gold = 1
pool = 3

[labels]
per_item = 1
sides = ["judged", "opponent"]

[checks]
min_gold_accuracy = 1.0
max_repeat_flips = 0.0
"""


def judge_through(app, pid: str, answer) -> list[dict]:
    """A judge-study participant voting ``answer(item)`` on every pair; returns their items."""
    person = Person(app, pid)
    person.post("/study/consent", choice="agree")
    person.post("/study/instructions")
    store = app.extensions["arena"]["store"]
    from arena.web import study_play

    with app.test_request_context():
        items = study_play._items(store.get(pid))
    for item in items:
        assert person.where == f"/study/judge/{item.slot}"
        html = person.client.get(person.where).get_data(as_text=True)
        assert item.pair.agent_first not in html and item.pair.agent_second not in html  # blind
        person.post(person.where, outcome=answer(item))
        assert person.where == f"/study/labels/{item.slot}"
        person.post(person.where, **{"label-0": "neutral"})
    assert person.where == "/study/done"
    return items


def test_a_judge_study_rates_only_votes_that_pass_its_checks_and_reports_agreement(tmp_path, served_run_template,
                                                                                 capsys):
    path = tmp_path / "judge.toml"
    path.write_text(JUDGE_STUDY.replace("{run}", str(served_run_template)), encoding="utf-8")
    server = study_server(tmp_path / "jstudy", study_file=path, run=served_run_template)
    try:
        def consistent(item) -> str:  # a rater with a view: the focal agent named first, the counterpart named last
            first_wins = (item.pair.agent_first < item.pair.agent_second) == (item.pair.role == "focal")
            return item.gold_answer or ("a" if first_wins else "b")

        careful = judge_through(server.app, "J1", consistent)
        kinds = Counter(item.kind for item in careful)
        assert kinds == Counter({"pair": 3, "repeat": 1, "gold": 1})
        repeat = next(i for i in careful if i.kind == "repeat")
        first = next(i for i in careful if i.kind == "pair" and i.pair.first == repeat.pair.second)
        assert repeat.slot > first.slot  # shown again later, sides swapped
        judge_through(server.app, "J2", lambda item: "tie" if item.kind == "gold" else consistent(item))  # misses gold
        judge_through(server.app, "J3", consistent)
    finally:
        server.close()
    capsys.readouterr()
    votes_file = tmp_path / "jstudy" / "votes.jsonl"
    assert main(["leaderboard", str(served_run_template), "--human-votes", str(votes_file), "--bootstrap", "100"]) == 0
    out = capsys.readouterr().out
    assert "failed gold pairs (fewer than 100% right): 5 votes from 1 raters" in out
    assert "gold pair (an attention check, never rated): 2 votes" in out
    assert "repeated pair (a consistency check, never rated): 2 votes" in out
    assert "Krippendorff's alpha (ordinal) 1.000 over 3 pairs judged by two or more of 2 raters" in out
    assert main(["study", "export", str(tmp_path / "jstudy")]) == 0
    exported = pd.read_parquet(tmp_path / "jstudy" / "export" / "votes.parquet")
    assert exported["rated"].sum() == 6 and set(exported.loc[exported["item"] == "gold", "correct"]) == {True, False}
    assert len(pd.read_parquet(tmp_path / "jstudy" / "export" / "labels.parquet")) == 15
    stored = pd.DataFrame([json.loads(line) for line in votes_file.read_text().splitlines()])
    assert set(stored["participant"]) == {"J1", "J2", "J3"} and stored["seconds"].ge(0).all()
    gold = stored[stored["item"] == "gold"]
    assert gold["match_a"].str.startswith("gold-walk-away:").sum() + gold["match_b"].str.startswith(
        "gold-walk-away:").sum() == 3


def test_the_sensing_benchmark_scores_sensors_against_peoples_labels(tmp_path, capsys):
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    from sensing import people_labels, people_report, to_ekman

    assert (to_ekman("annoyance"), to_ekman("none"), to_ekman("joy")) == ("anger", "neutral", "joy")
    rows = []
    for rater, labels in (("r1", ["anger", "joy", "fear"]), ("r2", ["annoyance", "joy", "sadness"]),
                          ("r3", ["anger", "none", "fear"])):
        for move, label in enumerate(labels, 1):
            rows.append({"participant": rater, "match_id": "m", "move": move, "label": label, "expressed": "anger",
                         "message": ["I will take this to court. Enough!", "Thank you, that is wonderful news.",
                                     "I am scared we will lose the business."][move - 1]})
    path = tmp_path / "labels.parquet"
    pd.DataFrame(rows).to_parquet(path)
    table, info = people_labels(str(path))
    assert list(table["label"]) == ["anger", "joy", "fear"]  # the majority of three raters, GoEmotions grouped
    assert info["ties"] == 0 and info["shared"] == 3 and 0 < info["alpha"] < 1
    people_report(str(path), [], llm=False)
    out = capsys.readouterr().out
    assert "lexicon (NRC + cues + VADER)" in out and "the emotion the writer meant" in out
    assert "accuracy 0.333" in out.splitlines()[-1]  # the writer meant anger each time; people read it once
