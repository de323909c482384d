"""Leaderboards: Bradley-Terry correctness (vs choix), role advantage, Elo, bootstrap coverage, metrics, plots."""
from __future__ import annotations

import ast
from pathlib import Path

import choix
import numpy as np
import pandas as pd
import pytest

import leaderboards
from leaderboards.bradley_terry import ELO_SCALE, fit_bradley_terry, interval_ranks

STRENGTHS = np.array([1.2, 0.6, 0.0, -0.4, -1.4])  # natural-log scale
NAMES = [f"agent{i}" for i in range(len(STRENGTHS))]


def synthetic(n: int, seed: int, advantage: float = 0.0, ties: bool = False, clusters: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(NAMES), n)
    b = (a + rng.integers(1, len(NAMES), n)) % len(NAMES)
    p = 1 / (1 + np.exp(-(STRENGTHS[a] - STRENGTHS[b] + advantage)))
    u = rng.random(n)
    score = (u < p).astype(float)
    if ties:
        score = np.where(np.abs(u - p) < 0.1, 0.5, score)
    return pd.DataFrame({"a": np.array(NAMES)[a], "b": np.array(NAMES)[b], "score": score, "group": "credit",
                         "cluster": [f"s{c}" for c in rng.integers(0, clusters, n)], "order": np.arange(n).astype(str)})


def test_bt_recovers_the_true_order_and_agrees_with_choix():
    battles = synthetic(6000, seed=1)
    table = fit_bradley_terry(battles, bootstrap=0, role_advantage=False).table.set_index("agent")
    ours = (table.loc[NAMES, "rating"].to_numpy() - 1000) / ELO_SCALE
    assert list(np.argsort(-ours)) == list(range(len(NAMES)))
    index = {n: i for i, n in enumerate(NAMES)}
    pairs = [(index[w], index[l]) for w, l in zip(np.where(battles.score == 1, battles.a, battles.b),
                                                    np.where(battles.score == 1, battles.b, battles.a))]
    theirs = choix.opt_pairwise(len(NAMES), pairs, alpha=1e-4)
    theirs = theirs - theirs.mean()
    assert np.allclose(ours, theirs, atol=0.02)
    assert np.allclose(ours, STRENGTHS - STRENGTHS.mean(), atol=0.15)


def test_bt_recovers_a_known_role_advantage_with_ties():
    battles = synthetic(20000, seed=2, advantage=0.5, ties=True)
    result = fit_bradley_terry(battles, bootstrap=0, role_advantage=True)
    advantage = result.advantages.set_index("group").loc["credit", "advantage"] / ELO_SCALE
    assert advantage == pytest.approx(0.5, abs=0.12)
    order = result.table.sort_values("rating", ascending=False)["agent"].tolist()
    assert order == NAMES


def test_bootstrap_interval_covers_the_truth_in_most_trials():
    covered = 0
    trials = 20
    for seed in range(trials):
        battles = synthetic(1500, seed=100 + seed, clusters=40)
        table = fit_bradley_terry(battles, bootstrap=200, seed=seed, role_advantage=False).table.set_index("agent")
        truth = 1000 + ELO_SCALE * (STRENGTHS - STRENGTHS.mean())
        covered += np.mean((table.loc[NAMES, "lower"].to_numpy() <= truth) & (truth <= table.loc[NAMES, "upper"].to_numpy()))
    assert covered / trials >= 0.85


def test_interval_ranks_respect_overlaps():
    ranks = interval_ranks(np.array([1100.0, 1080.0, 900.0]), np.array([1200.0, 1150.0, 1000.0]))
    assert list(ranks) == [1, 1, 3]


def test_elo_is_zero_sum_per_battle_and_order_dependent():
    battles = synthetic(400, seed=3)
    table, trajectory = leaderboards.online_elo(battles, k=16)
    assert table["rating"].sum() == pytest.approx(1000 * len(table))
    assert trajectory["step"].nunique() == len(battles)
    ratings = {n: 1000.0 for n in NAMES}
    for step, rows in trajectory.groupby("step"):
        old = sum(ratings[a] for a in rows["agent"])
        for agent, rating in zip(rows["agent"], rows["rating"]):
            ratings[agent] = rating
        assert sum(ratings[a] for a in rows["agent"]) == pytest.approx(old)
    shuffled, _ = leaderboards.online_elo(battles, k=16, shuffle_seed=1)
    assert not np.allclose(table.set_index("agent").loc[NAMES, "rating"], shuffled.set_index("agent").loc[NAMES, "rating"])


def _matches() -> pd.DataFrame:
    rows = []
    for i, (focal, counter, u_f, u_c, agree) in enumerate([
            ("eq", "victim", 0.8, 0.1, True), ("eq", "victim", 0.0, 0.0, False), ("vanilla", "victim", 0.2, 0.5, True),
            ("vanilla", "victim", 0.3, 0.3, True), ("eq", "threat", 0.1, 0.6, True), ("vanilla", "threat", 0.5, 0.2, True)]):
        rows.append({"match_id": f"m{i}", "domain": "credit", "scenario": f"s{i % 2}", "repeat": 0,
                     "focal_agent": focal, "counterpart_agent": counter, "focal_role": "creditor",
                     "counterpart_role": "debtor", "agreement": agree, "value": 30 if agree else None, "rounds": 6 + i,
                     "focal_utility": u_f, "counterpart_utility": u_c, "focal_savings": 0.6 if agree else None,
                     "counterpart_savings": 0.4 if agree else None, "social_welfare": u_f + u_c, "nash_distance": 0.1,
                     "focal_malformed": 1, "focal_requests": 4, "counterpart_malformed": 0, "counterpart_requests": 0,
                     "error": None})
    rows.append(dict(rows[0], match_id="m9", error="RuntimeError: boom", focal_utility=None, counterpart_utility=None))
    return pd.DataFrame(rows)


def test_battle_views_margin_breakdown_and_errors():
    m = _matches()
    h2h = leaderboards.head_to_head(m)
    assert len(h2h) == 6 and list(h2h["score"]) == [1.0, 0.5, 0.0, 0.5, 0.0, 1.0]
    same = leaderboards.same_role(m)
    focal = same[same["group"] == "focal"]
    assert {(a, b) for a, b in zip(focal["a"], focal["b"])} == {("eq", "vanilla")}
    # pairs only on the same scenario and opponent: victim on s0 and s1 (the threat matches differ in scenario)
    assert list(focal["cluster"]) == ["credit/s0", "credit/s1"] and list(focal["score"]) == [1.0, 0.0]
    board = leaderboards.leaderboard(m, bootstrap=100)
    assert board.attrs["errored_excluded"] == 1 and set(board["agent"]) == {"eq", "vanilla", "victim", "threat"}


def test_metrics_table():
    table = leaderboards.metrics_table(_matches()).set_index(["agent", "role"])
    eq = table.loc[("eq", "focal")]
    assert eq["matches"] == 3 and eq["errors"] == 1
    assert eq["agreement_rate"] == pytest.approx(2 / 3)
    assert eq["emodistill_utility"] == pytest.approx(2 / 3 * 0.6)
    assert eq["malformed_rate"] == pytest.approx(0.25)


def test_report_writes_plots_and_tables(tmp_path):
    paths = leaderboards.write_report(_matches(), tmp_path, bootstrap=100)
    names = {p.name for p in paths}
    for stem in ("ratings_focal", "ratings_counterpart", "win_rates", "utilities", "elo_trajectories"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names and (tmp_path / f"{stem}.png").stat().st_size > 5000


def test_leaderboards_imports_nothing_else_of_ours():
    ours = {"envs", "agents", "arena"}
    for path in Path(leaderboards.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] in ours for n in names), (path, names)


def test_ratings_per_role_use_the_same_role_view():
    m = _matches()
    per_role = leaderboards.leaderboard(m, view="same-role", by="role", bootstrap=100)
    focal = per_role[per_role["role"] == "focal"]
    assert set(per_role["role"]) == {"focal", "counterpart"} and set(focal["agent"]) == {"eq", "vanilla"}
    with pytest.raises(ValueError, match="same-role"):
        leaderboards.leaderboard(m, view="head-to-head", by="role")
    with pytest.raises(ValueError, match="unknown grouping"):
        leaderboards.leaderboard(m, by="planet")


def test_fallback_share_counts_fallbacks_and_guard_rewrites_per_move():
    rows = [{"match_id": "m0", "domain": "credit", "focal_agent": "llm", "counterpart_agent": "s", "rounds": 5,
             "focal_fallbacks": 1, "focal_redactions": 1, "counterpart_clamped_offers": 5, "error": None},
            {"match_id": "m1", "domain": "sleep", "focal_agent": "llm", "counterpart_agent": "s", "rounds": 4,
             "focal_fallbacks": 0, "focal_redactions": 0, "counterpart_clamped_offers": 0, "error": None},
            {"match_id": "m2", "domain": "sleep", "focal_agent": "llm", "counterpart_agent": "s", "rounds": None,
             "focal_fallbacks": 9, "focal_redactions": 0, "counterpart_clamped_offers": 0, "error": "boom"}]
    shares = leaderboards.fallback_share(pd.DataFrame(rows)).set_index(["agent", "role", "domain"])["fallback_share"]
    # focal moves first: 3 + 2 moves, 2 rewritten; the counterpart's 5 clamps in 2 moves count as 2; errors left out
    assert shares[("llm", "focal", "all")] == pytest.approx(2 / 5) and shares[("llm", "focal", "sleep")] == 0
    assert shares[("s", "counterpart", "all")] == pytest.approx(2 / 4) and shares[("s", "both", "credit")] == 1.0
    assert leaderboards.fallback_warning(pd.DataFrame(rows)).startswith(
        "warning: more than 20% of the moves of s as counterpart (50%), llm as focal (40%)")


def test_basis_of_a_table_without_backend_columns_and_its_labels():
    m = _matches()
    basis = leaderboards.run_basis(m)
    assert basis.caption() == ("basis: focal unrecorded; counterpart unrecorded; response model: none (no scripted "
                               "counterpart follows one)")
    labelled = basis.annotate(leaderboards.metrics_table(m))
    assert set(leaderboards.LABEL_COLUMNS) <= set(labelled) and (labelled["fallback_share"] == 0).all()
    mixed = m.assign(focal_backend="llama-cpp", focal_model="/models/SmolLM2-360M.Q8_0.gguf",
                     counterpart_backend="scripted", counterpart_model="", response_model="/home/me/mild.toml")
    assert leaderboards.basis_caption(mixed).startswith(
        "basis: focal llama-cpp SmolLM2-360M.Q8_0.gguf; counterpart scripted; response model 'mild.toml': ")


def test_error_reasons_lose_terminal_escape_codes():
    raw = "RayTaskError(ValueError): \x1b[36mray::run_session()\x1b[39m (pid=1)\n  \x1b]8;;http://x\x07link\x1b]8;;\x07"
    assert leaderboards.clean_reason(raw) == "RayTaskError(ValueError): ray::run_session() (pid=1) link"
    assert leaderboards.clean_reason(None) == "" and leaderboards.clean_reason(float("nan")) == ""
