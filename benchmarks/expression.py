"""What EmoDistill's expression adapter changes: base model vs SFT vs SFT+JPO on held-out states.

Trains both adapters on SmolLM2 from a small scripted sweep of the training split (judged by the
rubric scorer), then asks each model for the focal move at the same test-split states with the
same prompts and seeds, through llama.cpp with the exported GGUF LoRA, as emodistill plays. Per
model: the rate at which the lexicon sensor reads the intended emotion (GoEmotions labels mapped
to Ekman's seven) in the message, the rubric judge's mean score, and the malformed-reply rate; and
SFT and JPO optimiser steps per second (CPU here unless CUDA is present). The sweep's counterparts
are scripted: their words follow templates and the default response model.

    python benchmarks/expression.py [--domain credit] [--states 24] [--sft-steps 8] [--jpo-steps 8]
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
import tomllib
from importlib import resources
from pathlib import Path

from agents.llm import BackendSpec, CallStats, GenerationOptions, action_schema, parse_action, request_structured
from agents.llm.llama_cpp import LlamaCppBackend
from agents.sensing import shared_lexicon_sensor
from arena.runner import run_tournament
from arena.training import expression
from arena.training.dataset import run_sweep, sweep_spec
from arena.training.jpo import JPOSettings, train_jpo
from arena.training.judge import RubricJudge
from arena.training.lora import LoraSettings, device, train_sft
from envs import DOMAINS


def ekman_of() -> dict[str, str]:
    text = resources.files("agents").joinpath("data/goemotions_to_ekman.toml").read_text(encoding="utf-8")
    return {fine: coarse for coarse, fines in tomllib.loads(text).items() for fine in fines}


def prepare(domain: str, work: Path, states: int) -> tuple[list[dict], list[dict]]:
    """A judged, exported training sweep in ``work`` and ``states`` focal turns of a test-split sweep."""
    run_sweep(domain, work / "sweep", rollouts=1, workers=0)
    train_turns = list(expression.focal_turns(work / "sweep", domain))
    expression.judge_turns(train_turns, domain, RubricJudge(), work / "judged.jsonl")
    turns, _ = expression.with_turn_scores(train_turns, expression.load_judged(work / "judged.jsonl"))
    expression.export_sft(turns, work / "sft.jsonl", 0.25)
    expression.export_jpo(turns, work / "jpo.jsonl")
    test = dataclasses.replace(sweep_spec(domain, 1, 7, 0, BackendSpec()), split="test")
    run_tournament(test, work / "test")
    held_out = list(expression.focal_turns(work / "test", domain))
    return train_turns, held_out[:: max(1, len(held_out) // states)][:states]


def timed(train, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = train(*args)
    return time.perf_counter() - start, result


def evaluate(lora: str | None, states: list[dict], domain: str) -> dict[str, float]:
    backend = LlamaCppBackend(None, n_threads=2, lora_path=lora)
    sensor, judge, fine_to_coarse, stats = shared_lexicon_sensor(), RubricJudge(), ekman_of(), CallStats()
    hits, scores, d = 0, [], DOMAINS[domain]
    for seed, state in enumerate(states):
        emotion = state["emotion"]
        schema = action_schema(d, (emotion,), 240)
        action = request_structured(backend, state["messages"], schema, GenerationOptions(seed=seed, max_tokens=160),
                                    lambda c, e=emotion: parse_action(c.data, d, (e,), 240), stats, max_retries=0)
        if action is None:
            scores.append(1)
            continue
        hits += sensor.label(action.message) == fine_to_coarse.get(emotion, emotion)
        turn = dict(state, move=action.move, value=action.value, utterance=action.message)
        scores.append(judge.judge(expression.to_judge(turn, domain)).score)
    return {"sensed": hits / len(states), "judge": sum(scores) / len(scores), "malformed": stats.malformed / stats.requests}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="credit")
    parser.add_argument("--states", type=int, default=24)
    parser.add_argument("--sft-steps", type=int, default=8)
    parser.add_argument("--jpo-steps", type=int, default=8)
    args = parser.parse_args()
    settings = LoraSettings(rank=16, alpha=32, batch_size=2, grad_accum=1, max_seq_len=768, save_every=1000)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train_turns, states = prepare(args.domain, work, args.states)
        sft_s, _ = timed(train_sft, work / "sft.jsonl", work, None, dataclasses.replace(settings, max_steps=args.sft_steps))
        jpo_s, _ = timed(train_jpo, work / "jpo.jsonl", work, None,
                         dataclasses.replace(settings, max_steps=args.jpo_steps, lr=5e-6), JPOSettings())
        rows = {"base": evaluate(None, states, args.domain),
                "SFT": evaluate(str(work / "sft" / "adapter.gguf"), states, args.domain),
                "SFT+JPO": evaluate(str(work / "jpo" / "adapter.gguf"), states, args.domain)}
    print(f"{args.domain}: {len(train_turns)} training turns (rubric-judged), {len(states)} held-out test states, "
          f"SmolLM2-135M, device {device()}")
    print(f"SFT: {args.sft_steps} steps of 2 x <=768 tokens in {sft_s:.1f} s = {args.sft_steps / sft_s:.3f} steps/s "
          f"(model load included); JPO: {args.jpo_steps} steps in {jpo_s:.1f} s = {args.jpo_steps / jpo_s:.3f} steps/s")
    print(f"{'model':8s} {'sensor reads intended':>22s} {'judge mean':>10s} {'malformed':>9s}")
    for name, r in rows.items():
        print(f"{name:8s} {r['sensed']:22.3f} {r['judge']:10.2f} {r['malformed']:9.3f}")


if __name__ == "__main__":
    main()
