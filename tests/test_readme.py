"""The README's custom agent is complete, under 40 lines, and plays a match."""
from __future__ import annotations

import re
from pathlib import Path

from agents import AgentSpec
from envs import load_scenarios
from tests.helpers import play_pair

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_custom_agent_runs_and_plays():
    text = README.read_text()
    section = text[text.index("### Writing a custom agent"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) < 40
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    record, transcript, _ = play_pair(AgentSpec("midpoint"), AgentSpec("victim"), load_scenarios("credit", "test")[0])
    assert record["rounds"] == len(transcript) and transcript[0]["emotion"] == "joy"


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one():
    lines = README.read_text().splitlines()
    assert lines[3].endswith("arena tournament") and lines[4].endswith("python -m pytest -q")
    ci = (README.parent / ".ci" / "run").read_text()
    assert lines[4] in ci
