"""Mutation testing of the paper agents: do their tests fail when an agent stops following its paper?

Two passes, each in a scratch copy of the repository (so nothing lands in the worktree):

* ``mutmut``: mutmut 3 (``pip install -e ".[mutation]"``) over EQ-Negotiator (both versions), its
  HMMs and the EmoDistill selector, each mutant run against the fast tests that exercise it; prints
  the kill rate and every mutant not killed. docs/papers/mutation.md names each survivor and why.
* ``hand``: the published constants live in data files, which mutmut does not mutate, so
  benchmarks/paper_mutants.toml lists changes to them (and the rules issue 29 found unguarded); each
  is applied by text and the EQ tests must fail.

    python benchmarks/mutation.py                  # both passes (about 30 min on 2 shared cores)
    python benchmarks/mutation.py --pass hand      # the hand mutants only (a few minutes)
    python benchmarks/mutation.py --show NAME      # the diff of one mutmut mutant (after a run)
    python benchmarks/mutation.py --tests tests/test_eq_negotiator.py tests/test_emodistill.py  # older tests

Exit status: 0 when the run finished (whatever the kill rate), 2 on bad usage or a missing mutmut.
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTATED = ("agents/builtin/eq_negotiator.py", "agents/builtin/eq_negotiator_v1.py", "agents/eq_model.py",
           "agents/emodistill/*.py", "agents/builtin/emodistill_agent.py")
TESTS = ("tests/test_eq_negotiator.py", "tests/test_eq_published.py", "tests/test_eq_published_v1.py",
         "tests/test_eq_model.py", "tests/test_emodistill.py", "tests/test_emodistill_selector.py")
# tests that train networks or spawn processes: slow, and they exercise arena/training, not the selector
DESELECT = "not iql and not stacked and not backward and not gradients and not pipeline and not torch and not train_errors"
COPIED = ("agents", "envs", "arena", "leaderboards", "pyproject.toml")
HELPERS = ("tests/conftest.py", "tests/helpers.py", "tests/eq_helpers.py")
HAND_MUTANTS = ROOT / "benchmarks" / "paper_mutants.toml"
EQ_TESTS = ("tests/test_eq_negotiator.py", "tests/test_eq_published.py", "tests/test_eq_published_v1.py",
            "tests/test_eq_model.py")


def _setup_cfg(tests: list[str]) -> str:
    lines = "\n".join(f"    {p}" for p in MUTATED)
    selection = "\n".join(f"    {t}" for t in tests)
    return textwrap.dedent("""\
        [mutmut]
        source_paths = agents
        only_mutate =
        {only}
        pytest_add_cli_args =
            -q
            -p
            no:cacheprovider
            -m
            not slow
            -k
            {deselect}
        pytest_add_cli_args_test_selection =
        {selection}
        """).format(only=lines, deselect=DESELECT, selection=selection)


def prepare(work: Path, tests: list[str]) -> None:
    """A fresh scratch copy with the code, the selected tests and mutmut's configuration."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=ignore)
        else:
            shutil.copy2(source, work / name)
    (work / "tests").mkdir()
    for name in (*HELPERS, *tests):
        shutil.copy2(ROOT / name, work / name)
    (work / "setup.cfg").write_text(_setup_cfg(tests))


def results(work: Path) -> dict[str, str]:
    """mutant name -> status, from ``mutmut results --all true``."""
    out = subprocess.run(["mutmut", "results", "--all", "true"], cwd=work, capture_output=True, text=True, check=True)
    found = {}
    for line in out.stdout.splitlines():
        match = re.match(r"\s*(\S+__mutmut_\d+): (.+)$", line)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def report(statuses: dict[str, str]) -> None:
    counts = collections.Counter(statuses.values())
    killed = counts.get("killed", 0)
    judged = killed + counts.get("survived", 0) + counts.get("timeout", 0) + counts.get("suspicious", 0)
    print("status counts:", dict(sorted(counts.items())))
    if judged:
        print(f"kill rate: {killed}/{judged} = {killed / judged:.1%} (timeouts and suspicious count as not killed)")
    survivors = sorted(name for name, status in statuses.items() if status not in ("killed",))
    if survivors:
        print("not killed:")
        for name in survivors:
            print(f"  {name}: {statuses[name]}")


def run_mutmut(work: Path, tests: list[str], max_children: int) -> None:
    prepare(work, tests)
    run = subprocess.run(["mutmut", "run", "--max-children", str(max_children)], cwd=work)
    if run.returncode != 0:
        print(f"mutmut run exited {run.returncode}", file=sys.stderr)
    report(results(work))


def run_hand(work: Path, tests: list[str]) -> None:
    """Apply each hand mutant to a fresh copy of its file and run the EQ tests (stopping at the first failure)."""
    prepare(work, tests)
    mutants = tomllib.loads(HAND_MUTANTS.read_text())["mutant"]
    survivors = []
    for mutant in mutants:
        target = work / mutant["file"]
        original = target.read_text()
        if original.count(mutant["old"]) != 1:
            raise SystemExit(f"hand mutant {mutant['name']}: its text occurs {original.count(mutant['old'])} times "
                             f"in {mutant['file']}; update benchmarks/paper_mutants.toml")
        target.write_text(original.replace(mutant["old"], mutant["new"]))
        try:
            done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                                  cwd=work, capture_output=True, text=True)
        finally:
            target.write_text(original)
        killed = done.returncode == 1
        if done.returncode not in (0, 1):
            print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
        print(f"  {'killed  ' if killed else 'SURVIVED'} {mutant['name']}: {mutant['what']}", flush=True)
        if not killed:
            survivors.append(mutant["name"])
    print(f"hand mutants killed: {len(mutants) - len(survivors)}/{len(mutants)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "eq-arena-mutation",
                        help="scratch directory (replaced on every run)")
    parser.add_argument("--tests", nargs="+", default=list(TESTS), help="test files the mutants are run against")
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutant workers (default 2)")
    parser.add_argument("--show", metavar="MUTANT", help="print one mutant's diff from the last run and exit")
    parser.add_argument("--pass", dest="passes", choices=("mutmut", "hand", "both"), default="both")
    args = parser.parse_args(argv)
    if args.passes != "hand" and shutil.which("mutmut") is None:
        print("mutmut is not installed: pip install -e '.[mutation]'", file=sys.stderr)
        return 2
    if args.show:
        return subprocess.run(["mutmut", "show", args.show], cwd=args.work).returncode
    missing = [t for t in args.tests if not (ROOT / t).is_file()]
    if missing:
        print(f"no such test file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.passes in ("hand", "both"):
        print("hand mutants (benchmarks/paper_mutants.toml):", flush=True)
        run_hand(args.work.with_name(args.work.name + "-hand"), [t for t in args.tests if t in EQ_TESTS])
    if args.passes in ("mutmut", "both"):
        run_mutmut(args.work, args.tests, args.max_children)
    return 0


if __name__ == "__main__":
    sys.exit(main())
