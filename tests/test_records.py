"""The records of a run: stored once and compressed, incomplete lines set aside like corrupt ones,
resumes refused when an agent's code changed, and what each agent actually used."""
from __future__ import annotations

import json
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from agents import Agent, AgentSpec, register
from agents.llm import BackendSpec
from arena.archive import find_transcript
from arena.cli import main
from arena.storage import CORRUPT, MATCHES, RESULTS, TRANSCRIPTS, RunStore, load_matches, load_transcript, \
    load_transcripts
from envs import Action, load_scenarios
from tests.helpers import play_pair, unfinish

SMALL = ["--agents", "vanilla,victim", "--domains", "credit", "--scenarios", "2", "--workers", "0", "--quiet",
         "--bootstrap", "100"]


def _finished(tmp_path, name="run", args=SMALL):
    run = tmp_path / name
    assert main(["tournament", *args, "--out", str(run)]) == 0
    return run


def test_a_finished_run_stores_each_transcript_once_compressed_and_finds_any_of_them(tmp_path):
    run = _finished(tmp_path)
    names = {p.name for p in run.iterdir()}
    assert {MATCHES, TRANSCRIPTS, "tournament.toml", "code.json"} <= names
    assert RESULTS not in names and "transcripts.jsonl" not in names  # the log's lines moved to the archive
    table = load_matches(run)
    transcripts = load_transcripts(run)
    assert set(transcripts) == set(table["match_id"]) and len(table) == 4
    for row in table.itertuples():
        assert load_transcript(run, row.match_id) == transcripts[row.match_id]
        assert len(transcripts[row.match_id]) == row.rounds
    archive = pq.ParquetFile(run / TRANSCRIPTS)
    assert archive.metadata.row_group(0).column(2).compression == "ZSTD"


def test_the_archive_finds_one_match_by_reading_one_row_group(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    try:
        store.append([RunStore.encode({"match_id": f"m{i:05d}", "error": None}, [{"turn": i}]) for i in range(3000)])
        store.finalize()
    finally:
        store.close()
    reads = []
    real = pq.ParquetFile.read_row_group
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", lambda self, i, **kw: reads.append(i) or real(self, i, **kw))
    for i in (0, 1, 63, 64, 1777, 2999):
        assert find_transcript(tmp_path / TRANSCRIPTS, f"m{i:05d}") == [{"turn": i}]
    assert find_transcript(tmp_path / TRANSCRIPTS, "m03000") is None and find_transcript(tmp_path / TRANSCRIPTS, "a") is None
    assert len(reads) == 6 + 1  # one row group per lookup ("a" sorts before every id; "m03000" after all)


def test_an_incomplete_record_is_set_aside_like_a_corrupt_line_and_replayed(tmp_path, capsys):
    run = _finished(tmp_path)
    lines = unfinish(run)
    target = json.loads(lines[2])["record"]["match_id"]
    lines[2] = json.dumps({"record": {"match_id": target}}) + "\n"  # well-formed, but no match's row
    lines.append('{"record": {"match_id": "zzz"}}\n')
    (run / RESULTS).write_text("".join(lines), encoding="utf-8")
    before = (run / RESULTS).read_bytes()
    capsys.readouterr()
    for command in (["show"], ["compare", "--baseline", "vanilla"], ["matches"]):
        with pytest.warns(UserWarning, match=r"2 corrupt or incomplete line\(s\), first at line 3 \(incomplete record: no"):
            assert main([command[0], str(run), *command[1:]]) == 0, capsys.readouterr().err
    assert (run / RESULTS).read_bytes() == before  # readers never modify
    with pytest.warns(UserWarning, match=r"line 3 \(incomplete record: no session_id.*line 5 .*played again"):
        assert main(["tournament", *SMALL, "--out", str(run)]) == 0
    assert (run / CORRUPT).read_text() == lines[2] + lines[4]
    table = load_matches(run)
    assert len(table) == 4 and target in set(table["match_id"]) and table["error"].isna().all()
    assert load_transcript(run, target)  # played again, transcript and all


def test_a_resume_after_an_agents_code_changed_is_refused_and_replay_changed_replays_only_its_matches(
        tmp_path, monkeypatch, capsys):
    source = tmp_path / "mine" / "stubborn_agent.py"
    source.parent.mkdir()
    source.write_text(textwrap.dedent('''
        from agents import Agent, register
        from envs import Action

        @register("stubborn")
        class Stubborn(Agent):
            """Offers its target, then accepts (a plugin under edit)."""
            name = "stubborn"
            roles = frozenset({"focal"})

            def act(self, obs):
                return Action.accept() if obs.turn >= 2 else Action.offer(self.view.target, message="Firm.")
        '''))
    monkeypatch.syspath_prepend(str(source.parent))
    monkeypatch.delitem(sys.modules, "stubborn_agent", raising=False)
    import stubborn_agent  # noqa: F401  (registers "stubborn")

    args = [*SMALL[:1], "stubborn,vanilla,victim", *SMALL[2:]]
    run = _finished(tmp_path, args=args)
    archive = (run / TRANSCRIPTS).read_bytes()
    source.write_text(source.read_text().replace("obs.turn >= 2", "obs.turn >= 4"))  # the plugin is edited
    capsys.readouterr()
    assert main(["tournament", *args, "--out", str(run)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "the code of stubborn changed since 4 of its finished matches" in err[0], err
    assert "new --out" in err[0] and "--replay-changed" in err[0]
    assert (run / TRANSCRIPTS).read_bytes() == archive  # refused: nothing touched
    kept = load_matches(run).set_index("match_id")
    with pytest.warns(UserWarning, match="4 finished matches will be played again"):
        assert main(["tournament", *args, "--replay-changed", "--out", str(run)]) == 0
    aside = [json.loads(line) for line in (run / "results.changed.jsonl").read_text().splitlines()]
    assert sorted(e["record"]["focal_agent"] for e in aside) == ["stubborn"] * 4
    assert all(e["dropped"] == "the code of stubborn changed" and e["transcript"] for e in aside)
    after = load_matches(run).set_index("match_id")
    assert len(after) == 8
    vanilla = after.index[after["focal_agent"] == "vanilla"]
    assert (after.loc[vanilla, "duration_s"] == kept.loc[vanilla, "duration_s"]).all()  # not replayed
    assert main(["tournament", *args, "--out", str(run)]) == 0  # the new code is recorded: resumes again


def test_a_run_recorded_before_code_identities_resumes_with_a_note(tmp_path):
    run = _finished(tmp_path)
    (run / "code.json").unlink()
    with pytest.warns(UserWarning, match="holds no record of its agents' code.*4 finished matches stand as recorded"):
        assert main(["tournament", *SMALL, "--out", str(run)]) == 0
    assert json.loads((run / "code.json").read_text())["agents"]["vanilla"]["package"] == "eq-arena"


def test_a_built_in_agents_identity_covers_its_own_modules_and_the_shared_agent_code_only():
    from agents import get_entry
    from arena.code_identity import _source_files

    def names(agent):
        files, root = _source_files(get_entry(agent).agent_class)
        return {str(p.relative_to(root)) for p in files}

    vanilla, boulware, victim = names("vanilla"), names("boulware"), names("victim")
    assert {"builtin/vanilla.py", "builtin/common.py", "speaking.py", "llm/scripted.py", "data/templates.toml"} <= vanilla
    assert "builtin/baselines.py" not in vanilla and "builtin/personas.py" not in vanilla
    assert "builtin/baselines.py" in boulware and "builtin/vanilla.py" not in boulware
    assert "builtin/personas.py" in victim and "data/personas.toml" in victim
    assert not any(n.startswith(("arena", "leaderboards", "../")) for n in vanilla | victim)


def test_a_run_in_the_layout_before_the_archive_is_read_and_moved_to_it_on_resume(tmp_path):
    run = _finished(tmp_path)
    expected = load_transcripts(run)
    lines = unfinish(run)
    (run / "transcripts.jsonl").write_text("".join(json.dumps({"match_id": json.loads(line)["record"]["match_id"],
                                                               "transcript": json.loads(line)["transcript"]}) + "\n"
                                                   for line in lines))
    assert main(["tournament", *SMALL, "--out", str(run)]) == 0
    assert not (run / "transcripts.jsonl").exists() and not (run / RESULTS).exists()
    assert load_transcripts(run) == expected


@register("idle-talker")
class IdleTalker(Agent):
    """Given a model backend, it never asks it."""

    name = "idle-talker"

    def act(self, obs):
        return Action.accept() if obs.their_offer is not None else Action.offer(self.view.target, message="Hello.")


@pytest.mark.parametrize("agent", ["idle-talker", "boulware"])
def test_an_agent_that_never_asks_its_model_is_recorded_as_scripted_with_its_configured_backend_kept(agent):
    backend = BackendSpec("openai", model="some-model", base_url="http://127.0.0.1:9/v1", cache=False)
    record, transcript, _ = play_pair(AgentSpec(agent, backend=backend), AgentSpec("victim"),
                                      load_scenarios("credit")[0])
    assert any(move["role"] == "focal" for move in transcript)
    assert record["focal_requests"] == 0
    assert (record["focal_backend"], record["focal_model"]) == ("scripted", "")
    assert (record["focal_backend_configured"], record["focal_model_configured"]) == ("openai", "some-model")
    assert record["counterpart_backend"] == "scripted"
