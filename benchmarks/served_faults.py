"""Served-model faults at a 30 % rate, on the code before and after, in one run: for each fault a
loopback server can send (tests/latency_server.py RANDOM_FAULTS: 429 with and without Retry-After,
503, 500 with a null body, bodies of the wrong shape), a 24-match tournament through the ollama and
the openai backends, each on the code at ``--before`` (a checkout of an earlier commit) and on this
tree. Each row: the faults injected (counted at the server), what the matches counted (re-sends,
rate-limit waits, malformed replies, fallbacks), and the outcome (finished and errored matches, the
exit status and its last line).

    git worktree add /tmp/before 7938239   # the commit before the served-faults work
    python benchmarks/served_faults.py --before /tmp/before [--rate 0.3] [--faults 429,503]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.latency_server import MODEL, RANDOM_FAULTS  # noqa: E402

COUNTS = ("transport_retries", "rate_limited", "malformed", "fallbacks")


def start_server(fault: str, rate: float) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "tests.latency_server", "--latency", "0.02", "--fault", fault,
                                "--rate", str(rate)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    return process, process.stdout.readline().strip()


def injected(url: str) -> int:
    import urllib.request

    with urllib.request.urlopen(f"{url}/stats", timeout=10) as reply:
        return json.loads(reply.read())["injected"]


def tournament(code: Path, backend: str, url: str, out: Path) -> tuple[int, str]:
    """The CLI of the code at ``code`` (its packages first on the path); exit status and last line."""
    where = ["--ollama-host", url] if backend == "ollama" else ["--base-url", f"{url}/v1"]
    args = [sys.executable, "-m", "arena.cli", "tournament", "--backend", backend, "--model", MODEL, *where,
            "--agents", "vanilla,victim", "--domains", "credit", "--scenarios", "12", "--max-messages", "8",
            "--workers", "0", "--no-cache", "--quiet", "--bootstrap", "100", "--out", str(out)]
    done = subprocess.run(args, cwd=code, capture_output=True, text=True, timeout=1800)
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return done.returncode, (lines[-1] if lines else "")[:90]


def records(out: Path) -> pd.DataFrame:
    """The run's matches, finished or not (its table, else its log)."""
    if (out / "matches.parquet").exists():
        return pd.read_parquet(out / "matches.parquet")
    log = out / "results.jsonl"
    rows = [json.loads(line)["record"] for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
    return pd.DataFrame(rows)


def row(code_name: str, code: Path, backend: str, fault: str, rate: float) -> dict:
    process, url = start_server(fault, rate)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            status, last = tournament(code, backend, url, Path(tmp) / "run")
            table = records(Path(tmp) / "run")
        sent = injected(url)
    finally:
        process.terminate()
    counted = {k: int(sum(table[f"{r}_{k}"].sum() for r in ("focal", "counterpart")))
               if f"focal_{k}" in table else None for k in COUNTS}
    errored = int(table["error"].notna().sum()) if len(table) else 0
    return {"fault": fault, "backend": backend, "code": code_name, "injected": sent, **counted,
            "finished": len(table) - errored, "errored": errored, "exit": status, "last line": last}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the code to compare against")
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--faults", default=",".join(RANDOM_FAULTS))
    args = parser.parse_args()
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = sorted(set(faults) - set(RANDOM_FAULTS))
    if unknown or not 0 < args.rate < 1 or not (args.before / "arena" / "cli.py").is_file():
        parser.exit(2, f"served_faults: choose faults from {', '.join(RANDOM_FAULTS)}, a rate in (0, 1) and a "
                       "--before checkout of eq-arena\n")
    rows = [row(name, code, backend, fault, args.rate) for fault in faults for backend in ("ollama", "openai")
            for name, code in (("before", args.before), ("after", ROOT))]
    print(f"faults at {args.rate:.0%} of chat requests; 24 matches (vanilla, victim on 12 credit scenarios), "
          "max 8 messages, in-process, cache off")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
