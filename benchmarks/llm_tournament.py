"""Matches per minute of a small model-backed tournament (SmolLM2 through llama.cpp), three ways, in one run:

- ``before``: the path before prefix reuse: one thread (prompts on every core), every prompt evaluated
  from scratch in batches of 512, the grammar on the whole vocabulary (a different arithmetic from the others: its outcomes are shown, not compared);
- ``fresh``: every core, every prompt from scratch in aligned 64-token chunks;
- ``reuse``: every core, each agent's evaluated prefix kept between its turns (same arithmetic as
  ``fresh``, so the transcripts must be identical), then run again to check a rerun is identical;
- ``masked``: reuse with the grammar applied to the whole vocabulary on every token (as
  llama-cpp-python does) instead of the shortlist (the transcripts must be identical);
- ``ray``: reuse on Ray workers, one per core, each model on one thread (prompts too): several
  sessions at once (thread counts do not change the arithmetic: the transcripts must be identical).

Goal: ``reuse`` or ``ray`` plays at least 3x the matches per minute of ``before``, with identical outcomes.
The response cache is off throughout. Scripted counterparts follow the default response model.

    python benchmarks/llm_tournament.py [--scenarios 1] [--agents vanilla,eq-negotiator,threatening,victim]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from agents import AgentSpec
from agents.llm import BackendSpec
from agents.llm.llama_cpp import _POOLS
from arena.runner import run_tournament
from arena.spec import TournamentSpec, resolve_backends
from arena.storage import load_transcripts

PATHS = {
    "before": dict(threads=1, batch_threads=os.cpu_count() or 1, prefix_reuse=False, eval_chunk=512,
                   grammar_shortlist=False),
    "fresh": dict(threads=os.cpu_count() or 1, prefix_reuse=False),
    "reuse": dict(threads=os.cpu_count() or 1, prefix_reuse=True),
    "masked": dict(threads=os.cpu_count() or 1, prefix_reuse=True, grammar_shortlist=False),
    "ray": dict(prefix_reuse=True),  # Ray workers, one per core, each model on its share of the cores
}
WORKERS = {"ray": os.cpu_count() or 1}  # every other path plays in-process


def spec(agents: list[str], scenarios: int, path: str) -> TournamentSpec:
    backend = BackendSpec("llama-cpp", cache=False, **PATHS[path])
    spec = TournamentSpec(agents=[AgentSpec(a, {}, backend) for a in agents], domains=["credit"], scenarios=scenarios,
                          repeats=1, workers=WORKERS.get(path, 0), cache=False)
    return resolve_backends(spec).validate()


def outcomes(run: Path) -> dict[str, list]:
    """Every match's moves, values, emotions and words."""
    keep = ("role", "move", "value", "emotion", "message")
    return {match: [{k: t.get(k) for k in keep} for t in transcript] for match, transcript in load_transcripts(run).items()}


def measure(agents: list[str], scenarios: int, path: str, out: Path) -> dict:
    pools_before = {key: (p.evaluated, p.reused) for key, p in _POOLS.items()}
    start = time.perf_counter()
    table = run_tournament(spec(agents, scenarios, path), out)
    seconds = time.perf_counter() - start
    prompt = int(table[["focal_prompt_tokens", "counterpart_prompt_tokens"]].sum().sum())
    completion = int(table[["focal_completion_tokens", "counterpart_completion_tokens"]].sum().sum())
    evaluated = sum(p.evaluated - pools_before.get(k, (0, 0))[0] for k, p in _POOLS.items())
    reused = sum(p.reused - pools_before.get(k, (0, 0))[1] for k, p in _POOLS.items())
    return {"path": path, "matches": len(table), "seconds": seconds, "per_min": 60 * len(table) / seconds,
            "prompt": prompt, "completion": completion, "evaluated": evaluated, "reused": reused,
            "errors": int(table["error"].notna().sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=1)
    parser.add_argument("--agents", default="vanilla,eq-negotiator,threatening,victim")
    args = parser.parse_args()
    agents = args.agents.split(",")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in ("before", "fresh", "reuse"):
            rows[path] = measure(agents, args.scenarios, path, Path(tmp) / path)
        rerun = measure(agents, args.scenarios, "reuse", Path(tmp) / "rerun")
        rows["masked"] = measure(agents, args.scenarios, "masked", Path(tmp) / "masked")
        rows["ray"] = measure(agents, args.scenarios, "ray", Path(tmp) / "ray")
        same_masked = outcomes(Path(tmp) / "masked") == outcomes(Path(tmp) / "reuse")
        same_fresh = outcomes(Path(tmp) / "fresh") == outcomes(Path(tmp) / "reuse")
        same_ray = outcomes(Path(tmp) / "ray") == outcomes(Path(tmp) / "reuse")
        same_rerun = outcomes(Path(tmp) / "rerun") == outcomes(Path(tmp) / "reuse")
        same_before = outcomes(Path(tmp) / "before") == outcomes(Path(tmp) / "reuse")
    print(f"credit, {args.scenarios} scenario(s), agents {args.agents}, {os.cpu_count()} cores, cache off")
    print(f"{'path':7s} {'matches':>7s} {'seconds':>8s} {'match/min':>9s} {'prompt tok/s':>12s} "
          f"{'compl tok/s':>11s} {'evaluated':>9s} {'reused':>7s} {'errors':>6s}")
    for r in [rows["before"], rows["fresh"], rows["masked"], rows["reuse"], rerun | {"path": "rerun"}, rows["ray"]]:
        print(f"{r['path']:7s} {r['matches']:7d} {r['seconds']:8.1f} {r['per_min']:9.2f} {r['prompt'] / r['seconds']:12.1f} "
              f"{r['completion'] / r['seconds']:11.1f} {r['evaluated']:9d} {r['reused']:7d} {r['errors']:6d}")
    for path in ("reuse", "ray"):
        print(f"{path} / before matches per minute: {rows[path]['per_min'] / rows['before']['per_min']:.2f}x (goal >= 3x); "
              f"{path} / fresh: {rows[path]['per_min'] / rows['fresh']['per_min']:.2f}x")
    print(f"identical transcripts: reuse vs fresh {same_fresh}, reuse vs masked {same_masked}, rerun vs reuse "
          f"{same_rerun}, ray vs reuse {same_ray} "
          f"(before vs reuse {same_before}: a different arithmetic, not promised)")


if __name__ == "__main__":
    main()
