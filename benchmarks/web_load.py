"""Load on ``arena serve``: simulated people play whole matches and vote, over loopback HTTP.

The server runs as ``arena serve`` in its own process on 127.0.0.1 over a small scripted run. Each
simulated player opens the pages a person would (runs list, play form, the match page after every
move, the run's page with its leaderboard, a judging pair and a vote), so every finished match
changes the run and the next run page recomputes its ratings. One player alone is measured first in
the same run as the baseline; then N at once. Bounded: N players, one match each (at most the
match's message budget of moves), and a deadline.

    python benchmarks/web_load.py --players 8
"""
from __future__ import annotations

import argparse
import http.cookiejar
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
STATE = re.compile(r'id="state" data-state="(\w+)"')
THEIR_OFFER = re.compile(r'accept their offer of (\d+)')
VOTE_FORM = re.compile(r'action="(/judge/[^"]+)"')


class Player:
    """One simulated person with their own cookies; every response time is kept."""

    def __init__(self, base: str, deadline: float):
        self.base, self.deadline = base, deadline
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.times: list[float] = []
        self.slowest: list[tuple[float, str]] = []
        self.csrf = ""

    def fetch(self, path: str, form: dict | None = None) -> tuple[str, str]:
        if time.time() > self.deadline:
            raise TimeoutError("past the benchmark's deadline")
        data = urllib.parse.urlencode(form | {"csrf": self.csrf}).encode() if form is not None else None
        start = time.perf_counter()
        with self.opener.open(self.base + path, data=data, timeout=60) as reply:
            body, where = reply.read().decode(), reply.geturl()
        self.times.append(time.perf_counter() - start)
        kind = ("POST " if form is not None else "GET ") + re.sub(r"/[0-9a-f]{10,}", "/ID", path.split("?")[0])
        self.slowest.append((self.times[-1], kind))
        found = CSRF.search(body)
        self.csrf = found.group(1) if found else self.csrf
        return body, where

    def play(self, opponent: str, scenario: str) -> str:
        self.fetch("/")
        self.fetch("/play")
        self.fetch("/play?domain=credit&role=focal")
        body, where = self.fetch("/play", {"domain": "credit", "role": "focal", "opponent": opponent,
                                           "backend": "scripted", "scenario": scenario})
        match_path = urllib.parse.urlparse(where).path
        for step in range(40):
            state = STATE.search(body).group(1)
            if state == "over":
                break
            if state != "your_turn":
                body, _ = self.fetch(match_path)
                continue
            offer = THEIR_OFFER.search(body)
            if offer and int(offer.group(1)) <= 40 + step:  # a creditor that gives way slowly
                form = {"move": "accept", "emotion": "joy", "message": "Agreed."}
            else:
                value = 10 + 3 * step
                form = {"move": "offer", "value": str(value), "emotion": "neutral", "message": f"{value} days, please."}
            body, _ = self.fetch(match_path, form)
        run_link = re.search(r'href="(/runs/[0-9a-f]+)" id="to-run"', body)
        if run_link:
            self.fetch(run_link.group(1))
        body, _ = self.fetch("/judge")
        vote = VOTE_FORM.search(body)
        if vote:
            self.fetch(vote.group(1).replace("&amp;", "&"), {"outcome": "a"})
        return state


def start_server(run: Path) -> tuple[subprocess.Popen, str]:
    """``arena serve`` on a free loopback port; its log goes to RUN/../serve.log."""
    log = open(run.parent / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "arena.cli", "serve", str(run), "--port", "0", "--threads", "8"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    proc.stdout.readline()
    address = proc.stdout.readline().split()[1]
    return proc, address.rstrip("/")


def load(base: str, players: int, deadline_s: float) -> dict:
    deadline = time.time() + deadline_s
    crowd = [Player(base, deadline) for _ in range(players)]
    outcomes: list[str] = []
    opponents = ("victim", "threatening")
    scenarios = ("credit-080", "credit-081", "credit-082")

    def one(i: int) -> None:
        try:
            outcomes.append(crowd[i].play(opponents[i % 2], scenarios[i % 3]))
        except Exception as exc:  # counted, not hidden
            outcomes.append(f"failed: {type(exc).__name__}: {exc}")

    start = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(players)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(deadline_s)
    wall = time.perf_counter() - start
    times = sorted(t for p in crowd for t in p.times)
    return {"players": players, "pages": len(times), "wall_s": wall, "pages_per_s": len(times) / wall,
            "median_ms": 1000 * statistics.median(times), "p95_ms": 1000 * times[int(0.95 * (len(times) - 1))],
            "slowest_ms": 1000 * times[-1], "finished": sum(o == "over" for o in outcomes),
            "slowest_pages": sorted((x for p in crowd for x in p.slowest), reverse=True)[:5],
            "failed": [o for o in outcomes if o.startswith("failed")]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=8)
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds for the whole crowd")
    args = parser.parse_args()
    from agents import AgentSpec
    from arena.runner import run_tournament
    from arena.spec import TournamentSpec

    run = Path(tempfile.mkdtemp(prefix="arena-load-")) / "run"
    spec = TournamentSpec(agents=[AgentSpec(a) for a in ("vanilla", "eq-negotiator", "victim", "threatening")],
                          domains=["credit"], scenarios=3, workers=0)
    run_tournament(spec, run)
    proc, base = start_server(run)
    try:
        rows = [load(base, 1, args.deadline), load(base, args.players, args.deadline)]
    finally:
        proc.terminate()
        proc.wait(30)
    print("| players | pages | wall s | pages/s | median ms | p95 ms | slowest ms | matches finished | failed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['players']} | {r['pages']} | {r['wall_s']:.1f} | {r['pages_per_s']:.1f} | {r['median_ms']:.0f} | "
              f"{r['p95_ms']:.0f} | {r['slowest_ms']:.0f} | {r['finished']} | {len(r['failed'])} |")
    alone, crowd = rows
    print(f"\n{args.players} players: {crowd['pages_per_s'] / alone['pages_per_s']:.2f}x the pages per second of one "
          f"alone; slowest response {crowd['slowest_ms'] / alone['slowest_ms']:.2f}x")
    print("slowest responses with the crowd: " + ", ".join(f"{kind} {1000 * t:.0f} ms" for t, kind in crowd["slowest_pages"]))
    for failure in alone["failed"] + crowd["failed"]:
        print(failure)
    if alone["failed"] or crowd["failed"]:
        print(f"the server's log: {run.parent / 'serve.log'}")


if __name__ == "__main__":
    main()
