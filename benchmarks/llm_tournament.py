"""Matches per minute of a small model-backed tournament (SmolLM2 through llama.cpp), three ways, in one run:

- ``before``: the path before prefix reuse: one thread (prompts on every core), every prompt evaluated
  from scratch in batches of 512, the grammar on the whole vocabulary (a different arithmetic from the others: its outcomes are shown, not compared);
- ``fresh``: every core, every prompt from scratch in chunks that end after lines (at most 64 tokens);
- ``reuse``: every core, each agent's evaluated prefix kept between its turns (same arithmetic as
  ``fresh``, so the transcripts must be identical), then run again to check a rerun is identical;
- ``masked``: reuse with the grammar applied to the whole vocabulary on every token (as
  llama-cpp-python does) instead of the shortlist (the transcripts must be identical);
- ``ray``: reuse on Ray workers, one per core, each model on one thread (prompts too): several
  sessions at once (thread counts do not change the arithmetic: the transcripts must be identical);
- ``forward``: reuse with ``fast_forward`` (forced text appended, not drawn): other replies, so other
  matches: compare its tokens per second as well as its matches per minute; ``ray+ff``: the same on Ray.

A line measures how far ``fast_forward`` is from drawing every token: of the reuse path's drawn
replies, how many spelled every forced run in exactly the tokens fast-forwarding appends (given the
same random numbers for the tokens both ways draw, such a reply comes out of fast-forwarding
unchanged), which bounds the total-variation distance between the two ways' replies.

Goal: ``reuse`` or ``ray`` plays at least 3x the matches per minute of ``before``, with identical outcomes.
The response cache is off throughout. Scripted counterparts follow the default response model.

A last line bounds what any exact method could reach here: the reuse path's own work (the prompt
tokens it evaluated and the reply tokens it drew) at the model's best measured rates on this machine,
prompts in full 64-token chunks and every reply token decoded in a batch of 8 sequences, nothing
else counted (the arena decodes one sequence at a time, so this is an optimistic floor).

    python benchmarks/llm_tournament.py [--scenarios 1] [--agents vanilla,eq-negotiator,threatening,victim] [--rounds 1]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from agents import AgentSpec
from agents.llm import BackendSpec
from agents.llm.llama_cpp import _POOLS
from agents.llm.llama_loading import as_this_machine_needs, build_identity, default_model_path
from arena.runner import run_tournament
from arena.spec import TournamentSpec, resolve_backends
from arena.storage import load_transcripts

PATHS = {
    "before": dict(threads=1, batch_threads=os.cpu_count() or 1, prefix_reuse=False, eval_chunk=512,
                   eval_split="fixed", grammar_shortlist=False),
    "fresh": dict(threads=os.cpu_count() or 1, prefix_reuse=False),
    "reuse": dict(threads=os.cpu_count() or 1, prefix_reuse=True),
    "masked": dict(threads=os.cpu_count() or 1, prefix_reuse=True, grammar_shortlist=False),
    "ray": dict(prefix_reuse=True),  # Ray workers, one per core, each model on its share of the cores
    "forward": dict(threads=os.cpu_count() or 1, prefix_reuse=True, fast_forward=True),
    "ray+ff": dict(prefix_reuse=True, fast_forward=True),
}
WORKERS = {"ray": os.cpu_count() or 1, "ray+ff": os.cpu_count() or 1}  # every other path plays in-process


def spec(agents: list[str], scenarios: int, path: str) -> TournamentSpec:
    backend = BackendSpec("llama-cpp", cache=False, **PATHS[path])
    spec = TournamentSpec(agents=[AgentSpec(a, {}, backend) for a in agents], domains=["credit"], scenarios=scenarios,
                          repeats=1, workers=WORKERS.get(path, 0), cache=False)
    return resolve_backends(spec).validate()


def outcomes(run: Path) -> dict[str, list]:
    """Every match's moves, values, emotions and words."""
    keep = ("role", "move", "value", "emotion", "message")
    return {match: [{k: t.get(k) for k in keep} for t in transcript] for match, transcript in load_transcripts(run).items()}


def spans_now() -> Counter:
    """The span tallies of this process's pools, added up (see agents.llm.forcing.SpanTally)."""
    return sum((Counter(asdict(p.spans)) for p in _POOLS.values()), Counter())


def measure(agents: list[str], scenarios: int, path: str, out: Path) -> dict:
    pools_before = {key: (p.evaluated, p.reused) for key, p in _POOLS.items()}
    spans_before = spans_now()
    start = time.perf_counter()
    table = run_tournament(spec(agents, scenarios, path), out)
    seconds = time.perf_counter() - start
    prompt = int(table[["focal_prompt_tokens", "counterpart_prompt_tokens"]].sum().sum())
    completion = int(table[["focal_completion_tokens", "counterpart_completion_tokens"]].sum().sum())
    evaluated = sum(p.evaluated - pools_before.get(k, (0, 0))[0] for k, p in _POOLS.items())
    reused = sum(p.reused - pools_before.get(k, (0, 0))[1] for k, p in _POOLS.items())
    return {"path": path, "matches": len(table), "seconds": seconds, "per_min": 60 * len(table) / seconds,
            "prompt": prompt, "completion": completion, "evaluated": evaluated, "reused": reused,
            "errors": int(table["error"].notna().sum()), "spans": spans_now() - spans_before}


def model_rates(chunk: int = 64, lanes: int = 8, depth: int = 512) -> dict[str, float]:
    """Tokens per second of the embedded model at its fastest on this machine: prompts in full chunks,
    and decoding one token for each of ``lanes`` sequences per step (each with ``depth`` tokens before)."""
    import llama_cpp

    model_params = as_this_machine_needs(llama_cpp.llama_model_default_params())  # as the arena loads it
    model = llama_cpp.llama_model_load_from_file(str(default_model_path()).encode(), model_params)
    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_ubatch, params.n_seq_max = 2 * depth * lanes, chunk, chunk, lanes
    params.n_threads = params.n_threads_batch = os.cpu_count() or 1
    params.kv_unified, params.flash_attn_type = False, llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    ctx = llama_cpp.llama_init_from_model(model, params)
    batch = llama_cpp.llama_batch_init(max(chunk, lanes), 0, 1)

    def decode(items: list[tuple[int, int]]) -> None:  # (position, sequence) each, filler tokens
        batch.n_tokens = len(items)
        for i, (pos, seq) in enumerate(items):
            batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = 100 + pos % 500, pos, 1, True
            batch.seq_id[i][0] = seq
        assert llama_cpp.llama_decode(ctx, batch) == 0

    start = time.perf_counter()
    for seq in range(lanes):
        for first in range(0, depth, chunk):
            decode([(first + i, seq) for i in range(chunk)])
    prompt_rate = lanes * depth / (time.perf_counter() - start)
    rates, next_position = {}, [depth] * lanes
    for width in (1, lanes):
        start, steps = time.perf_counter(), 24
        for _ in range(steps):
            decode([(next_position[seq], seq) for seq in range(width)])
            next_position[:width] = [p + 1 for p in next_position[:width]]
        rates[width] = width * steps / (time.perf_counter() - start)
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    llama_cpp.llama_model_free(model)
    return {"prompt": prompt_rate, "decode": rates[1], "batched": rates[lanes]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=1)
    parser.add_argument("--agents", default="vanilla,eq-negotiator,threatening,victim")
    parser.add_argument("--rounds", type=int, default=1,
                        help="before/reuse pairs in all, the extra ones alternated at the end (this VM's speed drifts)")
    args = parser.parse_args()
    if args.rounds < 1 or args.scenarios < 1:
        parser.error("--rounds and --scenarios must be at least 1")
    agents = args.agents.split(",")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in ("before", "fresh", "reuse"):
            rows[path] = measure(agents, args.scenarios, path, Path(tmp) / path)
        rerun = measure(agents, args.scenarios, "reuse", Path(tmp) / "rerun")
        rows["masked"] = measure(agents, args.scenarios, "masked", Path(tmp) / "masked")
        rows["ray"] = measure(agents, args.scenarios, "ray", Path(tmp) / "ray")
        rows["forward"] = measure(agents, args.scenarios, "forward", Path(tmp) / "forward")
        rows["ray+ff"] = measure(agents, args.scenarios, "ray+ff", Path(tmp) / "ray+ff")
        same_masked = outcomes(Path(tmp) / "masked") == outcomes(Path(tmp) / "reuse")
        same_fresh = outcomes(Path(tmp) / "fresh") == outcomes(Path(tmp) / "reuse")
        same_ray = outcomes(Path(tmp) / "ray") == outcomes(Path(tmp) / "reuse")
        same_rerun = outcomes(Path(tmp) / "rerun") == outcomes(Path(tmp) / "reuse")
        same_before = outcomes(Path(tmp) / "before") == outcomes(Path(tmp) / "reuse")
        same_ff = outcomes(Path(tmp) / "ray+ff") == outcomes(Path(tmp) / "forward")
        pairs = [(rows["before"], rows["reuse"])] + [
            tuple(measure(agents, args.scenarios, path, Path(tmp) / f"{path}{k}") for path in ("before", "reuse"))
            for k in range(1, args.rounds)]
    print(f"credit, {args.scenarios} scenario(s), agents {args.agents}, {os.cpu_count()} cores, cache off, "
          f"{build_identity()}")
    print(f"{'path':7s} {'matches':>7s} {'seconds':>8s} {'match/min':>9s} {'prompt tok/s':>12s} "
          f"{'compl tok/s':>11s} {'evaluated':>9s} {'reused':>7s} {'errors':>6s}")
    for r in [rows["before"], rows["fresh"], rows["masked"], rows["reuse"], rerun | {"path": "rerun"}, rows["ray"],
              rows["forward"], rows["ray+ff"]]:
        print(f"{r['path']:7s} {r['matches']:7d} {r['seconds']:8.1f} {r['per_min']:9.2f} {r['prompt'] / r['seconds']:12.1f} "
              f"{r['completion'] / r['seconds']:11.1f} {r['evaluated']:9d} {r['reused']:7d} {r['errors']:6d}")
    for path in ("reuse", "ray", "forward", "ray+ff"):
        print(f"{path} / before matches per minute: {rows[path]['per_min'] / rows['before']['per_min']:.2f}x (goal >= 3x); "
              f"{path} / fresh: {rows[path]['per_min'] / rows['fresh']['per_min']:.2f}x")
    ratios = [reuse["per_min"] / before["per_min"] for before, reuse in pairs]
    print(f"reuse / before in {len(pairs)} pair(s) of runs: {', '.join(f'{r:.2f}x' for r in ratios)}; "
          f"median {statistics.median(ratios):.2f}x (seconds: "
          f"{', '.join('%.0f/%.0f' % (b['seconds'], r['seconds']) for b, r in pairs)})")
    trials = [model_rates() for _ in range(3)]  # this VM's speed wanders; the floor takes the best of each
    rates = {key: max(t[key] for t in trials) for key in trials[0]}
    reuse, before = rows["reuse"], rows["before"]
    floor = reuse["evaluated"] / rates["prompt"] + reuse["completion"] / rates["batched"]
    print(f"model rates: prompts {rates['prompt']:.0f} tok/s in 64-token chunks, decoding {rates['decode']:.0f} tok/s "
          f"(one sequence), {rates['batched']:.0f} tok/s (8 at once); the reuse path's work ({reuse['evaluated']} "
          f"prompt + {reuse['completion']} reply tokens) takes at least {floor:.1f} s at those rates: at most "
          f"{60 * reuse['matches'] / floor / before['per_min']:.2f}x the old path (it took {reuse['seconds']:.1f} s)")
    spans = rows["reuse"]["spans"]
    print(f"drawn replies (reuse path) that spelled every forced run in fast-forward's own tokens: {spans['replies_same']} "
          f"of {spans['replies']} ({spans['same']} of {spans['spans']} runs; {spans['forced_tokens']} forced tokens, "
          f"{spans['drawn_tokens']} others): fast-forwarding's replies are within "
          f"{1 - spans['replies_same'] / max(1, spans['replies']):.3f} of drawing's in total variation")
    print(f"identical transcripts: reuse vs fresh {same_fresh}, reuse vs masked {same_masked}, rerun vs reuse "
          f"{same_rerun}, ray vs reuse {same_ray}, ray+ff vs forward {same_ff} "
          f"(before vs reuse {same_before}: a different arithmetic, not promised)")


if __name__ == "__main__":
    main()
