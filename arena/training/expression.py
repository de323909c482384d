"""EmoDistill stage 3: expression-policy data (SFT and JPO JSONL) and an Ollama Modelfile for an adapter."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from agents.base import Observation, ScenarioView, Turn
from agents.emodistill import episode_rewards
from agents.speaking import dialogue_prompt, system_prompt
from agents.texts import emotion_style
from arena.training.dataset import sweep_episodes
from envs import DEFAULT_TAXONOMY, FOCAL


def emotion_prompt(view: ScenarioView, history: list[Turn], turn: int, emotion: str) -> list[dict[str, str]]:
    """The emotion-conditioned prompt for one focal turn, as the agent would send it."""
    mine = [t.value for t in history if t.kind == FOCAL and t.move == "offer"]
    theirs = [t.value for t in history if t.kind != FOCAL and t.move == "offer"]
    obs = Observation(turn, view.max_messages - turn, theirs[-1] if theirs else None, mine[-1] if mine else None,
                      history[-1].message if history else "", tuple(history))
    guidance = f"Express {emotion}: {emotion_style(emotion)}"
    return [{"role": "system", "content": system_prompt(view, emotions=(emotion,))},
            {"role": "user", "content": dialogue_prompt(view, obs, guidance)}]


def focal_turns(run: Path, domain: str) -> Iterator[dict[str, Any]]:
    """Every focal turn of a sweep: prompt, utterance, step reward and episode return."""
    for ep in sweep_episodes(run, domain):
        rewards = episode_rewards(ep.true_frame, ep.moves, ep.agreement, ep.max_messages)
        view = ScenarioView.of(ep.scenario, FOCAL, ep.max_messages, DEFAULT_TAXONOMY)
        transcript = ep.transcript
        history = [Turn(m["role"], m["move"], m["value"], m["message"]) for m in transcript]
        focal_index = [i for i, m in enumerate(transcript) if m["role"] == FOCAL]
        for t, i in enumerate(focal_index):
            yield {"match_id": ep.match_id, "scenario": ep.scenario.id, "turn": i, "emotion": transcript[i]["emotion"],
                   "messages": emotion_prompt(view, history[:i], i, transcript[i]["emotion"]),
                   "utterance": transcript[i]["message"], "step_reward": rewards.step_rewards[t],
                   "episode_return": rewards.total}


def export_sft(turns: list[dict[str, Any]], path: Path, top_fraction: float = 0.25) -> int:
    """Chat-format JSONL of the turns whose hybrid score q = r_t + 0.5 R(tau) is in the top fraction."""
    if not turns:
        path.write_text("")
        return 0
    q = np.array([t["step_reward"] + 0.5 * t["episode_return"] for t in turns])
    cutoff = np.quantile(q, 1.0 - top_fraction)
    kept = 0
    with open(path, "w", encoding="utf-8") as f:
        for turn, score in zip(turns, q):
            if score >= cutoff:
                record = {"messages": turn["messages"] + [{"role": "assistant", "content": turn["utterance"]}],
                          "emotion": turn["emotion"], "q": round(float(score), 6), "match_id": turn["match_id"]}
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                kept += 1
    return kept


def export_jpo(turns: list[dict[str, Any]], path: Path) -> int:
    """Prompt, response and per-turn advantage normalised within each scenario (clipped to +-10)."""
    frame = pd.DataFrame({"scenario": [t["scenario"] for t in turns], "r": [t["step_reward"] for t in turns]})
    stats = frame.groupby("scenario")["r"].agg(["mean", "std"]).fillna(0.0)
    with open(path, "w", encoding="utf-8") as f:
        for turn in turns:
            mean, std = stats.loc[turn["scenario"]]
            advantage = float(np.clip((turn["step_reward"] - mean) / max(std, 1e-6), -10, 10))
            f.write(json.dumps({"prompt": turn["messages"], "response": turn["utterance"], "advantage": advantage,
                                "scenario": turn["scenario"], "emotion": turn["emotion"]}, ensure_ascii=False) + "\n")
    return len(turns)


def modelfile(base: str, adapter_dir: str, temperature: float = 0.7) -> str:
    """An Ollama Modelfile serving a LoRA adapter on its base model."""
    return (f"# Serve an EmoDistill expression adapter: ollama create emodistill-expression -f Modelfile\n"
            f"# ADAPTER must point at the folder holding adapter_config.json, and FROM at the base it was tuned on.\n"
            f"FROM {base}\nADAPTER {adapter_dir}\nPARAMETER temperature {temperature}\n")
