"""Faults lose nothing: a corrupt response cache, two writers, a failing disk at finalize, a reader
during a write, and errored matches that keep their counters."""
from __future__ import annotations

import json
import threading
import time

import pytest

from agents.llm.base import Completion
from agents.llm.cache import ResponseCache
from arena.cli import main
from arena.storage import RunStore, load_matches
from tests.helpers import unfinish

SMALL = ["--agents", "vanilla,victim", "--domains", "credit", "--scenarios", "2", "--workers", "0", "--quiet"]


def _filled_cache(path):
    cache = ResponseCache(path)
    cache.put("k", Completion("reply", None, 3, 4, 0.1, "m"))
    conn = cache._connect()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cache._close()
    return path


@pytest.mark.parametrize("damage", ["header", "pages"])
def test_a_corrupt_response_cache_is_set_aside_and_named(damage, tmp_path):
    path = _filled_cache(tmp_path / "responses.sqlite")
    data = bytearray(path.read_bytes())
    if damage == "header":
        data[:16] = b"not a database!!"
    else:
        data[200:] = bytes([0xAB]) * (len(data) - 200)
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="responses.sqlite is unreadable .* moved it to"):
        cache = ResponseCache(path)
    assert cache.get("k") is None  # a fresh, empty cache: replies are asked again
    cache.put("k", Completion("again", None, 1, 1, 0.1, "m"))
    assert cache.get("k").text == "again"
    assert any(p.name.startswith("responses.sqlite.corrupt-") for p in tmp_path.iterdir())


def test_a_second_writer_is_refused_with_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    holder = RunStore(out)
    try:
        assert main(["tournament", *SMALL, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is being written by arena process" in err[0]
    finally:
        holder.close()
    assert main(["tournament", *SMALL, "--out", str(out)]) == 0  # once it is released, the run goes on


def _full_disk_in_pyarrow(table, where, **kwargs):
    """pyarrow on a full disk: some bytes written, then an OSError that names no path."""
    with open(where, "wb") as f:
        f.write(b"PAR1 half a file")
    raise OSError(28, "No space left on device")


def _full_disk_with_path(self, where, **kwargs):
    raise OSError(28, "No space left on device", str(where))


@pytest.mark.parametrize("target,patch", [("transcripts.parquet", ("arena.archive.pq.write_table", _full_disk_in_pyarrow)),
                                          ("matches.parquet", ("pandas.DataFrame.to_parquet", _full_disk_with_path))])
def test_a_full_disk_at_finalize_names_the_file_leaves_no_temporary_and_loses_nothing(target, patch, tmp_path,
                                                                                      monkeypatch, capsys):
    out = tmp_path / "run"
    assert main(["tournament", *SMALL, "--out", str(out)]) == 0
    lines = unfinish(out)  # as if killed before finalizing: every match in the log
    log = (out / "results.jsonl").read_bytes()
    match_id = json.loads(lines[0])["record"]["match_id"]
    monkeypatch.setattr(*patch)
    capsys.readouterr()
    assert main(["tournament", *SMALL, "--out", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == [f"arena: error: cannot use {out / target}: no space left on the device; free some and rerun with "
                   "the same --out to resume"], err
    assert not list(out.glob(".*.tmp")) and (out / "results.jsonl").read_bytes() == log
    monkeypatch.undo()
    assert main(["replay", str(out), match_id]) == 0  # found in the log
    assert main(["tournament", *SMALL, "--out", str(out)]) == 0
    assert len(load_matches(out)) == 4 and not (out / "results.jsonl").exists()


def test_a_full_disk_while_logging_names_the_log(tmp_path):
    store = RunStore(tmp_path)
    try:
        class FullDisk:
            def write(self, text):
                raise OSError(28, "No space left on device")

            def close(self):
                pass
        store._file = FullDisk()
        with pytest.raises(OSError) as caught:
            store.append([RunStore.encode({"match_id": "m"}, [])])
        assert caught.value.errno == 28 and caught.value.filename == str(tmp_path / "results.jsonl")
    finally:
        store.close()


def test_a_reader_during_a_write_changes_nothing(tmp_path):
    out = tmp_path / "run"
    store = RunStore(out)
    try:
        store._file.write('{"record": {"match_id": "half')  # a writer mid-line
        store._file.flush()
        before = (out / "results.jsonl").read_bytes()
        with pytest.raises(FileNotFoundError, match="no finished matches"):
            from arena.storage import load_matches
            load_matches(out)
        assert (out / "results.jsonl").read_bytes() == before
    finally:
        store.close()


def test_errored_matches_keep_their_model_counters(tmp_path):
    from agents import AgentSpec, ScenarioView, make_agent
    from agents.llm import CallStats
    from arena.match import error_record
    from arena.schedule import MatchSpec
    from envs import COUNTERPART, FOCAL, load_scenarios

    scenario = load_scenarios("credit")[0]
    match = MatchSpec.at("m", "s", scenario, 0, 0, AgentSpec("vanilla"), AgentSpec("victim"))
    agents = {FOCAL: make_agent(AgentSpec("vanilla")), COUNTERPART: make_agent(AgentSpec("victim"))}
    for kind in (FOCAL, COUNTERPART):
        agents[kind].reset(ScenarioView.of(scenario, kind, 30, "goemotions-28"), kind, 1)
    agents[FOCAL].speaker.stats = CallStats(requests=7, malformed=3, fallbacks=1)
    record = error_record(match, "BackendError: down", 2, agents)
    assert record["focal_requests"] == 7 and record["focal_malformed"] == 3 and record["focal_fallbacks"] == 1
    assert record["focal_utility"] is None and record["ended_by"] == "error"


@pytest.mark.parametrize("errno,expected", [(30, "the filesystem is read-only"), (13, "permission denied"),
                                            (28, "no space left on the device; free some and rerun")])
def test_unwritable_output_directories_give_one_line(errno, expected, tmp_path, monkeypatch, capsys):
    from pathlib import Path

    def refuse(self, *args, **kwargs):
        raise OSError(errno, "refused", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert main(["tournament", *SMALL, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0] and str(tmp_path / "run") in err[0]


def test_a_reader_never_sees_half_of_a_replaced_match_table(tmp_path):
    """The web app reads a run while people's matches are written into it: every read is whole."""
    store = RunStore(tmp_path)
    store.append([RunStore.encode({"match_id": f"m{i}", "error": None, "value": i, "text": "x" * (i % 50)}, [])
                  for i in range(300)])
    store.finalize()
    stop, failures = threading.Event(), []

    def rewrite():
        for i in range(300, 700):
            if stop.is_set():
                return
            store.append([RunStore.encode({"match_id": f"m{i}", "error": None, "value": i, "text": "y" * (i % 70)}, [])])
            store.finalize()

    writer = threading.Thread(target=rewrite)
    writer.start()
    deadline = time.time() + 20
    reads = 0
    try:
        while writer.is_alive() and time.time() < deadline:
            try:
                assert len(load_matches(tmp_path)) >= 300
                reads += 1
            except OSError as exc:
                failures.append(str(exc))
    finally:
        stop.set()
        writer.join()
        store.close()
    assert reads > 20 and not failures, failures[:3]
