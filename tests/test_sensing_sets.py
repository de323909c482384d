"""The sensor's two evaluation sets: the held-out one is large, balanced and covers the hard kinds;
the benchmark's per-label recall is what it says."""
from __future__ import annotations

import collections
import csv
from importlib import resources

from envs import EKMAN_7


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(resources.files("agents").joinpath(f"data/{name}").read_text("utf-8").splitlines()))


def test_heldout_set_is_large_balanced_and_covers_the_hard_kinds():
    rows = _rows("sensing_heldout.csv")
    assert len(rows) >= 140
    labels = collections.Counter(r["label"] for r in rows)
    assert set(labels) == set(EKMAN_7) and min(labels.values()) >= 20
    kinds = collections.Counter(r["kind"] for r in rows)
    for kind in ("threat", "ultimatum", "pleading", "sarcasm", "negation", "persona line"):
        assert kinds[kind] >= 3, kind
    original = {r["text"] for r in _rows("sensing_eval.csv")}
    assert not original & {r["text"] for r in rows}  # no utterance shared with the tuned set


def test_per_label_recall():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    from sensing import recall

    truth = ["anger", "anger", "joy", "neutral"]
    got = recall(truth, ["anger", "joy", "joy", "anger"])
    assert got["anger"] == 0.5 and got["joy"] == 1.0 and got["neutral"] == 0.0 and got["fear"] == 0.0
