"""Served models at a serving engine's concurrency: many conversations per worker, the per-host cap
reached and never exceeded (in-process, on Ray, across two Ray nodes), the same match table at any
cap, worker count or resume, and the servers' cache reuse recorded."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from agents import AgentSpec
from agents.llm import BackendSpec
from arena.cli import main
from arena.lanes import lanes_of
from arena.runner import run_tournament
from arena.schedule import build_sessions
from arena.spec import TournamentSpec
from tests.latency_server import MODEL, LatencyServer

TIMING = ["duration_s"]
AGENTS = ("vanilla", "eq-negotiator", "threatening", "victim")  # eq-negotiator learns across matches
INDEPENDENT = ("vanilla", "threatening", "victim")


def _spec(url: str, cap: int, workers: int = 0, scenarios: int = 4, agents=AGENTS, **kw) -> TournamentSpec:
    backend = BackendSpec("openai", MODEL, base_url=url, cache=False, timeout=20.0)
    return TournamentSpec(agents=[AgentSpec(a, backend=backend) for a in agents], domains=["credit"],
                          scenarios=scenarios, max_messages=8, workers=workers, llm_parallel=cap, **kw).validate()


def _table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path / "matches.parquet").drop(columns=TIMING)


def test_independent_matches_are_lanes_of_their_own_and_learners_keep_their_session():
    spec = _spec("http://127.0.0.1:9/v1", 8)
    by_pair = {(s.focal.name, s.counterpart.name): s for s in build_sessions(spec)}
    assert [len(lane.session.matches) for lane in lanes_of(by_pair["vanilla", "victim"], frozenset())] == [1] * 4
    learning = lanes_of(by_pair["eq-negotiator", "victim"], frozenset())
    assert len(learning) == 1 and learning[0].sticky and len(learning[0].session.matches) == 4
    scripted = _spec("http://127.0.0.1:9/v1", 8).agents[0]
    local = lanes_of(next(s for s in build_sessions(TournamentSpec(agents=[AgentSpec("vanilla")], domains=["credit"],
                                                                    scenarios=3).validate())), frozenset())
    assert len(local) == 1 and local[0].local and scripted.name == "vanilla"  # CPU work stays one lane


def test_requests_in_flight_reach_the_cap_and_never_exceed_it(tmp_path):
    with LatencyServer(latency=0.25) as server:  # none of these agents learns: every match is a lane
        table = run_tournament(_spec(server.openai_url, 8, scenarios=20, agents=INDEPENDENT), tmp_path / "run")
        stats = server.stats()
    assert table["error"].isna().all() and len(table) == 60
    assert stats["peak"] == 8, stats  # reached, and never more
    assert stats["median_in_flight"] >= 7, stats


def test_the_same_table_at_any_cap_and_worker_count(tmp_path):
    with LatencyServer(latency=0.01) as server:
        tables = {cap: _table_of(run_tournament(_spec(server.openai_url, cap), tmp_path / f"cap{cap}"))
                  for cap in (1, 8, 256)}
        on_ray = _table_of(run_tournament(_spec(server.openai_url, 8, workers=2), tmp_path / "ray"))
    reference = tables[1]
    assert len(reference) == 24 and reference["error"].isna().all()
    assert reference["focal_cached_tokens"].gt(0).all()  # the server's cache reuse, recorded per match
    for table in (tables[8], tables[256], on_ray):
        pd.testing.assert_frame_equal(table, reference)


def _table_of(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=TIMING).reset_index(drop=True)


@pytest.mark.ray
@pytest.mark.timeout(300)
def test_the_cap_holds_across_two_ray_nodes_and_the_table_is_the_same(tmp_path, monkeypatch):
    from arena.ray_local import TEMP_ROOT, loopback_only

    loopback_only()  # before the nodes start: every node and its processes on 127.0.0.1
    from ray.cluster_utils import Cluster

    # Cluster writes the head's address to $RAY_TMPDIR/ray/ray_current_cluster without creating
    # the folder: on a fresh machine /tmp/ray does not exist, so give it one of this test's own.
    short = tempfile.mkdtemp(prefix="ar", dir=TEMP_ROOT)
    os.makedirs(os.path.join(short, "ray"))
    monkeypatch.setenv("RAY_TMPDIR", short)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False,
                                                            "temp_dir": short})
    cluster.add_node(num_cpus=1)
    try:
        with LatencyServer(latency=0.2) as server:
            spread = run_tournament(_spec(server.openai_url, 4, workers=2, ray_address=cluster.address),
                                    tmp_path / "two-nodes")
            stats = server.stats()
            local = run_tournament(_spec(server.openai_url, 4), tmp_path / "local")
        addresses = [node.node_ip_address for node in cluster.list_all_nodes()]
    finally:
        cluster.shutdown()
        shutil.rmtree(short, ignore_errors=True)
    assert addresses == ["127.0.0.1"] * 2 and stats["peak"] == 4, (addresses, stats)
    pd.testing.assert_frame_equal(_table_of(spread), _table_of(local))


def _default_sigint() -> None:
    """Ctrl-C as at a terminal: a suite started in the background by a non-interactive shell hands its
    children SIGINT ignored, and Python then raises no KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _arena(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "arena.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=_default_sigint)


def _served_args(url: str, out: Path, cap: int, scenarios: int = 20, agents=AGENTS, repeats: int = 1) -> list[str]:
    return ["tournament", "--backend", "openai", "--model", MODEL, "--base-url", url, "--agents",
            ",".join(agents), "--domains", "credit", "--scenarios", str(scenarios), "--repeats", str(repeats),
            "--max-messages", "8",
            "--llm-parallel", str(cap), "--workers", "0", "--no-cache", "--quiet", "--bootstrap", "100",
            "--out", str(out)]


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def test_a_sigkill_mid_run_resumes_to_the_same_table(tmp_path):
    with LatencyServer(latency=0.05) as server:
        killed = _arena(*_served_args(server.openai_url, tmp_path / "killed", 16))
        log = tmp_path / "killed" / "results.jsonl"
        deadline = time.time() + 120
        while time.time() < deadline and _lines(log) < 30:
            time.sleep(0.05)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
        assert 30 <= _lines(log) < 80
        resumed = _arena(*_served_args(server.openai_url, tmp_path / "killed", 16))
        out, _ = resumed.communicate(timeout=300)
        assert resumed.returncode == 0 and "resuming:" in out, out
        assert main(_served_args(server.openai_url, tmp_path / "whole", 4)) == 0
    pd.testing.assert_frame_equal(_table(tmp_path / "killed"), _table(tmp_path / "whole"))


def test_sigint_with_hundreds_in_flight_stops_within_seconds_and_keeps_what_finished(tmp_path):
    with LatencyServer(latency=1.0) as server:  # 300 independent matches: 256 conversations at once
        run = _arena(*_served_args(server.openai_url, tmp_path / "run", 256, agents=INDEPENDENT, repeats=5))
        deadline = time.time() + 90
        while time.time() < deadline and (server.in_flight < 200 or _lines(tmp_path / "run" / "results.jsonl") < 5):
            time.sleep(0.05)
        assert server.in_flight >= 200, server.stats()
        asked = time.monotonic()
        os.killpg(run.pid, signal.SIGINT)
        out, _ = run.communicate(timeout=30)
        stopped_in = time.monotonic() - asked
    assert run.returncode == 130 and "finished matches are saved" in out, out
    assert stopped_in < 5.0, stopped_in
    kept = _lines(tmp_path / "run" / "results.jsonl")
    assert kept >= 5
    assert main(["show", str(tmp_path / "run")]) == 0  # every kept line is a whole, readable match


@pytest.mark.parametrize("retry_after", [None, "1"])
def test_a_server_that_takes_fewer_than_the_cap_is_backed_off_never_a_lost_match(retry_after, tmp_path):
    with LatencyServer(latency=0.1) as server:
        server.faults.capacity, server.faults.retry_after = 3, retry_after
        table = run_tournament(_spec(server.openai_url, 12), tmp_path / "run")
        refused = server.stats()["refused"]
    assert table["error"].isna().all() and len(table) == 24
    waited = int(table["focal_rate_limited"].sum() + table["counterpart_rate_limited"].sum())
    assert refused > 0 and waited == refused  # every 429 was waited out, and counted


def test_a_server_that_dies_with_requests_in_flight_loses_nothing_and_the_rerun_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    with LatencyServer(latency=0.5) as server:
        args = _served_args(server.openai_url, out, 64, scenarios=20)

        def die_mid_run() -> None:
            while server.requests < 150:
                time.sleep(0.01)
            server.die()  # with about 60 requests in flight

        killer = threading.Thread(target=die_mid_run, daemon=True)
        killer.start()
        assert main(args) == 2
        killer.join()
    err = capsys.readouterr().err
    assert "finished matches are kept: run the same command again to resume" in err
    kept = _lines(out / "results.jsonl")
    with LatencyServer(latency=0.01) as again:
        assert main(_served_args(again.openai_url, out, 64, scenarios=20)) == 0
    assert f"resuming: {kept} of" in capsys.readouterr().out
    assert len(pd.read_parquet(out / "matches.parquet")) == 120


@pytest.mark.parametrize("value", ["0", "-3", "100000"])
def test_bad_llm_parallel_values_are_one_line_and_exit_2(value, tmp_path, capsys):
    assert main(["tournament", "--llm-parallel", value, "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--llm-parallel must be between 1 and 4096" in err[0]
    assert not (tmp_path / "run" / "results.jsonl").exists()


def test_arena_show_reports_the_servers_cache_share(tmp_path, capsys):
    with LatencyServer(latency=0.01) as server:
        assert main(_served_args(server.openai_url, tmp_path / "run", 8, scenarios=2)) == 0
    capsys.readouterr()
    assert main(["show", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "server prompt cache" in out and "%" in out


def test_the_progress_bar_shows_requests_in_flight_rates_and_the_cache_share(tmp_path, capsys):
    with LatencyServer(latency=0.05) as server:
        args = [a for a in _served_args(server.openai_url, tmp_path / "run", 8, scenarios=4) if a != "--quiet"]
        assert main(args) == 0
    bar = capsys.readouterr().err
    for shown in ("in_flight=", "req/s=", "tok/s=", "cache="):
        assert shown in bar, bar[-500:]
    assert bar[bar.rindex("cache=") + len("cache=")].isdigit()  # the server's cache share, as a percentage


def test_traffic_rates_come_from_successive_gauge_readings(monkeypatch):
    import arena.commands as commands

    traffic, clock = commands.Traffic(), [100.0]
    monkeypatch.setattr(commands, "time_now", lambda: clock[0])
    readings = [dict(in_flight=8, requests=0, prompt_tokens=0, completion_tokens=0, cached_tokens=0,
                     cache_reported_prompt_tokens=0),
                dict(in_flight=8, requests=40, prompt_tokens=4000, completion_tokens=800, cached_tokens=3000,
                     cache_reported_prompt_tokens=4000)]
    traffic.update(readings[0])
    clock[0] += 2.0
    traffic.update(readings[1])
    assert traffic.shown == {"in_flight": "8", "req/s": "20.0", "tok/s": "2400", "cache": "75%"}
