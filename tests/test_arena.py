"""Arena: schedule, execution in-process and on Ray, durable results, resume after SIGKILL, CLI errors."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from agents import REGISTRY, Agent, AgentSpec, register
from arena.cli import main
from arena.runner import run_tournament
from arena.schedule import build_sessions
from arena.spec import TournamentSpec, resolve_backends
from arena.storage import load_transcripts
from tests.helpers import outcomes
from envs import COUNTERPART, FOCAL, Action

AGENTS = ["vanilla", "eq-negotiator", "boulware", "tit-for-tat", "victim", "threatening"]
TIMING = ["duration_s"]


def _spec(**kw) -> TournamentSpec:
    values = dict(agents=[AgentSpec(a) for a in AGENTS], domains=["credit", "sleep"], scenarios=3, workers=0)
    values.update(kw)
    return resolve_backends(TournamentSpec(**values)).validate()


def test_schedule_is_role_compatible_complete_and_deterministic():
    spec = _spec(repeats=2)
    sessions = build_sessions(spec)
    matches = [m for s in sessions for m in s.matches]
    focal = [a for a in AGENTS if FOCAL in REGISTRY[a].agent_class.roles]
    counter = [a for a in AGENTS if COUNTERPART in REGISTRY[a].agent_class.roles]
    assert len(matches) == len(focal) * len(counter) * 2 * 3 * 2
    assert len({m.match_id for m in matches}) == len(matches)
    # common random numbers: one shared seed per (domain, scenario, repeat); an agent's own seed adds
    # its role and registry name, never its opponent's
    assert len({m.seed for m in matches}) == 2 * 3 * 2
    by_coords = {}
    for m in matches:
        by_coords.setdefault((m.domain, m.scenario_id, m.repeat, m.counterpart.name), set()).add(m.counterpart_seed)
        assert m.focal_seed != m.counterpart_seed
    assert all(len(seeds) == 1 for seeds in by_coords.values())
    again = [m for s in build_sessions(spec) for m in s.matches]
    key = lambda m: (m.match_id, m.seed, m.focal_seed, m.counterpart_seed)  # noqa: E731
    assert [key(m) for m in again] == [key(m) for m in matches]
    other_seed = [m.seed for s in build_sessions(_spec(repeats=2, seed=1)) for m in s.matches]
    assert other_seed != [m.seed for m in matches]
    both = {(m.focal.name, m.counterpart.name) for m in matches}
    assert ("vanilla", "vanilla") in both and ("boulware", "tit-for-tat") in both and ("tit-for-tat", "boulware") in both


@pytest.mark.ray
def test_ray_run_equals_in_process_run_and_binds_loopback(tmp_path, monkeypatch):
    import arena.runner as runner
    from arena import ray_local

    addresses = []
    real_stop = ray_local.stop_ray

    def stop_and_record(handle):
        addresses.extend(ray_local.node_addresses())
        real_stop(handle)

    monkeypatch.setattr(runner, "stop_ray", stop_and_record)
    local = run_tournament(_spec(), tmp_path / "local")
    on_ray = run_tournament(_spec(workers=2), tmp_path / "ray")
    assert addresses and set(addresses) == {"127.0.0.1"}
    pd.testing.assert_frame_equal(local.drop(columns=TIMING), on_ray.drop(columns=TIMING))
    assert (tmp_path / "ray" / "matches.parquet").exists() and (tmp_path / "ray" / "tournament.toml").exists()
    transcripts = load_transcripts(tmp_path / "ray")
    assert len(transcripts) == len(on_ray) and outcomes(tmp_path / "local") == outcomes(tmp_path / "ray")
    move = next(iter(transcripts.values()))[0]
    assert {"role", "move", "value", "emotion", "sensed", "message", "prompt_tokens", "latency_s", "malformed"} <= set(move)


def _arena(*args: str, cwd: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "arena.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True, **kw)


def _default_match_count(scenarios: int) -> int:
    from arena.spec import default_agents

    classes = [REGISTRY[a.name].agent_class for a in default_agents()]
    return sum(FOCAL in c.roles for c in classes) * sum(COUNTERPART in c.roles for c in classes) * 4 * scenarios


def test_default_agents_are_every_builtin():
    from arena.spec import default_agents

    names = {a.name for a in default_agents()}
    assert {"emodistill", "eq-negotiator", "eq-negotiator-v1", "vanilla", "fixed-emotion", "victim",
            "tit-for-tat"} <= names
    assert "explosive" not in names and _default_match_count(20) == 10 * 9 * 4 * 20


@pytest.mark.ray
@pytest.mark.slow
def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path):
    args = ["tournament", "--scenarios", "5", "--workers", "1", "--quiet", "--bootstrap", "100"]
    killed = _arena(*args, "--out", str(tmp_path / "killed"), cwd=tmp_path)
    log = tmp_path / "killed" / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or len(log.read_bytes().splitlines()) < 60):
        time.sleep(0.2)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)
    expected = _default_match_count(scenarios=5)
    lines_at_kill = len(log.read_bytes().splitlines())
    assert killed.returncode == -signal.SIGKILL and 60 <= lines_at_kill < expected
    assert not (tmp_path / "killed" / "matches.parquet").exists()
    resumed = _arena(*args, "--out", str(tmp_path / "killed"), cwd=tmp_path)
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    assert "resuming:" in out
    reference = _arena("tournament", "--scenarios", "5", "--workers", "0", "--quiet", "--bootstrap", "100",
                       "--out", str(tmp_path / "whole"), cwd=tmp_path)
    assert reference.wait(timeout=300) == 0
    a = pd.read_parquet(tmp_path / "killed" / "matches.parquet").drop(columns=TIMING)
    b = pd.read_parquet(tmp_path / "whole" / "matches.parquet").drop(columns=TIMING)
    assert len(a) == expected
    pd.testing.assert_frame_equal(a, b)


@register("explosive")
class Explosive(Agent):
    """Raises on its third move: the match is retried, then recorded as errored."""

    name = "explosive"

    def act(self, obs):
        if obs.turn >= 2:
            raise RuntimeError("boom")
        return Action.offer(self.view.target, message="Opening.")


def test_failed_matches_are_retried_then_recorded_never_as_a_loss(tmp_path):
    import leaderboards

    spec = _spec(agents=[AgentSpec("explosive"), AgentSpec("linear")], domains=["credit"], scenarios=2, match_retries=2)
    table = run_tournament(spec, tmp_path / "run")
    bad = table[table["error"].notna()]
    assert len(bad) == 6 and set(bad["attempts"]) == {3} and bad["error"].str.contains("boom").all()
    assert bad["focal_utility"].isna().all() and bad["agreement"].isna().all()
    board = leaderboards.leaderboard(table, bootstrap=100)
    assert board.attrs["errored_excluded"] == 6


def test_outputs_and_inspection_commands(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["tournament", "--agents", "vanilla,victim,eq-negotiator", "--domains", "credit", "--scenarios", "2",
                 "--workers", "0", "--quiet", "--bootstrap", "100", "--out", str(out)]) == 0
    assert (out / "report" / "ratings_focal.png").exists() and (out / "report" / "win_rates.svg").exists()
    toml_text = (out / "tournament.toml").read_text()
    assert 'domains = [\n    "credit",\n]' in toml_text or 'domains = ["credit"]' in toml_text
    table = pd.read_parquet(out / "matches.parquet")
    assert len(table) == 2 * 2 * 2  # focal: vanilla, eq-negotiator; counterpart: vanilla, victim
    capsys.readouterr()
    assert main(["show", str(out)]) == 0 and "agreement rate" in capsys.readouterr().out
    assert main(["replay", str(out), table["match_id"].iloc[0]]) == 0
    assert "ended by" in capsys.readouterr().out
    assert main(["leaderboard", str(out), "--format", "json", "--bootstrap", "100"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"][0]["agent"]
    assert main(["leaderboard", str(out), "--method", "elo", "--view", "same-role", "--by", "domain"]) == 0
    assert main(["agents"]) == 0 and "eq-negotiator" in capsys.readouterr().out
    assert main(["domains"]) == 0 and "minutes past 9 PM" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--agents", "vanila"], "did you mean vanilla"),
    (["--domains", "mars"], "unknown domain 'mars'"),
    (["--scenarios", "0"], "--scenarios must be at least 1"),
    (["--repeats", "-1"], "--repeats must be at least 1"),
    (["--config", "missing.toml"], "config file not found"),
])
def test_usage_errors_exit_2_with_one_clear_message(args, message, capsys, tmp_path):
    assert main(["tournament", "--workers", "0", "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_config_file_and_unknown_run(tmp_path, capsys):
    config = tmp_path / "t.toml"
    config.write_text('domains = ["credit"]\nsenarios = 3\n')
    assert main(["tournament", "--config", str(config), "--out", str(tmp_path / "y")]) == 2
    assert "unknown keys senarios" in capsys.readouterr().err
    assert main(["show", str(tmp_path / "nothing")]) == 2


def test_config_file_with_flags_overriding(tmp_path):
    from arena.commands import build_spec

    config = tmp_path / "t.toml"
    config.write_text('domains = ["credit", "rescue"]\nscenarios = 4\nseed = 9\n\n[[agents]]\nname = "fixed-emotion"\n'
                      'label = "angry"\nparams = { emotion = "anger" }\n\n[[agents]]\nname = "victim"\n')
    spec = build_spec(str(config), {"scenarios": 2})
    assert spec.scenarios == 2 and spec.seed == 9 and spec.domains == ["credit", "rescue"]
    config.write_text(config.read_text() + '\n[[agents]]\nname = "vanilla"\nbackend = { kind = "scripted" }\n'
                      'label = "plain"\n')
    mixed = build_spec(str(config), {"backend": "llama-cpp"})
    kinds = {a.display_name: a.backend.kind for a in mixed.agents}
    assert kinds == {"angry": "llama-cpp", "victim": "llama-cpp", "plain": "scripted"}
    assert [a.display_name for a in spec.agents] == ["angry", "victim"] and spec.agents[0].params["emotion"] == "anger"


def test_resume_refuses_a_different_tournament(tmp_path, capsys):
    out = str(tmp_path / "run")
    base = ["tournament", "--agents", "linear,victim", "--domains", "credit", "--scenarios", "1", "--workers", "0",
            "--quiet", "--bootstrap", "100", "--out", out]
    assert main(base) == 0
    assert main(base[:-2] + ["--seed", "5", "--out", out]) == 2
    assert "different tournament" in capsys.readouterr().err


def test_example_config_loads():
    from arena.commands import build_spec

    spec = build_spec(str(Path(__file__).resolve().parents[1] / "examples" / "tournament.toml"), {})
    assert spec.domains == ["credit", "hospital"] and "angry" in [a.display_name for a in spec.agents]
    # focal: eq-negotiator, emodistill, angry, vanilla; counterpart: vanilla and three personas
    assert len([m for s in build_sessions(spec) for m in s.matches]) == 4 * 4 * 2 * 10 * 3
