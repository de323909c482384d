"""Threads against asyncio for served requests: 256 conversations in flight against a loopback server
that answers each request after a fixed latency, three ways, in one run, each in a process of its own:

- ``threads + sync client``: 256 threads, each sending with the official OpenAI client's synchronous
  HTTP client (one shared client, pooled connections);
- ``threads + one loop`` (eq-arena's way): 256 threads, each handing its request to one asyncio loop
  that sends it with the official async client on its aiohttp transport (agents stay synchronous);
- ``asyncio only``: 256 coroutines on one loop with the same async client, no threads (an upper bound
  that would need every agent to be asynchronous).

Each prints requests per second against the ideal (in flight / latency) and CPU milliseconds per
request of the sending process (the server runs in another process).

    python benchmarks/served_transport.py [--in-flight 256] [--latency 0.5] [--seconds 15]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BODY = {"model": "loopback-model", "messages": [{"role": "user", "content": "Their last offer: 40 days. Your move."}],
        "max_tokens": 64, "temperature": 0.7, "seed": 1}
WAYS = ("threads + sync client", "threads + one loop", "asyncio only")


def _sync_threads(url: str, n: int, seconds: float) -> int:
    import httpx2
    import openai

    limits = httpx2.Limits(max_connections=n + 8, max_keepalive_connections=n + 8)
    client = openai.OpenAI(base_url=url, api_key="x", max_retries=0, http_client=httpx2.Client(limits=limits))
    return _in_threads(n, seconds, lambda: client.post("/chat/completions", body=BODY, cast_to=httpx2.Response))


def _loop_threads(url: str, n: int, seconds: float) -> int:
    from agents.llm import transport
    from agents.llm.openai_backend import OpenAIBackend

    transport.configure({url: n})
    backend = OpenAIBackend("loopback-model", url, timeout=30.0)
    client = backend._client

    async def send():
        import httpx2

        return await client().post("/chat/completions", body=BODY, cast_to=httpx2.Response)

    return _in_threads(n, seconds, lambda: transport.run(send()))


def _in_threads(n: int, seconds: float, send) -> int:
    done, stop = [0], time.monotonic() + seconds
    lock = threading.Lock()

    def loop() -> None:
        while time.monotonic() < stop:
            send()
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=loop) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0]


def _asyncio_only(url: str, n: int, seconds: float) -> int:
    import httpx2
    import openai

    async def main() -> int:
        limits = httpx2.Limits(max_connections=n + 8, max_keepalive_connections=n + 8)
        client = openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0,
                                    http_client=openai.DefaultAioHttpClient(limits=limits))
        stop, done = time.monotonic() + seconds, [0]

        async def conversation() -> None:
            while time.monotonic() < stop:
                await client.post("/chat/completions", body=BODY, cast_to=httpx2.Response)
                done[0] += 1

        await asyncio.gather(*(conversation() for _ in range(n)))
        await client.close()
        return done[0]

    return asyncio.run(main())


def child(way: str, url: str, n: int, seconds: float) -> dict:
    run = {WAYS[0]: _sync_threads, WAYS[1]: _loop_threads, WAYS[2]: _asyncio_only}[way]
    cpu, start = time.process_time(), time.perf_counter()
    done = run(url, n, seconds)
    return {"requests": done, "wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-flight", type=int, default=256)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*json.loads(args.child))))
        return
    if args.in_flight < 1 or args.latency <= 0 or args.seconds <= 0:
        parser.exit(2, "served_transport: --in-flight must be at least 1, --latency and --seconds above 0\n")
    server = subprocess.Popen([sys.executable, "-m", "tests.latency_server", "--latency", str(args.latency)],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    url = server.stdout.readline().strip() + "/v1"
    ideal = args.in_flight / args.latency
    print(f"{args.in_flight} conversations, {args.latency} s per request, {args.seconds:.0f} s each (ideal {ideal:.0f} req/s)")
    print(f"{'way':24} {'req/s':>7} {'/ideal':>7} {'CPU ms/req':>10}")
    try:
        for way in WAYS:
            out = subprocess.run([sys.executable, __file__, "--child", json.dumps([way, url, args.in_flight,
                                                                                   args.seconds])],
                                 capture_output=True, text=True, cwd=ROOT, timeout=600)
            if out.returncode:
                print(f"{way:24} failed: {out.stderr[-300:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rate = r["requests"] / r["wall_s"]
            print(f"{way:24} {rate:>7.1f} {rate / ideal:>7.2f} {r['cpu_s'] / r['requests'] * 1e3:>10.2f}")
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
