"""Blind pairwise judging of transcripts: which pairs may be judged, and the durable vote log."""
from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import leaderboards
from leaderboards.votes import VOTE_COLUMNS
from arena.schedule import derive_seed

VOTES = "votes.jsonl"
ANSWERS = ("a", "b", "tie")


@dataclass(frozen=True)
class JudgePair:
    """Two matches of one run in which two agents played the same role against the same opponent on
    the same scenario and repeat; ``first``/``second`` is the order the judge sees them in."""

    run: str
    first: str
    second: str
    agent_first: str
    agent_second: str
    role: str
    domain: str
    scenario: str
    opponent: str
    pair_seed: int


def candidate_pairs(matches: pd.DataFrame) -> pd.DataFrame:
    """Every judgeable pair of finished matches (the same pairs the same-role ratings compare), with
    the two match ids, the scenario and the opponent both faced."""
    pairs = leaderboards.same_role(matches)
    if pairs.empty:
        return pairs
    ids = pairs["order"].str.split("|", expand=True)
    first = matches.set_index("match_id").loc[ids[0]]
    opponent = np.where(pairs["group"].to_numpy() == "focal", first["counterpart_agent"], first["focal_agent"])
    return pairs.assign(match_a=ids[0], match_b=ids[1], scenario=first["scenario"].to_numpy(),
                        opponent=opponent).reset_index(drop=True)


def pick_pair(run: str, pairs: pd.DataFrame, pair_seed: int | None = None) -> JudgePair | None:
    """A pair of ``pairs`` (see candidate_pairs) drawn with ``pair_seed`` (recorded with the vote),
    shown in a drawn order; None if there is none."""
    if pairs.empty:
        return None
    pair_seed = secrets.randbits(31) if pair_seed is None else pair_seed
    rng = np.random.default_rng(derive_seed(pair_seed, "judge"))
    row = pairs.iloc[int(rng.integers(len(pairs)))]
    first, second = (row["match_a"], row["a"]), (row["match_b"], row["b"])
    if rng.random() < 0.5:
        first, second = second, first
    return JudgePair(run, first[0], second[0], first[1], second[1], row["group"], row["domain"], row["scenario"],
                     row["opponent"], pair_seed)


def vote_record(pair: JudgePair, person: str, outcome: str, persuasive: str | None) -> dict[str, Any]:
    """The vote as stored: answers in the shown order turned into agent_a (shown first) and agent_b."""
    if outcome not in ANSWERS:
        raise ValueError(f"say which negotiator did better for its side: {', '.join(ANSWERS)}")
    if persuasive not in (None, "", *ANSWERS):
        raise ValueError(f"persuasive must be one of {', '.join(ANSWERS)} or left out")
    return {"vote_id": secrets.token_hex(8), "time": time.time(), "person": person, "run": pair.run,
            "domain": pair.domain, "scenario": pair.scenario, "role": pair.role, "opponent": pair.opponent,
            "match_a": pair.first, "match_b": pair.second, "agent_a": pair.agent_first, "agent_b": pair.agent_second,
            "outcome": outcome, "persuasive": persuasive or None, "pair_seed": pair.pair_seed}


def append_vote(run_dir: str | Path, vote: dict[str, Any]) -> None:
    """Append one vote to ``RUN/votes.jsonl`` and make it durable before returning (one writer at a time)."""
    with open(Path(run_dir) / VOTES, "a", encoding="utf-8") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        log.write(json.dumps(vote, ensure_ascii=False) + "\n")
        log.flush()
        os.fsync(log.fileno())


def load_votes(path: str | Path) -> pd.DataFrame:
    """The votes of ``path`` (a run directory or a votes file); a line cut short by a kill is skipped."""
    path = Path(path)
    if path.is_dir():
        path = path / VOTES
    if not path.is_file():
        raise FileNotFoundError(f"no votes at {path}: people vote on the Judge page of arena serve")
    rows = []
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=[*VOTE_COLUMNS, "match_a", "match_b", "pair_seed"])
