"""The documentation: the site builds with warnings as errors, and every Python and shell example in
README.md and docs/ runs here (with Sybil), or says why it cannot (``<!-- not-run: why -->`` above it)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import unittest
from pathlib import Path

import pytest
from sybil import Region, Sybil
from sybil.evaluators.skip import Skipper
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer
from sybil.parsers.myst import CodeBlockParser, PythonCodeBlockParser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)]
RUN_LANGUAGES = {"python", "bash"}  # run, unless skipped with a reason
SHOWN_LANGUAGES = {"toml", "text", "json", "csv", "ini", "markdown"}  # shown, never run (not code to execute)
FENCE = re.compile(r"(`{3,}|~{3,})[ \t]*(\S*)")
NOT_RUN = re.compile(r"^[ \t]*<!--\s*not-run:(.*?)-->", re.S | re.M)


def run_shell(example) -> None:
    """A ```bash block: run with bash -e in the page's working folder, with this environment's tools."""
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", example.parsed], cwd=Path.cwd(), env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise AssertionError(f"{example.path}:{example.line}: exit {done.returncode}\n{example.parsed}\n"
                             f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


class NotRunParser:
    """``<!-- not-run: why -->`` before a block: the block is not run here, and the reason is reported
    (Sybil's own skip machinery, under this project's marker)."""

    def __init__(self) -> None:
        self.lexer = DirectiveInHTMLCommentLexer(directive="not-run", arguments=".+?")
        self.skipper = Skipper("not-run")

    def __call__(self, document):
        for lexed in self.lexer(document):
            yield Region(lexed.start, lexed.end, ("next", repr(lexed.lexemes["arguments"].strip())), self.skipper)


SYBIL = Sybil(parsers=[PythonCodeBlockParser(), CodeBlockParser("bash", run_shell), NotRunParser()])


def fence_languages(text: str) -> set[str]:
    """The info words of a Markdown page's opening code fences (an empty one as "")."""
    found, inside = set(), None
    for line in text.splitlines():
        match = FENCE.match(line.lstrip())
        if match and inside is None:
            inside = match.group(1)
            found.add(match.group(2))
        elif match and line.strip() == inside:
            inside = None
    return found


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_code_blocks_are_runnable_or_say_why_not(page):
    """Every fenced block is run (python, bash) or shown (toml, text, ...); a skip names its reason."""
    text = page.read_text(encoding="utf-8")
    odd = {lang for lang in fence_languages(text) if not lang.startswith("{")} - RUN_LANGUAGES - SHOWN_LANGUAGES
    assert not odd, f"{_name(page)}: fences {odd}: use python or bash (run), or a shown language"
    for reason in NOT_RUN.findall(text):
        assert len(reason.strip()) >= 10, f"{_name(page)}: <!-- not-run: ... --> needs a reason, got {reason!r}"
    assert "<!-- skip:" not in text, f"{_name(page)}: mark a block <!-- not-run: why --> (the one marker)"


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if "```python" in p.read_text() or "```bash" in p.read_text()],
                         ids=_name)
def test_examples_run(page, tmp_path, monkeypatch):
    """The page's examples in order, in one namespace, in a fresh folder holding the repository's examples/."""
    from agents import REGISTRY

    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    registered = dict(REGISTRY)
    try:
        for example in SYBIL.parse(page):
            try:
                example.evaluate()
            except unittest.SkipTest:  # marked <!-- not-run: why --> above the block
                continue
    finally:
        REGISTRY.clear()
        REGISTRY.update(registered)


@pytest.mark.slow
def test_the_site_builds_with_warnings_as_errors(tmp_path):
    """A broken link, reference, toctree or generated table fails the build (and so CI)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS),
                           str(tmp_path / "html")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    assert (tmp_path / "html" / "index.html").exists()
    print(f"docs built in {time.perf_counter() - start:.1f} s")


def test_every_column_of_a_real_match_table_is_documented(tmp_path):
    """docs/reference/run-directory.md names every column of matches.parquet (`{role}_x` for both roles)."""
    from agents import AgentSpec
    from arena import TournamentSpec, run_tournament

    table = run_tournament(TournamentSpec(agents=[AgentSpec("vanilla"), AgentSpec("victim")], domains=["credit"],
                                          scenarios=1, workers=0), tmp_path / "run")
    text = (DOCS / "reference" / "run-directory.md").read_text()
    documented = set(re.findall(r"`([a-z_{}]+)`", text))
    named = lambda column: column in documented or any(
        column.startswith(f"{role}_") and "{role}_" + column[len(role) + 1:] in documented
        for role in ("focal", "counterpart"))
    assert not [c for c in table.columns if not named(c)]
    files = set(re.findall(r"^\| `([^`]+)`", text, re.M))
    assert {p.name for p in (tmp_path / "run").iterdir()} - {"report"} <= files


def test_help_and_agents_point_to_the_docs():
    """Every command's help ends with a docs page that exists; `arena agents --long` prints whole descriptions."""
    from arena.cli import DOC_PAGES, build_parser

    assert all((ROOT / page).is_file() for page in DOC_PAGES.values())
    parser = build_parser()
    assert "docs/index.md" in parser.format_help()
    for name in ("tournament", "compare", "serve", "study", "train"):
        help_text = parser._subparsers._group_actions[0].choices[name].format_help()
        assert DOC_PAGES[name] in " ".join(help_text.split()), name
    done = subprocess.run([sys.executable, "-m", "arena.cli", "agents", "--long"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    eq = done.stdout[done.stdout.index("eq-negotiator  ("):]
    assert "stance_weight" in eq and "lose" in eq.lower()
