"""EmoDistill's expression data: focal turns of a sweep, their judge scores, the SFT and JPO JSONL
files, and an Ollama Modelfile for a trained adapter.

The per-turn score r_t is the judge's (``--stage judge``) when the sweep has been judged, else the
outcome step reward (a stand-in, named in the export's output): the SFT filter keeps the top share
by q = r_t + 0.5 R(tau) and the JPO advantage is r_t standardised within its scenario. The
terminal bonus lives in R(tau) only.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from agents.base import Observation, ScenarioView, Turn
from agents.emodistill import episode_rewards
from agents.speaking import dialogue_prompt, system_prompt
from agents.texts import emotion_style
from arena.training.dataset import sweep_episodes
from arena.training.judge import TurnJudge, TurnToJudge
from envs import DEFAULT_TAXONOMY, FOCAL, get_domain


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
                   "episode_return": rewards.total, "move": transcript[i]["move"], "value": transcript[i]["value"],
                   "history": [{k: m[k] for k in ("role", "move", "value", "message")} for m in transcript[:i]],
                   "target": view.target, "reservation": view.reservation,
                   "response": action_text(view, transcript[i])}


def action_text(view: ScenarioView, turn: dict[str, Any]) -> str:
    """The reply a model gives for this turn in play: the action JSON, keys and spacing as the grammar writes them."""
    value = turn["value"] if turn["value"] is not None else view.domain.low  # the schema wants a value on every move
    return json.dumps({"move": turn["move"], "value": int(value), "emotion": turn["emotion"],
                       "message": turn["message"]}, ensure_ascii=False)


def turn_key(turn: dict[str, Any]) -> str:
    """How judge scores are keyed: the match and the turn's index in it."""
    return f"{turn['match_id']}#{turn['turn']}"


def to_judge(turn: dict[str, Any], domain: str) -> TurnToJudge:
    return TurnToJudge(get_domain(domain), turn["target"], turn["reservation"], tuple(turn["history"]),
                       turn["move"], turn["value"], turn["utterance"])


def judge_turns(turns: list[dict[str, Any]], domain: str, judge: TurnJudge, path: Path,
                on_turn: Callable[[], None] | None = None) -> dict[str, float]:
    """Score every focal turn and write ``judged.jsonl`` (match id, turn, score, reason, judge);
    turns already judged by the same judge are kept (the stage resumes)."""
    done = load_judged(path, judge.name)
    with open(path, "a", encoding="utf-8") as f:
        for turn in turns:
            key = turn_key(turn)
            if key not in done:
                verdict = judge.judge(to_judge(turn, domain))
                done[key] = verdict.score
                f.write(json.dumps({"match_id": turn["match_id"], "turn": turn["turn"], "score": verdict.score,
                                    "reason": verdict.reason, "judge": judge.name}, ensure_ascii=False) + "\n")
                f.flush()
            if on_turn:
                on_turn()
    return done


def load_judged(path: Path, judge_name: str | None = None) -> dict[str, float]:
    """Judge scores by ``match_id#turn`` (of one judge, if named; a later line wins)."""
    scores: dict[str, float] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if judge_name is None or entry["judge"] == judge_name:
                scores[turn_key(entry)] = float(entry["score"])
    return scores


def with_turn_scores(turns: list[dict[str, Any]], judged: dict[str, float]) -> tuple[list[dict[str, Any]], str]:
    """The turns with ``r`` set: the judge's score where every turn was judged, else the step reward."""
    keys = [turn_key(t) for t in turns]
    if judged and all(k in judged for k in keys):
        return [t | {"r": judged[k]} for t, k in zip(turns, keys)], "judge score"
    return [t | {"r": t["step_reward"]} for t in turns], "outcome step reward (the sweep is not judged)"


def export_sft(turns: list[dict[str, Any]], path: Path, top_fraction: float = 0.25) -> int:
    """Chat-format JSONL of the turns whose hybrid score q = r_t + 0.5 R(tau) is in the top fraction
    (``r`` from ``with_turn_scores``)."""
    if not turns:
        path.write_text("")
        return 0
    q = np.array([t["r"] + 0.5 * t["episode_return"] for t in turns])
    cutoff = np.quantile(q, 1.0 - top_fraction)
    kept = 0
    with open(path, "w", encoding="utf-8") as f:
        for turn, score in zip(turns, q):
            if score >= cutoff:
                record = {"messages": turn["messages"] + [{"role": "assistant", "content": turn["response"]}],
                          "emotion": turn["emotion"], "q": round(float(score), 6), "match_id": turn["match_id"]}
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                kept += 1
    return kept


def export_jpo(turns: list[dict[str, Any]], path: Path) -> int:
    """Prompt, response and per-turn advantage: r_t standardised within its scenario (clipped to +-10)."""
    frame = pd.DataFrame({"scenario": [t["scenario"] for t in turns], "r": [t["r"] for t in turns]})
    stats = frame.groupby("scenario")["r"].agg(["mean", "std"]).fillna(0.0)
    with open(path, "w", encoding="utf-8") as f:
        for turn in turns:
            mean, std = stats.loc[turn["scenario"]]
            advantage = float(np.clip((turn["r"] - mean) / max(std, 1e-6), -10, 10))
            f.write(json.dumps({"prompt": turn["messages"], "response": turn["response"], "advantage": advantage,
                                "scenario": turn["scenario"], "emotion": turn["emotion"]}, ensure_ascii=False) + "\n")
    return len(turns)


def modelfile(base: str, adapter_dir: str, temperature: float = 0.7) -> str:
    """An Ollama Modelfile serving a LoRA adapter on its base model."""
    return (f"# Serve an EmoDistill expression adapter: ollama create emodistill-expression -f Modelfile\n"
            f"# ADAPTER must point at the folder holding adapter_config.json, and FROM at the base it was tuned on.\n"
            f"FROM {base}\nADAPTER {adapter_dir}\nPARAMETER temperature {temperature}\n")
