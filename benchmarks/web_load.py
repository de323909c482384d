"""Load on ``arena serve``: simulated people play whole matches, read transcripts and vote, over loopback HTTP.

The server runs as ``arena serve`` in its own process on 127.0.0.1 over a scripted run of the
built-in agents on N credit scenarios (1,800 matches and 13.5 MB of transcripts at the default 20,
the size at which the issue measured its costs). Each simulated player opens the pages a person
would: the runs list, the play form, the match page after every move, the run's page, the person's
own transcript, a judging pair, a vote, and the run's page again. One player alone is measured first,
then N at once (after one untimed view of the run's page, so both start from computed tables). With ``--compare-with REF`` the same load runs, in the same process and on the same
run, against a server started from git revision REF of this repository (e.g. ``main``): before and
after, on one machine in one run. Bounded: N players, one match each, and a deadline.

    python benchmarks/web_load.py --players 8 --compare-with main
"""
from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
STATE = re.compile(r'id="state" data-state="(\w+)"')
THEIR_OFFER = re.compile(r'accept their offer of (\d+)')
LIMITS = re.compile(r'id="target">(\d+)<.*?id="reservation">(\d+)<', re.S)
VOTE_FORM = re.compile(r'action="(/judge/[^"]+)"')
TRANSCRIPT_LINK = re.compile(r'href="(/runs/[0-9a-f]+/match\?id=[^"]+)"')
ROOT = Path(__file__).resolve().parents[1]
KINDS = {"run page after a match": "GET run#1", "run page after a vote": "GET run#2", "transcript": "GET transcript",
         "last move (finishes the match)": "POST last move", "runs list": "GET /"}


class Player:
    """One simulated person with their own cookies; every response time is kept, by kind of page."""

    def __init__(self, base: str, deadline: float):
        self.base, self.deadline = base, deadline
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.times: list[tuple[float, str]] = []
        self.hidden: dict[str, str] = {}

    def fetch(self, path: str, form: dict | None = None, kind: str | None = None) -> tuple[str, str]:
        if time.time() > self.deadline:
            raise TimeoutError("past the benchmark's deadline")
        data = urllib.parse.urlencode(form | self.hidden).encode() if form is not None else None
        start = time.perf_counter()
        with self.opener.open(self.base + path, data=data, timeout=120) as reply:
            body, where = reply.read().decode(), reply.geturl()
        label = kind or ("POST " if form is not None else "GET ") + re.sub(r"/[0-9a-f]{10,}", "/ID", path.split("?")[0])
        self.times.append((time.perf_counter() - start, label))
        self.hidden = dict(HIDDEN.findall(body)) or self.hidden  # the form key, and the move's turn where there is one
        return body, where

    def play(self, opponent: str, scenario: str) -> str:
        self.fetch("/", kind=KINDS["runs list"])
        self.fetch("/play")
        self.fetch("/play?domain=credit&role=focal")
        body, where = self.fetch("/play", {"domain": "credit", "role": "focal", "opponent": opponent,
                                           "backend": "scripted", "scenario": scenario})
        match_path = urllib.parse.urlparse(where).path
        target, reservation = map(int, LIMITS.search(body).groups())
        state = "starting"
        for step in range(40):
            state = STATE.search(body).group(1)
            if state == "over":
                break
            if state != "your_turn":
                body, _ = self.fetch(match_path)
                continue
            offer = THEIR_OFFER.search(body)
            if offer and int(offer.group(1)) <= reservation:  # a creditor: fewer days is better
                form = {"move": "accept", "emotion": "joy", "message": "Agreed."}
            elif step >= 6:
                form = {"move": "walk_away", "emotion": "neutral", "message": "No deal."}
            else:  # from the target toward the reservation, never past it
                value = round(target + (reservation - target) * step / 6)
                form = {"move": "offer", "value": str(value), "emotion": "neutral", "message": f"{value} days, please."}
            last = form["move"] != "offer"
            body, _ = self.fetch(match_path, form, kind=KINDS["last move (finishes the match)"] if last else None)
        run_link = re.search(r'href="(/runs/[0-9a-f]+)" id="to-run"', body)
        if run_link:
            self.fetch(run_link.group(1), kind=KINDS["run page after a match"])
            listing, _ = self.fetch(run_link.group(1) + "/matches?agent=human")
            transcript = TRANSCRIPT_LINK.search(listing)
            if transcript:
                self.fetch(transcript.group(1).replace("&amp;", "&"), kind=KINDS["transcript"])
        body, _ = self.fetch("/judge")
        vote = VOTE_FORM.search(body)
        if vote:
            self.fetch(vote.group(1).replace("&amp;", "&"), {"outcome": "a"})
        if run_link:
            self.fetch(run_link.group(1), kind=KINDS["run page after a vote"])
        return state


def start_server(run: Path, tree: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``arena serve`` from the source ``tree`` on a free loopback port; its log goes to ``log``."""
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "arena.cli", "serve", str(run), "--port", "0", "--threads", "8"],
                            stdout=subprocess.PIPE, stderr=open(log, "w"), text=True, cwd=tree, env=env)
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
    times = sorted(t for p in crowd for t, _ in p.times)
    by_kind = {name: [t for p in crowd for t, k in p.times if k == kind] for name, kind in KINDS.items()}
    return {"players": players, "pages": len(times), "wall_s": wall, "pages_per_s": len(times) / wall,
            "median_ms": 1000 * statistics.median(times), "p95_ms": 1000 * times[int(0.95 * (len(times) - 1))],
            "slowest_ms": 1000 * times[-1], "finished": sum(o == "over" for o in outcomes),
            "kinds": {name: 1000 * statistics.median(ts) if ts else float("nan") for name, ts in by_kind.items()},
            "failed": [o for o in outcomes if o.startswith("failed")]}


def source_tree(ref: str, folder: Path) -> Path:
    """This repository's files at git revision ``ref``, unpacked in ``folder``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def measure(name: str, tree: Path, template: Path, work: Path, players: int, deadline: float) -> list[dict]:
    """One player alone, then ``players`` at once, on a fresh copy of the run, served from ``tree``."""
    run = work / f"run-{name}"
    shutil.copytree(template, run)
    proc, base = start_server(run, tree, work / f"serve-{name}.log")
    try:
        warm = Player(base, time.time() + deadline)  # the run's tables computed once before anything is timed
        index, _ = warm.fetch("/")
        warm.fetch(re.search(r'href="(/runs/[0-9a-f]+)"', index).group(1))
        rows = [load(base, 1, deadline), load(base, players, deadline)]
    finally:
        proc.terminate()
        proc.wait(60)
    return [row | {"code": name} for row in rows]


def report(rows: list[dict]) -> None:
    print("| code | players | pages | wall s | pages/s | median ms | p95 ms | slowest ms | " +
          " | ".join(f"{k} (median ms)" for k in KINDS) + " | finished | failed |")
    print("|---" * (10 + len(KINDS)) + "|")
    for r in rows:
        print(f"| {r['code']} | {r['players']} | {r['pages']} | {r['wall_s']:.1f} | {r['pages_per_s']:.1f} | "
              f"{r['median_ms']:.0f} | {r['p95_ms']:.0f} | {r['slowest_ms']:.0f} | " +
              " | ".join(f"{v:.0f}" for v in r["kinds"].values()) + f" | {r['finished']} | {len(r['failed'])} |")
    crowds = {r["code"]: r for r in rows if r["players"] > 1}
    if len(crowds) == 2:
        before, after = crowds.values()
        print(f"\nwith the crowd, {after['code']} against {before['code']}: pages/s "
              f"{after['pages_per_s'] / before['pages_per_s']:.2f}x, slowest response "
              f"{after['slowest_ms'] / before['slowest_ms']:.2f}x, p95 {after['p95_ms'] / before['p95_ms']:.2f}x")
    for r in rows:
        for failure in r["failed"]:
            print(f"{r['code']}: {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=8)
    parser.add_argument("--scenarios", type=int, default=20, help="credit scenarios of the served run (default 20)")
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds for each crowd")
    parser.add_argument("--compare-with", metavar="REF", help="also measure a server from this git revision (before)")
    args = parser.parse_args()
    if args.players < 1 or args.scenarios < 1:
        parser.error("--players and --scenarios must be at least 1")
    from arena.runner import run_tournament
    from arena.spec import TournamentSpec, default_agents

    work = Path(tempfile.mkdtemp(prefix="arena-load-"))
    template = work / "template"
    spec = TournamentSpec(agents=default_agents(), domains=["credit"], scenarios=args.scenarios, workers=0)
    started = time.perf_counter()
    matches = run_tournament(spec, template)
    size = (template / "transcripts.jsonl").stat().st_size / 1e6
    print(f"served run: {len(matches)} matches, {size:.1f} MB of transcripts (made in {time.perf_counter() - started:.0f} s)")
    rows = []
    if args.compare_with:
        rows += measure(args.compare_with, source_tree(args.compare_with, Path(tempfile.mkdtemp(dir=work))),
                        template, work, args.players, args.deadline)
    rows += measure("this tree", ROOT, template, work, args.players, args.deadline)
    report(rows)
    print(f"logs in {work}")


if __name__ == "__main__":
    main()
