"""The README: short, starts with the two commands (CI runs the test one), and every link into the
docs leads to a page that exists. Its code blocks run in tests/test_docs.py."""
from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
MAX_CHARS = 10_500  # "at most about 10,000 characters": everything else lives in docs/


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one():
    lines = README.read_text().splitlines()
    assert lines[0] == "# eq-arena" and lines[2] == "```bash"
    assert lines[3].endswith("arena tournament") and lines[4].endswith("python -m pytest -q")
    ci = (README.parent / ".ci" / "run").read_text()
    assert lines[4] in ci


def test_readme_is_short_and_its_links_exist():
    text = README.read_text()
    assert len(text) <= MAX_CHARS, f"README.md has {len(text)} characters; move detail into docs/"
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert links and all((README.parent / link).exists() for link in links if "://" not in link), links
    for page in ("docs/guides/write-an-agent.md", "docs/guides/served-models.md", "docs/guides/compare.md",
                 "docs/getting-started/first-tournament.md"):
        assert f"({page})" in text, page
