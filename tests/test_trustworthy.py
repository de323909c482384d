"""Trustworthy results: common random numbers, paired comparisons with Holm, per-role leaderboards,
Elo across domains, the response model as a declared assumption, and warnings for thin data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import leaderboards
from agents import AgentSpec
from arena.cli import main
from arena.runner import run_tournament
from arena.spec import TournamentSpec
from leaderboards.elo import online_elo

PERSONAS = ["vanilla-counterpart", "cheating", "threatening", "victim"]
OUTCOME = ["agreement", "value", "rounds", "ended_by", "focal_utility", "counterpart_utility"]


def _run(tmp_path, agents, name="run", **kw) -> pd.DataFrame:
    values = dict(agents=agents, domains=["credit", "sleep"], scenarios=4, repeats=2, workers=0)
    return run_tournament(TournamentSpec(**(values | kw)), tmp_path / name)


def _outcomes(table: pd.DataFrame, agent: str, kind: str = "focal") -> pd.DataFrame:
    other = "counterpart" if kind == "focal" else "focal"
    part = table[table[f"{kind}_agent"] == agent]
    keys = ["domain", "scenario", "repeat", f"{other}_agent"]
    return part.sort_values(keys)[keys + OUTCOME].reset_index(drop=True)


def test_identical_behaviour_under_other_names_gives_identical_outcomes(tmp_path):
    agents = [AgentSpec("fixed-emotion", {"emotion": "neutral"}, label="calm-a"),
              AgentSpec("fixed-emotion", {"emotion": "neutral"}, label="calm-b"),
              AgentSpec("vanilla"), AgentSpec("vanilla", label="vanilla-copy")] + [AgentSpec(p) for p in PERSONAS]
    table = _run(tmp_path, agents)
    # the personas draw random emotions, tactic lines, retractions and walk-aways: outcomes vary
    assert table["ended_by"].nunique() > 1 and table["focal_utility"].nunique() > 5
    a, b = _outcomes(table, "calm-a"), _outcomes(table, "calm-b")
    assert len(a) == 2 * 4 * 2 * 6
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(_outcomes(table, "vanilla"), _outcomes(table, "vanilla-copy"))
    pd.testing.assert_frame_equal(_outcomes(table, "vanilla", "counterpart"),
                                  _outcomes(table, "vanilla-copy", "counterpart"))
    # a neutral fixed-emotion agent is vanilla with another name: same words, same counterpart draws
    vanilla = _outcomes(table, "vanilla")
    assert vanilla.drop(columns="counterpart_agent").equals(a.drop(columns="counterpart_agent"))
    # and the counterpart's own seed never depends on the focal agent
    seeds = table.groupby(["domain", "scenario", "repeat", "counterpart_agent"])["counterpart_seed"].nunique()
    assert (seeds == 1).all()
    compared = leaderboards.compare(table, [("calm-a", "calm-b")], ("utility",))
    assert (compared["difference"] == 0).all() and not compared["significant"].any()


def test_holm_matches_hand_computed_values():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    expected = np.array([0.03, 0.06, 0.06, 0.02, np.nan])
    np.testing.assert_allclose(leaderboards.holm(p), expected)
    np.testing.assert_allclose(leaderboards.holm(np.array([0.5, 0.9])), [1.0, 1.0])


def _synthetic(edge: float, scenarios: int = 20, seed: int = 3) -> pd.DataFrame:
    """Matches of A and B against two opponents; B's utility is A's minus ``edge`` plus pair noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(scenarios):
        base = rng.uniform(0.1, 0.8)
        for opponent in ("o1", "o2"):
            for repeat in range(3):
                shared = base + rng.normal(0, 0.1)
                for agent, shift in (("A", edge), ("B", 0.0)):
                    rows.append({"match_id": f"credit/s{s}/{agent}__{opponent}/r{repeat}", "domain": "credit",
                                 "scenario": f"s{s}", "repeat": repeat, "focal_agent": agent,
                                 "counterpart_agent": opponent, "agreement": True, "rounds": 10,
                                 "focal_utility": shared + shift + rng.normal(0, 0.02),
                                 "counterpart_utility": 0.5, "focal_savings": 0.5, "counterpart_savings": 0.5,
                                 "error": None})
    return pd.DataFrame(rows)


def test_compare_finds_a_planted_effect_and_not_a_null():
    planted = leaderboards.compare(_synthetic(0.03), [("A", "B")], ("utility",), bootstrap=500)
    row = planted[planted["family"] == "primary"].iloc[0]
    assert row["significant"] and row["lower"] > 0 and row["difference"] == pytest.approx(0.03, abs=0.01)
    assert row["pairs"] == 20 * 2 * 3 and row["clusters"] == 20
    # under the null, rejections are rare: at most 2 of 20 seeded datasets
    rejected = sum(leaderboards.compare(_synthetic(0.0, seed=s), [("A", "B")], ("utility",), bootstrap=200,
                                        seed=s)["significant"].any() for s in range(20))
    assert rejected <= 2
    # a swap of A and B flips the sign and nothing else
    swapped = leaderboards.compare(_synthetic(0.03), [("B", "A")], ("utility",), bootstrap=500)
    assert swapped["difference"].iloc[0] == pytest.approx(-row["difference"])


def test_default_leaderboard_ranks_within_each_role_overall_and_per_domain(tmp_path):
    agents = [AgentSpec(a) for a in ("vanilla", "eq-negotiator", "boulware", "victim", "threatening")]
    table = _run(tmp_path, agents, repeats=1)
    board = leaderboards.leaderboard(table, bootstrap=100)
    assert set(board["domain"]) == {"all", "credit", "sleep"} and set(board["view"]) == {"same-role"}
    focal = board[(board["role"] == "focal") & (board["domain"] == "all")]
    counter = board[(board["role"] == "counterpart") & (board["domain"] == "all")]
    assert set(focal["agent"]) == {"vanilla", "eq-negotiator", "boulware"}
    assert set(counter["agent"]) == {"vanilla", "boulware", "victim", "threatening"}
    assert board["agreement_rate"].between(0, 1).all()
    assert any("response model 'default'" in n for n in board.attrs["notes"])
    h2h = leaderboards.leaderboard(table, view="head-to-head", bootstrap=100)
    link = [n for n in h2h.attrs["notes"] if "only through the agents that play both roles" in n]
    assert link and "boulware, vanilla" in link[0]


def test_elo_all_spans_every_domain():
    rows = []
    for i in range(300):  # X beats Y in every credit battle and loses every sleep battle
        rows.append({"a": "X", "b": "Y", "score": 1.0, "group": "focal", "cluster": f"credit/s{i % 20}",
                     "order": f"credit/{i:04d}", "domain": "credit"})
        rows.append({"a": "X", "b": "Y", "score": 0.0, "group": "focal", "cluster": f"sleep/s{i % 20}",
                     "order": f"sleep/{i:04d}", "domain": "sleep"})
    battles = pd.DataFrame(rows)
    overall = online_elo(battles)[0].set_index("agent")["rating"]
    sleep = online_elo(battles[battles["domain"] == "sleep"])[0].set_index("agent")["rating"]
    assert sleep["X"] < 850  # the last domain alone
    assert abs(overall["X"] - overall["Y"]) < 40  # both domains, not the last one


def test_flat_response_model_removes_the_fixed_anger_edge(tmp_path):
    agents = [AgentSpec("vanilla"), AgentSpec("fixed-emotion", {"emotion": "anger"}, label="angry")]
    agents += [AgentSpec(p) for p in PERSONAS]
    results = {}
    for model in ("default", "flat"):
        table = _run(tmp_path, agents, name=model, domains=["credit"], scenarios=12, repeats=1, response_model=model)
        scripted = table["counterpart_agent"].isin(PERSONAS)
        assert set(table.loc[scripted, "response_model"]) == {model} and set(table.loc[~scripted, "response_model"]) == {""}
        assert f'response_model = "{model}"' in (tmp_path / model / "tournament.toml").read_text()
        results[model] = leaderboards.compare(table, [("angry", "vanilla")], ("utility",), bootstrap=500).iloc[0]
    assert results["default"]["significant"] and results["default"]["difference"] > 0.02
    assert results["flat"]["difference"] == 0 and not results["flat"]["significant"]


def test_thin_data_warnings_and_too_few_resamples(tmp_path, capsys):
    thin = leaderboards.compare(_synthetic(0.03, scenarios=3), [("A", "B")], ("utility",))
    assert "fewer than 10 scenario clusters" in " ".join(thin.attrs["warnings"])
    run = tmp_path / "tiny"
    assert main(["tournament", "--agents", "vanilla,victim", "--domains", "credit", "--scenarios", "2",
                 "--workers", "0", "--quiet", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "fewer than 10 scenario clusters" in out and "response model 'default'" in out
    for command in (["leaderboard", str(run)], ["compare", str(run), "--baseline", "vanilla"],
                    ["tournament", "--out", str(tmp_path / "x")]):
        with pytest.raises(SystemExit) as exit_info:
            main(command + ["--bootstrap", "50"])
        assert exit_info.value.code == 2 and "at least 100" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_response_model_choices_and_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[effect]\nrage = 1.0\n")
    code = main(["tournament", "--agents", "vanilla,victim", "--domains", "credit", "--scenarios", "1",
                 "--workers", "0", "--quiet", "--response-model", str(bad), "--out", str(tmp_path / "r")])
    assert code == 2 and "unknown emotions in [effect]: rage" in capsys.readouterr().err
    assert not (tmp_path / "r" / "results.jsonl").exists()
    custom = tmp_path / "mild.toml"
    custom.write_text("min_factor = 0.5\nmax_factor = 1.5\n[effect]\nanger = 0.1\n[susceptibility]\ndefault = 1.0\n")
    from agents.response_model import load_response_model
    assert load_response_model(str(custom)).factor({"anger": 1.0}, "victim") == pytest.approx(1.1)
    assert load_response_model("reversed").factor({"anger": 1.0}, "vanilla-counterpart") < 1.0
    assert load_response_model("flat").factor({"anger": 1.0, "joy": 0.5}, "victim") == 1.0


def test_sensitivity_replays_under_flat_and_reversed(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["tournament", "--agents", "vanilla,fixed-emotion,victim,cheating", "--domains", "credit",
                 "--scenarios", "6", "--workers", "0", "--quiet", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["sensitivity", str(run), "fixed-emotion", "vanilla", "--workers", "0", "--format", "json"]) == 0
    out = capsys.readouterr().out
    rows = pd.read_json(__import__("io").StringIO(out[out.index("["):]))
    overall = rows[rows["family"] == "primary"].iloc[0]
    assert overall["difference"] > 0 and overall["difference_flat"] == 0 and overall["difference_reversed"] < 0
    assert (run / "sensitivity" / "flat" / "matches.parquet").exists()
    flat = pd.read_parquet(run / "sensitivity" / "flat" / "matches.parquet")
    assert set(flat.loc[flat["counterpart_agent"] == "victim", "response_model"]) == {"flat"}
    assert main(["sensitivity", str(run), "--baseline", "nobody"]) == 2
    assert "no agent 'nobody'" in capsys.readouterr().err
