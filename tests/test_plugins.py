"""Entry-point plugins: the example package installs, appears in `arena agents` and plays; a broken one is named."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> str:
    """The example plugin installed into its own folder, plus a broken plugin's metadata beside it."""
    target = tmp_path_factory.mktemp("plugins")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT / "examples" / "plugin-agent")], check=True)
    broken = target / "arena_broken_plugin-0.1.dist-info"
    broken.mkdir()
    (broken / "METADATA").write_text("Metadata-Version: 2.1\nName: arena-broken-plugin\nVersion: 0.1\n")
    (broken / "entry_points.txt").write_text("[arena.agents]\nbroken = no_such_module_here:Agent\n")
    # a plugin that also uses @register (which an entry point makes unnecessary), and one named like a built-in
    (target / "registered_plugin.py").write_text(
        "from agents import Agent, register\nfrom envs import Action\n\n@register('regagent')\nclass Reg(Agent):\n"
        "    def act(self, obs):\n        return Action.offer(self.view.target, 'neutral', 'Target.')\n")
    for name, points in (("arena_registered_plugin", "regagent = registered_plugin:Reg\n"),
                         ("arena_impostor_plugin", "vanilla = registered_plugin:Reg\n")):
        info = target / f"{name}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[arena.agents]\n{points}")
    return str(target)


def _arena(plugin_path: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([plugin_path, str(ROOT)]))
    return subprocess.run([sys.executable, "-m", "arena.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_plugin_is_listed_with_its_package_and_the_broken_one_is_named(plugin_path, tmp_path):
    result = _arena(plugin_path, "agents", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if l.strip().startswith("midpoint"))
    assert "arena-midpoint-agent" in line
    assert "plugin 'broken' failed to load: ModuleNotFoundError" in result.stdout
    assert "vanilla" in result.stdout  # the others still load
    registered = next(l for l in result.stdout.splitlines() if l.strip().startswith("regagent"))
    assert "arena-registered-plugin" in registered  # its package, not eq-arena
    assert "plugin 'vanilla' from arena-impostor-plugin is named like the eq-arena agent" in result.stdout
    vanilla = next(l for l in result.stdout.splitlines() if l.strip().startswith("vanilla "))
    assert "eq-arena" in vanilla


def test_a_broken_plugin_named_in_agents_shows_its_load_error(plugin_path, tmp_path):
    result = _arena(plugin_path, "tournament", "--agents", "broken,victim", "--quiet", "--out", "run", cwd=tmp_path)
    assert result.returncode == 2
    assert "comes from a plugin that failed to load: ModuleNotFoundError" in result.stderr


@pytest.mark.ray
def test_plugin_agent_plays_in_a_ray_tournament(plugin_path, tmp_path):
    result = _arena(plugin_path, "tournament", "--agents", "midpoint,vanilla,victim", "--domains", "credit,sleep",
                    "--scenarios", "2", "--workers", "1", "--quiet", "--bootstrap", "100", "--out", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    table = pd.read_parquet(tmp_path / "run" / "matches.parquet")
    mine = table[(table["focal_agent"] == "midpoint") | (table["counterpart_agent"] == "midpoint")]
    # as focal against midpoint, vanilla and victim; as counterpart against vanilla: 4 per scenario and domain
    assert len(mine) == 4 * 2 * 2 and mine["error"].isna().all()
    assert "midpoint" in result.stdout
