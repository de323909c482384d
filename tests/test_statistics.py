"""What arena compare prints: declared families, interval coverage, test resolution, rating intervals, ranks."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

import leaderboards
from leaderboards.bradley_terry import fit_bradley_terry
from leaderboards.compare import METRICS
from leaderboards.inference import EXACT_UP_TO, FLOOR_MARGIN, sign_flip_test, t_interval

EDGES = {"strong": 0.05, "weak": 0.004, "none": 0.0}


def matches(domains=("credit", "sleep"), scenarios: int = 20, opponents=("o1", "o2", "o3"), repeats: int = 2,
            edges: dict[str, float] = EDGES, seed: int = 0) -> pd.DataFrame:
    """Focal agents against a baseline on shared scenarios, opponents and repeats (utility = shared part +
    the agent's edge + noise), so that A - baseline has a known mean."""
    rng = np.random.default_rng(seed)
    rows = []
    for domain, s, opponent, repeat in itertools.product(domains, range(scenarios), opponents, range(repeats)):
        shared = rng.uniform(0.1, 0.8)
        for agent, edge in {**edges, "base": 0.0}.items():
            u = shared + edge + rng.standard_t(4) * 0.03
            rows.append({"match_id": f"{domain}/s{s}/{agent}__{opponent}/r{repeat}", "domain": domain,
                         "scenario": f"s{s}", "repeat": repeat, "focal_agent": agent, "counterpart_agent": opponent,
                         "agreement": bool(u > 0.2), "rounds": int(8 + 10 * u), "focal_utility": u,
                         "counterpart_utility": 0.5, "focal_savings": u, "counterpart_savings": 0.5, "error": None})
    return pd.DataFrame(rows)


PAIRS = [(a, "base") for a in EDGES]
KEYS = ["agent", "baseline", "role", "metric", "domain", "opponent"]


def primary(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["family"] == "primary"].set_index(KEYS).sort_index()


def test_the_primary_family_does_not_change_with_what_else_is_shown():
    data = matches()
    alone = leaderboards.compare(data, PAIRS, ("utility",))
    everything = leaderboards.compare(data, PAIRS, METRICS, per_opponent=True)
    assert len(everything) > 10 * len(primary(alone))
    pd.testing.assert_frame_equal(primary(alone), primary(everything))
    assert list(primary(alone)["family_size"]) == [len(PAIRS)] * len(PAIRS)
    assert everything.attrs["families"]["primary"] == len(PAIRS) and everything.attrs["comparisons"] == len(PAIRS)
    for family, size in everything.attrs["families"].items():
        part = everything[everything["family"] == family]
        np.testing.assert_allclose(part["p_holm"], leaderboards.holm(part["p"].to_numpy()))  # Holm within it only
        assert len(part) == size
    assert set(everything["family"]) == {"primary", "per-domain", "per-opponent", "secondary-metric",
                                         "secondary-metric per-domain", "secondary-metric per-opponent"}
    # another primary metric is another primary family, of the same size
    other = leaderboards.compare(data, PAIRS, ("utility", "rounds"), primary="rounds")
    assert set(other.loc[other["family"] == "primary", "metric"]) == {"rounds"}


def test_a_comparison_at_the_monte_carlo_floor_is_significant_in_any_family_size():
    data = matches(domains=("credit", "sleep", "rescue", "hospital"), opponents=("o1", "o2"), repeats=1,
                   edges={"strong": 0.2})
    many = [(f"strong{i}", "base") for i in range(40)]
    data = pd.concat([data] + [data[data["focal_agent"] == "strong"].assign(focal_agent=a) for a, _ in many],
                     ignore_index=True)
    table = leaderboards.compare(data, many, ("utility",), per_opponent=True)
    first = primary(table)
    assert (first["clusters"] == 80).all() and (first["significant"]).all()
    for family, part in table.groupby("family"):
        drawn = part[part["flips"] < 2 ** part["clusters"]]
        assert len(part) * FLOOR_MARGIN / (table.attrs["flips"][family] + 1) <= 0.05
        assert (drawn["flips"] <= table.attrs["flips"][family]).all()
    assert table["significant"].all()  # 40 per-domain x 4, 40 per-opponent x 2: every row at the floor survives


def test_a_one_domain_run_prints_each_comparison_once():
    data = matches(domains=("credit",))
    table = leaderboards.compare(data, PAIRS, METRICS)
    assert not table.duplicated(["agent", "baseline", "role", "metric", "opponent"]).any()
    assert set(table["domain"]) == {"credit"} and "per-domain" not in set(table["family"])
    assert table.attrs["families"] == {"primary": 3, "secondary-metric": 12}
    single = leaderboards.compare(data, PAIRS, ("utility",), per_opponent=True)
    assert set(single["family"]) == {"primary", "per-opponent"}
    one_opponent = leaderboards.compare(matches(opponents=("o1",)), PAIRS, ("utility",), per_opponent=True)
    assert "per-opponent" not in set(one_opponent["family"])


def _exact_p(x: np.ndarray) -> float:
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(x))))
    return float(np.mean(np.abs(signs @ x) >= abs(x.sum()) - 1e-12))


def test_few_clusters_get_an_exact_p_and_many_a_valid_sequential_one():
    rng = np.random.default_rng(4)
    x = rng.normal(0.3, 1.0, size=(5, 12))
    p, flips = sign_flip_test(x, 9999, rng)
    assert list(flips) == [2 ** 12] * 5
    np.testing.assert_allclose(p, [_exact_p(row) for row in x])
    padded = np.hstack([x[:1], np.zeros((1, 30))])  # zero totals change nothing: still exact
    assert sign_flip_test(padded, 9999, rng)[0][0] == pytest.approx(p[0])
    # drawn flips: under the null P(p <= alpha) <= alpha, and flips stop early only for large p
    null = rng.standard_t(3, size=(3000, EXACT_UP_TO + 14))
    p, flips = sign_flip_test(null, 9999, np.random.default_rng(1))
    assert 0.04 <= np.mean(p <= 0.05) <= 0.06 and 0.005 <= np.mean(p <= 0.01) <= 0.015
    assert (flips[p < 0.01] == 9999).all() and np.median(flips) < 2000
    strong = rng.normal(3.0, 1.0, size=(2, 40))
    p, flips = sign_flip_test(strong, 99_999, rng)
    assert list(flips) == [99_999] * 2 and np.allclose(p, 1 / 100_000)


def _percentile_bootstrap(sums: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> tuple:
    n = sums.shape[1]
    weights = rng.multinomial(n, np.full(n, 1 / n), size=999).astype(float)
    boot = (sums @ weights.T) / (counts @ weights.T)
    return np.percentile(boot, 2.5, axis=1), np.percentile(boot, 97.5, axis=1)


@pytest.mark.parametrize("shape", ["symmetric", "skewed"])
def test_the_interval_covers_95_percent_at_20_clusters(shape):
    rng = np.random.default_rng(7)
    datasets, clusters, pairs = 4000, 20, 12
    spread = rng.gamma(2.0, 0.5, size=(datasets, clusters, 1))
    noise = rng.standard_t(3, size=(datasets, clusters, pairs)) / np.sqrt(3) if shape == "symmetric" else \
        rng.exponential(1.0, size=(datasets, clusters, pairs)) - 1.0
    truth = 0.01
    sums, counts = (truth + 0.05 * spread * noise).sum(-1), np.full((datasets, clusters), float(pairs))
    interval = t_interval(sums, counts, np.zeros(clusters))
    coverage = np.mean((interval.lower <= truth) & (truth <= interval.upper))
    assert 0.93 <= coverage <= 0.97, coverage
    low, high = _percentile_bootstrap(sums, counts, rng)  # the simulation does catch the old interval
    assert np.mean((low <= truth) & (truth <= high)) < 0.93
    # and compare prints exactly this interval
    units = pd.DataFrame({"domain": "credit", "scenario": np.repeat(np.arange(clusters), pairs),
                          "d_a": (sums[0, :, None] / pairs + np.zeros(pairs)).ravel(), "d_b": 0.0})
    from leaderboards.compare import Clustered
    clustered = Clustered.of_metrics(units, ("d",))["d"]
    again = t_interval(clustered.sums, clustered.counts, clustered.strata)
    assert again.lower == pytest.approx(interval.lower[0]) and again.upper == pytest.approx(interval.upper[0])


def test_compare_shows_n_a_where_the_data_cannot_support_an_interval():
    data = matches(domains=("credit",), scenarios=12, edges={"same": 0.0})
    data.loc[data["focal_agent"] == "same", "focal_utility"] = \
        data.loc[data["focal_agent"] == "base", "focal_utility"].to_numpy() + 0.02  # exactly +0.02 everywhere
    row = leaderboards.compare(data, [("same", "base")], ("utility",)).iloc[0]
    assert row["difference"] == pytest.approx(0.02) and np.isnan(row["lower"]) and np.isnan(row["upper"])
    assert row["p"] == pytest.approx(2 / 2 ** 12) and row["flips"] == 2 ** 12 and row["significant"]


def battles(strengths: dict[str, float], n: int, clusters: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = list(strengths)
    a = rng.integers(0, len(names), n)
    b = (a + rng.integers(1, len(names), n)) % len(names)
    s = np.array([strengths[x] for x in names])
    score = (rng.random(n) < 1 / (1 + np.exp(-(s[a] - s[b])))).astype(float)
    return pd.DataFrame({"a": np.array(names)[a], "b": np.array(names)[b], "score": score, "group": "focal",
                         "cluster": [f"c{c}" for c in rng.integers(0, clusters, n)], "order": np.arange(n).astype(str),
                         "domain": "credit"})


def test_separated_agents_get_no_rating_and_others_keep_theirs():
    fights = battles({"x": 0.0, "y": 0.5, "z": -0.5}, 900, 30, seed=1)
    plain = fit_bradley_terry(fights, 200).table.set_index("agent")
    champion = pd.concat([fights, pd.DataFrame({"a": "champ", "b": ["x", "y", "z"] * 20, "score": 1.0, "group": "focal",
                                                "cluster": [f"c{i % 30}" for i in range(60)], "order": "o",
                                                "domain": "credit"})], ignore_index=True)
    result = fit_bradley_terry(champion, 200)
    table = result.table.set_index("agent")
    assert np.isnan(table.loc["champ", ["rating", "lower", "upper"]].astype(float)).all()
    assert table.loc["champ", "rank"] == 1 and (table.drop("champ")["rank"] > 1).all()
    assert any("champ" in n and "won every battle" in n for n in result.notes)
    gaps = table.loc[["x", "y", "z"], "rating"] - plain.loc[["x", "y", "z"], "rating"]
    assert np.ptp(gaps.to_numpy(float)) < 5  # the others' relative ratings do not move


@pytest.mark.parametrize("seed", range(6))
def test_a_printed_interval_is_never_zero_wide_and_always_holds_its_rating(seed):
    table = fit_bradley_terry(battles({"p": 1.5, "q": 0.0, "r": -1.5, "s": 0.2}, 40 + 20 * seed, 3 + seed, seed),
                              200, seed=seed).table
    shown = table.dropna(subset=["lower"])
    assert (shown["lower"] < shown["rating"]).all() and (shown["rating"] < shown["upper"]).all()
    champions = int((table["rating"].isna() & (table["rank"] == 1)).sum())
    for _, row in shown.iterrows():  # the rank rule, as the note states it
        assert row["rank"] == 1 + champions + int((shown["lower"] > row["upper"]).sum())


def test_every_table_with_ranks_states_its_rank_rule():
    data = matches(domains=("credit",))
    for method in ("bt", "elo"):
        notes = " ".join(leaderboards.leaderboard(data, method=method, bootstrap=100).attrs["notes"])
        assert "rank = " in notes
    votes = pd.DataFrame({"vote_id": [f"v{i}" for i in range(30)], "person": "p1", "domain": "credit",
                          "scenario": [f"s{i % 10}" for i in range(30)], "role": "focal", "opponent": "o1",
                          "agent_a": "strong", "agent_b": "none", "outcome": ["a", "b", "tie"] * 10,
                          "persuasive": "a"})
    assert any("rank = 1 + the number of agents" in n for n in leaderboards.vote_leaderboard(votes, 200).attrs["notes"])


def test_compare_and_sensitivity_share_the_primary_family(tmp_path, capsys, monkeypatch):
    from arena import analysis
    from arena.cli import main

    run = tmp_path / "run"
    assert main(["tournament", "--agents", "vanilla,fixed-emotion,random-emotion,victim,cheating", "--domains",
                 "credit,sleep", "--scenarios", "6", "--workers", "0", "--quiet", "--out", str(run)]) == 0
    monkeypatch.setattr(analysis, "replay_under", lambda spec, run, choice, workers: analysis.load_matches(run))
    capsys.readouterr()
    assert main(["compare", str(run), "--baseline", "vanilla", "--per-opponent", "--format", "json"]) == 0
    compared = pd.DataFrame(json.loads(capsys.readouterr().out)["rows"])
    assert main(["sensitivity", str(run), "--format", "json"]) == 0
    out = capsys.readouterr().out
    replayed = pd.DataFrame(json.loads(out[out.index("["):]))
    left, right = primary(compared), primary(replayed)
    assert len(left) == 4 and list(left.index) == list(right.index)
    np.testing.assert_allclose(left["p_holm"], right["p_holm"], rtol=1e-12)
    assert list(left["significant"]) == list(right["significant"])
