"""EmoDistill stage 1: the random-emotion sweep (through the tournament runner) and its transitions."""
from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from agents import AgentSpec
from agents.emodistill import STATE_DIM, GapFrame, episode_rewards, observable_frame, state_features
from agents.emodistill.rewards import TERMINAL_REWARD
from agents.emodistill.features import EMOTION_INDEX, FEATURE_NAMES
from agents.llm import BackendSpec
from arena.runner import run_tournament
from arena.spec import TournamentSpec
from arena.storage import load_transcripts
from envs import DEFAULT_MAX_MESSAGES, GOEMOTIONS_28, Scenario, load_scenarios

COUNTERPARTS = ("vanilla-counterpart", "cheating", "threatening", "victim")


def sweep_spec(domain: str, rollouts: int, seed: int, workers: int, backend: BackendSpec,
               max_messages: int = 30) -> TournamentSpec:
    """A uniformly random GoEmotions-28 focal agent against every counterpart persona, on the 80
    training scenarios, ``rollouts`` episodes per scenario in all."""
    repeats = math.ceil(rollouts / len(COUNTERPARTS))
    agents = [AgentSpec("random-emotion", {"taxonomy": "goemotions-28"}, backend)]
    agents += [AgentSpec(name, {}, backend) for name in COUNTERPARTS]
    return TournamentSpec(agents=agents, domains=[domain], split="train", repeats=repeats, seed=seed,
                          max_messages=max_messages, workers=workers).validate()


def run_sweep(domain: str, out: Path, rollouts: int = 100, seed: int = 0, workers: int = 2,
              backend: BackendSpec | None = None, on_result: Callable | None = None,
              on_start: Callable | None = None) -> pd.DataFrame:
    spec = sweep_spec(domain, rollouts, seed, workers, backend or BackendSpec())
    return run_tournament(spec, out, on_result=on_result, on_start=on_start)


@dataclass(frozen=True)
class SweepEpisode:
    """One finished sweep episode with what both the transition and the export stages need."""

    match_id: str
    scenario: Scenario
    transcript: list[dict[str, Any]]
    agreement: bool
    max_messages: int

    @property
    def moves(self) -> list[tuple[str, str, int | None]]:
        return [(m["role"], m["move"], m["value"]) for m in self.transcript]

    @property
    def true_frame(self) -> GapFrame:
        """Gap coordinates from both real targets (rewards may use hindsight; states may not)."""
        return GapFrame(self.scenario.target["focal"], self.scenario.target["counterpart"])


def sweep_episodes(run: Path, domain: str) -> Iterator[SweepEpisode]:
    """The sweep's finished episodes in match-id order (errored matches are left out)."""
    matches = pd.read_parquet(run / "matches.parquet")
    matches = matches[matches["error"].isna()].sort_values("match_id")
    transcripts = load_transcripts(run)
    scenarios = {s.id: s for s in load_scenarios(domain, "all")}
    max_messages = int(spec_value(run, "max_messages", DEFAULT_MAX_MESSAGES))
    for row in matches.itertuples(index=False):
        yield SweepEpisode(row.match_id, scenarios[row.scenario], transcripts[row.match_id], bool(row.agreement),
                           max_messages)


def episode_transitions(moves: list[tuple[str, str, int | None]], emotions: list[str], true_frame: GapFrame,
                        focal_target: int, agreement: bool, max_messages: int) -> dict[str, Any]:
    """States, actions, rewards, next states and done flags for the focal turns of one episode."""
    focal_turns = [i for i, (kind, _, _) in enumerate(moves) if kind == "focal"]
    rewards = episode_rewards(true_frame, moves, agreement, max_messages)
    states = []
    for n, i in enumerate(focal_turns):
        previous = emotions[focal_turns[n - 1]] if n else None
        states.append(state_features(observable_frame(focal_target, moves[:i]), moves[:i], i, max_messages, previous))
    zeros = np.zeros(STATE_DIM, dtype=np.float32)
    terminal = [0.0] * len(focal_turns)
    if terminal:
        terminal[-1] = TERMINAL_REWARD if agreement else -TERMINAL_REWARD
    return {"states": states, "actions": [EMOTION_INDEX[emotions[i]] for i in focal_turns],
            "rewards": rewards.step_rewards, "next_states": states[1:] + [zeros],
            "dones": [False] * (len(focal_turns) - 1) + [True], "terminals": terminal, "return": rewards.total}


def build_transitions(run: Path, domain: str) -> dict[str, np.ndarray]:
    """Every focal turn of every finished sweep episode as one transition."""
    columns: dict[str, list] = {k: [] for k in ("states", "actions", "rewards", "next_states", "dones", "terminals",
                                                "episode_ids", "step_ids", "scenario_ids", "returns")}
    for episode, sweep in enumerate(sweep_episodes(run, domain)):
        s = sweep.scenario
        ep = episode_transitions(sweep.moves, [m["emotion"] for m in sweep.transcript], sweep.true_frame,
                                 s.target["focal"], sweep.agreement, sweep.max_messages)
        n = len(ep["actions"])
        for key in ("states", "actions", "rewards", "next_states", "dones", "terminals"):
            columns[key].extend(ep[key])
        columns["episode_ids"].extend([episode] * n)
        columns["step_ids"].extend(range(n))
        columns["scenario_ids"].extend([s.index] * n)
        columns["returns"].extend([ep["return"]] * n)
    return {"states": np.asarray(columns["states"], np.float32), "actions": np.asarray(columns["actions"], np.int64),
            "rewards": np.asarray(columns["rewards"], np.float32),
            "next_states": np.asarray(columns["next_states"], np.float32),
            "dones": np.asarray(columns["dones"], np.float32),
            "terminals": np.asarray(columns["terminals"], np.float32), "episode_ids": np.asarray(columns["episode_ids"]),
            "step_ids": np.asarray(columns["step_ids"]), "scenario_ids": np.asarray(columns["scenario_ids"]),
            "returns": np.asarray(columns["returns"], np.float32)}


def spec_value(run: Path, key: str, default: Any) -> Any:
    """A setting from the run's saved ``tournament.toml``."""
    path = run / "tournament.toml"
    return tomllib.loads(path.read_text()).get(key, default) if path.exists() else default


def save_transitions(data: dict[str, np.ndarray], path: Path, domain: str) -> dict[str, Any]:
    """NPZ plus a metadata JSON beside it."""
    np.savez_compressed(path, **data)
    meta = {"domain": domain, "taxonomy": "goemotions-28", "labels": list(GOEMOTIONS_28), "state_dim": STATE_DIM,
            "feature_names": list(FEATURE_NAMES), "transitions": int(len(data["actions"])),
            "episodes": int(len(set(data["episode_ids"].tolist()))),
            "mean_return": float(np.mean(data["returns"])) if len(data["returns"]) else 0.0}
    path.with_suffix(".meta.json").write_text(json.dumps(meta, indent=2))
    return meta


def load_transitions(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}
