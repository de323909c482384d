"""Tokens per second through eq-arena's backend layer versus calling llama_cpp directly, same prompts.

Both paths use the same model context, grammar, seeds and a fresh evaluation of every prompt (prefix
reuse off: it would favour the layer); runs alternate between the two paths so that machine noise hits both alike. Goal: the layer keeps at
least 95% of the raw throughput.

    python benchmarks/llm_overhead.py [--prompts 8] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import time

from agents.llm import BackendSpec, ChatRequest, GenerationOptions, action_schema, make_backend, parse_action
from agents.llm.llama_cpp import _grammar
from envs import DOMAINS, EKMAN_7

SYSTEM = "You are a creditor negotiating a repayment timeline in days. Reply with one JSON object."


def prompts(n: int) -> list[tuple[dict, ...]]:
    return [({"role": "system", "content": SYSTEM},
             {"role": "user", "content": f"The debtor offers {60 + 7 * i} days. Your move."}) for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    backend = make_backend(BackendSpec("llama-cpp", cache=False, prefix_reuse=False, contexts=1))
    schema = action_schema(DOMAINS["credit"], EKMAN_7, 120)
    llm = backend.pool.take([])
    grammar = _grammar(json.dumps(schema))
    totals = {"layer": [0, 0.0], "direct": [0, 0.0]}
    for _ in range(args.rounds):
        for seed, messages in enumerate(prompts(args.prompts)):
            start = time.perf_counter()
            completion = backend.complete(ChatRequest(messages, schema, GenerationOptions(seed=seed, max_tokens=args.max_tokens)))
            parse_action(completion.data, DOMAINS["credit"], EKMAN_7, 120)
            totals["layer"][0] += completion.completion_tokens
            totals["layer"][1] += time.perf_counter() - start
            start = time.perf_counter()
            llm.start_prompt(reuse=False)
            reply = llm.create_chat_completion(messages=list(messages), temperature=0.7, seed=seed,
                                               max_tokens=args.max_tokens, grammar=grammar)
            totals["direct"][0] += reply["usage"]["completion_tokens"]
            totals["direct"][1] += time.perf_counter() - start
    rates = {k: tokens / seconds for k, (tokens, seconds) in totals.items()}
    for key in ("direct", "layer"):
        print(f"{key:7s}: {totals[key][0]} completion tokens in {totals[key][1]:.2f} s = {rates[key]:.1f} tok/s")
    print(f"layer / direct throughput: {rates['layer'] / rates['direct']:.3f} (goal >= 0.95)")


if __name__ == "__main__":
    main()
