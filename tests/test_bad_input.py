"""Bad input gets one line naming the problem and exit 2; readers never write; faults lose nothing."""
from __future__ import annotations

import json

import pytest

from agents.llm.structured import _as_int
from arena.cli import main

SMALL = ["--agents", "vanilla,victim", "--domains", "credit", "--scenarios", "2", "--workers", "0", "--quiet"]

BAD_TOML = [
    ('scenarios = "two"', "scenarios must be a whole number, got 'two'"),
    ("scenarios = 2.5", "scenarios must be a whole number, got 2.5"),
    ("repeats = true", "repeats must be a whole number, got True"),
    ("max_messages = 3.7", "max_messages must be a whole number, got 3.7"),
    ('workers = "many"', "workers must be a whole number, got 'many'"),
    ('seed = "seven"', "seed must be a whole number, got 'seven'"),
    ('domains = "credit"', "domains must be a list of domain names, got 'credit'"),
    ('agents = "vanilla"', "agents must be a list"),
    ('[[agents]]\nname = "vanilla"\nparams = "x"', "params must be a table"),
    ("response_model = 3", "response_model must be a string, got 3"),
    ('response_model = "lukewarm"', "response model must be default, flat, reversed or a .toml file"),
]


def _one_clean_line(capsys, expected: str) -> None:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in err, err


@pytest.mark.parametrize("text,expected", BAD_TOML)
def test_bad_toml_values_name_the_key_type_and_value(text, expected, tmp_path, capsys):
    config = tmp_path / "t.toml"
    config.write_text(text + "\n")
    assert main(["tournament", "--config", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    _one_clean_line(capsys, expected)
    assert not (tmp_path / "run").exists()


def test_unreadable_configs(tmp_path, capsys):
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    for path, expected in ((binary, "is not UTF-8 text"), (tmp_path, "is a directory")):
        assert main(["tournament", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
        _one_clean_line(capsys, expected)


def test_output_paths_that_cannot_be_used(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out, expected in ((a_file, "exists and is not a directory"), (a_file / "sub", "a part of it is a file")):
        assert main(["tournament", *SMALL, "--out", str(out)]) == 2
        _one_clean_line(capsys, expected)
    run = tmp_path / "run"
    assert main(["tournament", *SMALL, "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["plot", str(run), "--out", str(a_file)]) == 2
    _one_clean_line(capsys, "exists and is not a directory")


def test_a_role_nobody_can_play_is_refused_before_anything_starts(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["tournament", "--agents", "eq-negotiator,emodistill", "--workers", "0", "--out", str(out)]) == 2
    _one_clean_line(capsys, "no selected agent can play the counterpart role (debtor) in credit")
    assert not out.exists()


def test_runs_without_finished_matches_say_so(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "results.jsonl").write_text("")
    for command in ("show", "leaderboard", "plot"):
        assert main([command, str(empty)]) == 2
        _one_clean_line(capsys, "has no finished matches")


def test_a_corrupt_log_line_is_named_kept_out_and_the_run_resumes(tmp_path, capsys):
    from arena.storage import load_transcripts
    from tests.helpers import unfinish

    run = tmp_path / "run"
    assert main(["tournament", *SMALL, "--out", str(run)]) == 0
    lines = unfinish(run)  # killed before finishing: every match in the log
    log = run / "results.jsonl"
    broken_id = json.loads(lines[1])["record"]["match_id"]
    lines[1] = lines[1][:30] + "\n"
    log.write_text("".join(lines))
    before = log.read_bytes()
    capsys.readouterr()
    with pytest.warns(UserWarning, match="corrupt or incomplete line\\(s\\), first at line 2"):
        assert main(["show", str(run)]) == 0  # a reader skips it, names it, and writes nothing
    assert log.read_bytes() == before
    with pytest.warns(UserWarning, match="moved to"):
        assert main(["tournament", *SMALL, "--out", str(run)]) == 0  # the writer sets it aside, replays it
    aside = (run / "results.corrupt.jsonl").read_text()
    assert aside == lines[1]
    transcripts = load_transcripts(run)
    assert broken_id in transcripts and len(transcripts) == len(lines) and transcripts[broken_id]


def test_execution_only_changes_do_not_block_a_resume(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["tournament", *SMALL, "--out", str(run)]) == 0
    assert main(["tournament", *SMALL, "--no-cache", "--out", str(run)]) == 0
    assert main(["tournament", *SMALL, "--seed", "3", "--out", str(run)]) == 2
    assert "holds a different tournament" in capsys.readouterr().err


def test_a_run_made_before_line_splitting_is_told_how_to_resume(tmp_path):
    """Prompt chunking changes a model's arithmetic, so an older llama-cpp run is not resumed under the
    new default; the message says which setting resumes it."""
    from dataclasses import replace

    from agents import AgentSpec
    from agents.llm import BackendSpec, ConfigError
    from arena.resume import check_fingerprint, fingerprint
    from arena.spec import TournamentSpec

    def spec(split: str) -> TournamentSpec:
        backend = BackendSpec("llama-cpp", cache=False, eval_split=split)
        return TournamentSpec(agents=[AgentSpec("vanilla", {}, backend), AgentSpec("victim", {}, backend)],
                              domains=["credit"], scenarios=1)

    (tmp_path / "fingerprint.txt").write_text(fingerprint(spec("fixed")) + "\n")
    with pytest.raises(ConfigError, match='eval_split = "fixed"'):
        check_fingerprint(tmp_path, spec("lines"), holds_matches=True)
    check_fingerprint(tmp_path, spec("fixed"), holds_matches=True)  # resumes
    with pytest.raises(ConfigError, match="holds a different tournament"):
        check_fingerprint(tmp_path, replace(spec("lines"), seed=5), holds_matches=True)
    check_fingerprint(tmp_path, replace(spec("lines"), seed=5), holds_matches=False)  # nothing played: new settings
    with pytest.raises(ConfigError, match="eval_split 'words'"):
        BackendSpec("llama-cpp", eval_split="words")


def test_numbers_are_parsed_strictly():
    assert _as_int("²") is None and _as_int("٣") is None and _as_int("1" * 12) is None
    assert _as_int(" 42 ") == 42 and _as_int("-3") == -3 and _as_int(True) is None


@pytest.mark.parametrize("params,expected", [('{ emotoin = "anger" }', "no parameter 'emotoin'; did you mean emotion?"),
                                             ("{ bogus_param = 5 }", "no parameter 'bogus_param'; it takes")])
def test_unknown_agent_parameters_are_refused_with_close_names(params, expected, tmp_path, capsys):
    config = tmp_path / "t.toml"
    config.write_text(f'[[agents]]\nname = "fixed-emotion"\nparams = {params}\n[[agents]]\nname = "victim"\n')
    assert main(["tournament", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    _one_clean_line(capsys, expected)


def test_a_server_that_is_not_ollama_is_named(tmp_path, capsys):
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):  # a plain file server, as python -m http.server is
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host = f"http://127.0.0.1:{server.server_address[1]}"
        code = main(["tournament", *SMALL, "--backend", "ollama", "--model", "m", "--ollama-host", host,
                     "--out", str(tmp_path / "run")])
    finally:
        server.shutdown()
        server.server_close()
    assert code == 2
    _one_clean_line(capsys, "does not answer as an Ollama server (GET /api/tags gave HTTP 404)")


def test_matches_lists_ids_with_filters(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["tournament", *SMALL, "--out", str(run)]) == 0
    assert "arena replay" in capsys.readouterr().out
    assert main(["matches", str(run), "--agent", "vanilla", "--counterpart", "victim", "--format", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert len(rows) == 2 and all("/vanilla__victim/" in r for r in rows)
    assert main(["replay", str(run), rows[0].split(",")[0]]) == 0
    assert main(["matches", str(run), "--agent", "nobody"]) == 2
    _one_clean_line(capsys, "no focal agent 'nobody'")


def test_the_cli_imports_nothing_heavy_before_parsing():
    import subprocess
    import sys

    code = ("import sys, arena.cli; heavy = [m for m in ('pandas', 'ray', 'matplotlib', 'sklearn', 'torch', "
            "'agents') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def _exit_code(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exc:  # argparse's own usage errors
        return int(exc.code)


BAD_FLAGS = [
    (["--scenarios", "0"], "--scenarios must be at least 1"),
    (["--repeats", "0"], "--repeats must be at least 1"),
    (["--max-messages", "1"], "--max-messages must be at least 2"),
    (["--workers", "-1"], "--workers must be 0 (in-process) or more"),
    (["--llm-parallel", "0"], "--llm-parallel must be between 1 and 4096"),
    (["--bootstrap", "50"], "must be at least 100"),
    (["--bootstrap", "-5"], "must be at least 100"),
    (["--bootstrap", "many"], "must be a whole number"),
    (["--backend", "gpt"], "invalid choice: 'gpt'"),
    (["--split", "dev"], "invalid choice: 'dev'"),
    (["--agents", "vanila,victim"], "unknown agent 'vanila'; did you mean vanilla"),
    (["--domains", "crdit"], "unknown domain 'crdit'"),
    (["--response-model", "warm"], "response model must be default, flat, reversed or a .toml file"),
    (["--response-model", "missing.toml"], "missing.toml not found"),
    (["--seed", "3"], "holds a different tournament"),
]


@pytest.mark.parametrize("extra,expected", BAD_FLAGS)
def test_bad_flags_on_a_finished_run_give_one_line_and_lose_nothing(extra, expected, tmp_path_factory, capsys):
    run = tmp_path_factory.getbasetemp() / "finished-run"
    if not (run / "matches.parquet").exists():
        assert main(["tournament", *SMALL, "--out", str(run)]) == 0
    files = ("matches.parquet", "transcripts.parquet", "code.json", "fingerprint.txt")
    before = [(run / name).read_bytes() for name in files]
    capsys.readouterr()
    assert _exit_code(["tournament", *SMALL, *extra, "--out", str(run)]) == 2
    _one_clean_line(capsys, expected)
    assert [(run / name).read_bytes() for name in files] == before


def test_scenarios_beyond_the_split_are_noted(tmp_path, capsys):
    args = ["tournament", "--agents", "vanilla,victim", "--domains", "credit", "--scenarios", "1000",
            "--workers", "0", "--quiet", "--out", str(tmp_path / "run")]
    assert main(args) == 0
    assert "--scenarios 1000: the test split of credit has only 20 scenarios; using all 20" in capsys.readouterr().out


def test_metrics_table_honours_the_format(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["tournament", *SMALL, "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["leaderboard", str(run), "--metrics", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert {r["agent"] for r in rows} == {"vanilla", "victim"} and "agreement_rate" in rows[0]
    assert main(["leaderboard", str(run), "--metrics", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("agent,role,matches,agreement_rate")


def test_a_reader_that_goes_away_is_not_an_error(tmp_path):
    import subprocess
    import sys

    run = tmp_path / "run"
    assert main(["tournament", "--agents", "vanilla,boulware,victim", "--scenarios", "20", "--workers", "0", "--quiet",
                 "--out", str(run)]) == 0
    reader = subprocess.Popen([sys.executable, "-m", "arena.cli", "matches", str(run), "--limit", "0", "--format",
                               "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader.stdout.read(100)  # like `| head -c 100`: read a little, then hang up
    reader.stdout.close()
    err = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 0 and "error" not in err and "Traceback" not in err, err


BAD_VALUES = [("fixed-emotion", '{ emotion = "happy" }', "emotion must be a GoEmotions-28 label"),
              ("boulware", "{ exponent = -1 }", "exponent must be a number above 0, got -1"),
              ("vanilla", '{ max_retries = "two" }', "max_retries must be a whole number at least 0, got 'two'"),
              ("random-emotion", '{ taxonomy = "plutchik" }', "taxonomy must be one of"),
              ("victim", '{ response_model = "warm" }', "response model must be default, flat, reversed or a .toml"),
              ("emodistill", '{ selector = "nowhere.npz" }', "selector nowhere.npz is not a file"),
              ("emodistill", '{ temperature_emotion = -0.5 }', "temperature_emotion must be a number at least 0"),
              ("eq-negotiator", '{ sensor = "ears" }', "sensor must be auto, lexicon or llm, got 'ears'"),
              ("eq-negotiator-v1", '{ update_timing = "daily" }', "update_timing must be negotiation or turn"),
              ("eq-negotiator", '{ lose_shift = "sometimes" }', "lose_shift must be one of own-payoff, reply-payoff")]


@pytest.mark.parametrize("workers", ["0", "2"])
@pytest.mark.parametrize("agent,params,expected", BAD_VALUES)
def test_bad_parameter_values_are_refused_before_anything_runs_on_every_path(agent, params, expected, workers,
                                                                             tmp_path, capsys):
    """In-process and on Ray (the default path) alike: one line naming the agent and the value, exit 2,
    no run directory (before, Ray exited 0 with every match errored)."""
    config = tmp_path / "t.toml"
    others = "".join(f'[[agents]]\nname = "{name}"\n' for name in ("vanilla", "victim") if name != agent)
    config.write_text(f'[[agents]]\nname = "{agent}"\nparams = {params}\n{others}')
    out = tmp_path / "run"
    assert main(["tournament", "--config", str(config), "--domains", "credit", "--scenarios", "1",
                 "--workers", workers, "--quiet", "--out", str(out)]) == 2
    _one_clean_line(capsys, f"agent '{agent}' ({agent}): {expected}")
    assert not out.exists()


COMPARE_BAD = [
    (["--baseline", "vanilla", "--alpha", "2"], "--alpha: must lie strictly between 0 and 1 (got 2)"),
    (["--baseline", "vanilla", "--alpha", "0"], "--alpha: must lie strictly between 0 and 1 (got 0)"),
    (["--baseline", "vanilla", "--alpha", "often"], "--alpha: must be a number between 0 and 1, got 'often'"),
    (["--baseline", "vanilla", "--bootstrap", "1000000000"], "--bootstrap: must be at most 100,000"),
    (["vanilla", "victim-only"], "no agent 'victim-only' in this run"),
    (["vanilla-focal", "victim"], "vanilla-focal plays focal, victim plays counterpart: a comparison pairs agents of "
                                  "the same role"),
    (["--baseline", "vanilla", "--metric", "happiness"], "unknown metric 'happiness'"),
]


@pytest.fixture(scope="module")
def roles_run(tmp_path_factory):
    """A finished run in which vanilla-focal plays only the focal role and victim only the counterpart role."""
    run = tmp_path_factory.mktemp("roles") / "run"
    config = run.parent / "t.toml"
    config.write_text('agents = ["vanilla", "victim", {name = "fixed-emotion", label = "vanilla-focal", '
                      'params = {emotion = "neutral"}}]\n')
    assert main(["tournament", "--config", str(config), "--domains", "credit", "--scenarios", "2", "--workers", "0",
                 "--quiet", "--out", str(run)]) == 0
    return run


@pytest.mark.parametrize("extra,expected", COMPARE_BAD)
def test_bad_compare_input_gets_one_line_and_exit_2(extra, expected, roles_run, capsys):
    capsys.readouterr()
    assert _exit_code(["compare", str(roles_run), *extra]) == 2
    _one_clean_line(capsys, expected)


def test_bad_compare_input_exits_2_as_a_process_too(roles_run):
    """Not 134 (an abort from a native thread at exit) nor a traceback: a clean exit 2, every time."""
    import subprocess
    import sys

    for extra, expected in COMPARE_BAD[:1] + COMPARE_BAD[4:6]:
        for _ in range(2):
            done = subprocess.run([sys.executable, "-m", "arena.cli", "compare", str(roles_run), *extra],
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 2 and expected in done.stderr and "Traceback" not in done.stderr, done


def test_a_huge_repeat_count_is_refused_at_once(tmp_path, capsys):
    import time

    start = time.perf_counter()
    assert _exit_code(["tournament", *SMALL, "--repeats", "1000000000", "--out", str(tmp_path / "run")]) == 2
    _one_clean_line(capsys, "--repeats must be at most 1000 (got 1000000000)")
    assert time.perf_counter() - start < 30 and not (tmp_path / "run").exists()
    assert _exit_code(["leaderboard", str(tmp_path), "--bootstrap", "1000000000"]) == 2
    _one_clean_line(capsys, "--bootstrap: must be at most 100,000")
