"""Model-backed tournaments against served models, in one run:

(a) against a loopback server that answers every request after a fixed latency (0.5 s) however many
    are in flight (what a batching GPU server looks like from outside): at caps 1, 8, 64 and 256,
    the requests in flight (median over the run, sampled at the server every 5 ms while busy), requests
    per second and matches per minute against the ideal (cap / latency), the arena's own CPU time per
    model call (the arena process's CPU over the server's answered requests: prompt building, client,
    parsing, validation, guards, cache, recording) and the arena's peak resident memory;
(b) against llama.cpp's own llama-server on SmolLM2 with --parallel 1 and --parallel 4: matches per
    minute and the share of prompt tokens it served from its prefix cache;
(c) the path before lanes (every session whole, one at a time per worker, 2 Ray workers as the
    default) against the same loopback server at cap 64, as the baseline: the lanes path's matches
    per minute at cap 64 over it.

Targets: median in flight >= 0.9 x cap at caps 8 and 64; >= 200 requests per second at cap 256;
under 3 ms of arena CPU per call; cap 64 >= 25 x the baseline's matches per minute; under 1.5 GB
resident with 256 conversations in flight. Each measurement runs in a process of its own.

    python benchmarks/served_throughput.py [--latency 0.5] [--caps 1,8,64,256] [--skip-llama-server]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AGENTS = ("vanilla", "threatening", "victim")  # none learns: every match is a lane of its own
MATCHES_PER_SESSION = 20  # the test split's scenarios of credit


def one_run(url: str, cap: int, repeats: int, workers: int, legacy: bool, scenarios: int, max_messages: int) -> dict:
    """One tournament in this process, with a response cache of its own; what it measured of itself."""
    import os

    os.environ["ARENA_CACHE_DIR"] = tempfile.mkdtemp(prefix="served-cache-")  # written, never read back
    from agents import AgentSpec
    from agents.llm import BackendSpec, transport
    from arena.lanes import LEGACY, Execution
    from arena.runner import run_tournament
    from arena.spec import TournamentSpec

    backend = BackendSpec("openai", _model(url), base_url=url, cache=True, timeout=120.0)
    spec = TournamentSpec(agents=[AgentSpec(a, backend=backend) for a in AGENTS], domains=["credit"],
                          scenarios=scenarios, repeats=repeats, workers=workers, llm_parallel=cap,
                          max_messages=max_messages).validate()
    final: dict = {}
    first: list = []  # (CPU, requests) when the first match finished: steady state from there (in-process)

    def on_result(record: dict) -> None:
        if not first:
            first.append((time.process_time(), transport.GAUGES.requests))

    with tempfile.TemporaryDirectory() as out:
        cpu, start = time.process_time(), time.perf_counter()
        table = run_tournament(spec, Path(out) / "run", execution=LEGACY if legacy else Execution(),
                               on_gauges=final.update, on_result=on_result)
        wall, end = time.perf_counter() - start, time.process_time()
    cpu = end - cpu
    if workers:  # the Ray workers' CPU too (their last gauges), not only the driver's
        cpu += final.get("cpu_ms", 0) / 1000
    later = transport.GAUGES.requests - first[0][1] if first and not workers else 0
    steady = (end - first[0][0]) / later if later else None
    cached = sum(table[f"{r}_cached_tokens"].fillna(0).sum() for r in ("focal", "counterpart"))
    prompt = sum(table[f"{r}_prompt_tokens"].sum() for r in ("focal", "counterpart"))
    return {"matches": len(table), "errored": int(table["error"].notna().sum()), "wall_s": wall, "cpu_s": cpu,
            "steady_ms": None if steady is None else steady * 1000,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "cache_share": cached / prompt,
            "requests": int(sum(table[f"{r}_requests"].sum() for r in ("focal", "counterpart")))}


def _model(url: str) -> str:
    with urllib.request.urlopen(f"{url}/models", timeout=10) as reply:
        return json.loads(reply.read())["data"][0]["id"]


def measure(url: str, cap: int, repeats: int, workers: int = 0, legacy: bool = False, scenarios: int = 20,
            max_messages: int = 10, stats_url: str | None = None) -> dict:
    """One tournament in a child process, with the loopback server's counts over it."""
    if stats_url:
        urllib.request.urlopen(urllib.request.Request(f"{stats_url}/reset", method="POST"), timeout=10).read()
    args = [sys.executable, __file__, "--child", json.dumps([url, cap, repeats, workers, legacy, scenarios,
                                                            max_messages])]
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if stats_url:
        with urllib.request.urlopen(f"{stats_url}/stats", timeout=10) as reply:
            result["server"] = json.loads(reply.read())
    return result


def start_loopback(latency: float) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "tests.latency_server", "--latency", str(latency)],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    return process, process.stdout.readline().strip()


def loopback_rows(latency: float, caps: list[int]) -> list[dict]:
    """Part (a) and (c): every cap on the lanes path, and the path before lanes at cap 64."""
    process, base = start_loopback(latency)
    rows = []
    try:
        for cap in caps:
            repeats = max(1, round(cap * 8 / (len(AGENTS) * MATCHES_PER_SESSION)))  # ~8 matches per slot
            scenarios = min(MATCHES_PER_SESSION, max(4, cap * 8 // len(AGENTS)))
            for workers in ((0, 2) if cap >= 64 else (0,)):
                result = measure(f"{base}/v1", cap, repeats, workers, scenarios=scenarios, stats_url=base)
                rows.append({"path": "lanes", "cap": cap, "workers": workers, **result})
        result = measure(f"{base}/v1", 64, 1, 2, legacy=True, stats_url=base)
        rows.append({"path": "before lanes", "cap": 64, "workers": 2, **result})
    finally:
        process.terminate()
    return rows


def print_loopback(rows: list[dict], latency: float) -> None:
    print(f"\n(a) loopback server, {latency} s per request, no concurrency limit; agents {', '.join(AGENTS)} on credit")
    print(f"{'path':13} {'cap':>4} {'workers':>7} {'matches':>7} {'in flight':>9} {'/cap':>5} {'req/s':>7} "
          f"{'/ideal':>6} {'matches/min':>11} {'CPU ms/call':>11} {'steady':>6} {'peak RSS MB':>11}")
    for r in rows:
        served, wall = r["server"], r["wall_s"]
        ideal = r["cap"] / latency
        rate = served["requests"] / wall
        print(f"{r['path']:13} {r['cap']:>4} {r['workers']:>7} {r['matches']:>7} {served['median_in_flight']:>9.1f} "
              f"{served['median_in_flight'] / r['cap']:>5.2f} {rate:>7.1f} {rate / ideal:>6.2f} "
              f"{r['matches'] / wall * 60:>11.1f} {r['cpu_s'] / max(1, served['requests']) * 1e3:>11.2f} "
              f"{'-' if r['steady_ms'] is None else format(r['steady_ms'], '.2f'):>6} {r['rss_mb']:>11.0f}")
    base = next(r for r in rows if r["path"] == "before lanes")
    for r in rows:
        if r["path"] == "lanes" and r["cap"] == 64:
            ratio = (r["matches"] / r["wall_s"]) / (base["matches"] / base["wall_s"])
            print(f"(c) cap 64, {r['workers']} workers: {ratio:.1f} x the matches per minute of the path before lanes "
                  f"(at most {base['server']['peak']} requests in flight there)")
    print("CPU ms/call: the arena's processes over the whole run (with 2 workers: the driver and both Ray workers, "
          "their start included); steady: in-process, from the first finished match on")


def llama_server_rows() -> list[dict]:
    """Part (b): the real server with 1 and 4 slots, the cap set to its slots."""
    sys.path.insert(0, str(ROOT))
    from tests.llama_server import LlamaServer, version

    rows = []
    for parallel in (1, 4):
        with LlamaServer(parallel=parallel) as server:
            result = measure(server.openai_url, parallel, 1, 0, scenarios=2, max_messages=6)
        rows.append({"parallel": parallel, "version": version(), **result})
    return rows


def print_llama_server(rows: list[dict]) -> None:
    print(f"\n(b) llama-server ({rows[0]['version']}) on SmolLM2-135M, 2 threads, cap = slots; response cache on")
    print(f"{'--parallel':>10} {'matches':>7} {'requests':>8} {'seconds':>8} {'matches/min':>11} {'cache hit':>9}")
    for r in rows:
        print(f"{r['parallel']:>10} {r['matches']:>7} {r['requests']:>8} {r['wall_s']:>8.1f} "
              f"{r['matches'] / r['wall_s'] * 60:>11.1f} {r['cache_share']:>9.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--caps", default="1,8,64,256")
    parser.add_argument("--skip-llama-server", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(*json.loads(args.child))))
        return
    caps = [int(c) for c in args.caps.split(",")]
    if any(c < 1 for c in caps) or args.latency <= 0:
        parser.exit(2, "served_throughput: --caps must be whole numbers of at least 1 and --latency above 0\n")
    print_loopback(loopback_rows(args.latency, caps), args.latency)
    if not args.skip_llama_server:
        print_llama_server(llama_server_rows())


if __name__ == "__main__":
    main()
