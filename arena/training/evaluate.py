"""After training: the new selector against random-emotion and vanilla, paired, on the test split."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

import leaderboards
from agents import AgentSpec
from arena.runner import run_tournament
from arena.spec import TournamentSpec
from arena.training.dataset import COUNTERPARTS


def evaluate_selector(domain: str, selector: Path, workers: int = 0, repeats: int = 3,
                      response_model: str = "default", temperature: float = 1.0) -> pd.DataFrame:
    """Paired differences EmoDistill - random-emotion and - vanilla (utility and the EmoDistill
    utility), test split, against the counterpart personas; scripted results follow the response model."""
    agents = [AgentSpec("emodistill", {"selector": str(Path(selector).resolve()), "temperature_emotion": temperature}),
              AgentSpec("random-emotion"), AgentSpec("vanilla")] + [AgentSpec(p) for p in COUNTERPARTS]
    spec = TournamentSpec(agents=agents, domains=[domain], split="test", repeats=repeats, workers=workers,
                          response_model=response_model)
    with tempfile.TemporaryDirectory() as out:
        table = run_tournament(spec, out)
    table = table[table["counterpart_agent"].isin(COUNTERPARTS)]
    result = leaderboards.compare(table, [("emodistill", "random-emotion"), ("emodistill", "vanilla")],
                                  ("utility", "emodistill_utility"), bootstrap=1000)
    shown = result[result["domain"] == domain][["agent", "baseline", "metric", "difference", "lower", "upper", "p_holm"]]
    return shown.assign(response_model=response_model).round(4)
