"""Every output names what it rests on (backends, models, response model), shows each agent's share
of fallback moves, shows why matches errored, and a plot failure never fails a finished run."""
from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest
from PIL import Image

import leaderboards
from agents import Agent, register
from arena.analysis import print_table
from arena.cli import main
from tests.openai_server import MODEL_NAME, FakeOpenAI

SMALL = ["--agents", "vanilla,fixed-emotion,victim", "--domains", "credit", "--scenarios", "3", "--workers", "0",
         "--quiet", "--bootstrap", "100"]
CAPTION = "basis: focal scripted; counterpart scripted; response model 'default'"
PLOTS = ("ratings_focal", "ratings_counterpart", "win_rates", "utilities", "elo_trajectories")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("outputs") / "run"
    assert main(["tournament", *SMALL, "--out", str(out)]) == 0
    return out


def _out(capsys, args: list[str]) -> str:
    capsys.readouterr()
    assert main(args) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", [["leaderboard"], ["leaderboard", "--metrics"],
                                     ["compare", "--baseline", "vanilla"]])
def test_every_export_format_names_backend_model_and_response_model(run, command, capsys):
    args = [command[0], str(run), *command[1:]] + ([] if "--metrics" in command else ["--bootstrap", "200"])
    rows = pd.read_csv(io.StringIO(_out(capsys, args + ["--format", "csv"])))
    assert {"backend", "model", "response_model", "fallback_share"} <= set(rows.columns)
    assert set(rows["backend"]) == {"scripted"} and "default" in set(rows["response_model"])
    assert rows.loc[rows["agent"] == "fixed-emotion", "response_model"].eq("default").all()
    exported = json.loads(_out(capsys, args + ["--format", "json"]))
    assert exported["basis"]["response_models"] == ["default"] and exported["basis"]["focal"] == ["scripted"]
    assert exported["basis"]["caption"].startswith(CAPTION)
    assert exported["rows"] and all(r["backend"] == "scripted" and "fallback_share" in r for r in exported["rows"])
    markdown = _out(capsys, args + ["--format", "markdown"])
    assert f"*{CAPTION}" in markdown and any(line.startswith("|") for line in markdown.splitlines())
    assert CAPTION in _out(capsys, args)


def test_report_tables_and_every_plot_carry_the_basis(run):
    report = run / "report"
    for name in ("leaderboard.csv", "leaderboard_head_to_head.csv", "metrics.csv"):
        table = pd.read_csv(report / name)
        assert set(table["backend"]) == {"scripted"} and "default" in set(table["response_model"].dropna()), name
        assert table["fallback_share"].between(0, 1).all(), name
    assert CAPTION in (report / "leaderboard.md").read_text()
    for stem in PLOTS:
        svg = (report / f"{stem}.svg").read_text()
        assert CAPTION in svg, stem  # drawn as text (not glyph paths) and in the metadata
        assert re.search(r"<dc:description>basis: focal scripted", svg), stem
        assert b"/Subject (basis: focal scripted; counterpart scripted; response model 'default'" in \
            (report / f"{stem}.pdf").read_bytes(), stem
        assert Image.open(report / f"{stem}.png").text["Description"].startswith(CAPTION), stem


def test_plots_are_role_correct(run):
    svg = (run / "report" / "win_rates.svg").read_text()
    assert "focal agent (strongest first)" in svg and "counterpart (toughest first)" in svg
    assert "never met" not in svg  # a focal x counterpart matrix has no cells for pairs that cannot meet
    utilities = (run / "report" / "utilities.svg").read_text()
    assert "focal agents" in utilities and "counterpart agents" in utilities and "(focal)" not in utilities
    elo = (run / "report" / "elo_trajectories.svg").read_text()
    assert "focal agents" in elo and "counterpart agents" in elo


def test_agent_styles_are_distinct_for_fifteen_agents():
    from leaderboards.plots import agent_styles

    styles = agent_styles([f"agent{i:02d}" for i in range(15)])
    assert len({(s["color"], s["linestyle"]) for s in styles.values()}) == 15
    assert "#F0E442" not in {s["color"] for s in styles.values()}  # Okabe-Ito yellow is too faint for lines


def test_one_scenario_draws_every_plot_and_a_failing_plot_is_only_a_warning(tmp_path, capsys, monkeypatch):
    out = tmp_path / "one"
    args = ["tournament", "--domains", "credit", "--scenarios", "1", "--workers", "0", "--quiet", "--bootstrap", "100",
            "--out", str(out)]  # every built-in agent on one scenario: every bootstrap interval has zero width
    assert main(args) == 0  # it once made rating_bars raise "'xerr' must not contain negative values" (exit 2)
    assert all((out / "report" / f"{stem}.{fmt}").exists() for stem in PLOTS for fmt in ("png", "svg", "pdf"))
    from leaderboards import plots

    def broken(*_args, **_kw):
        raise ValueError("'xerr' must not contain negative values")

    monkeypatch.setattr(plots, "utility_distributions", broken)
    capsys.readouterr()
    assert main(["plot", str(out), "--out", str(tmp_path / "again")]) == 0
    err = capsys.readouterr().err
    assert "plot utilities not drawn: ValueError: 'xerr' must not contain negative values" in err
    assert (tmp_path / "again" / "win_rates.pdf").exists() and not (tmp_path / "again" / "utilities.png").exists()
    assert "plot utilities not drawn" in (tmp_path / "again" / "leaderboard.md").read_text()


def test_rating_bars_draw_intervals_as_they_are(tmp_path):
    from leaderboards import plots

    table = pd.DataFrame({"agent": ["a", "b", "c"], "rating": [1100.0, 1000.0, 900.0],
                          "lower": [1100.0 + 1e-12, 990.0, float("nan")], "upper": [1100.0, 1020.0, float("nan")]})
    basis = leaderboards.run_basis(pd.DataFrame([{
        "focal_agent": "a", "counterpart_agent": "b", "focal_backend": "ollama", "focal_model": "qwen2.5:7b",
        "counterpart_backend": "scripted", "counterpart_model": "", "response_model": "flat", "domain": "credit",
        "rounds": 6, "error": None}]))
    paths = plots.rating_bars(table, tmp_path, "ratings", basis)
    assert [p.suffix for p in paths] == [".png", ".svg", ".pdf"] and all(p.stat().st_size > 5000 for p in paths)
    assert "basis: focal ollama qwen2.5:7b; counterpart scripted; response model 'flat'" in paths[1].read_text()


def test_replay_rounds_numbers_and_shows_targets_and_reservations(run, capsys):
    table = pd.read_parquet(run / "matches.parquet")
    deal = table[table["agreement"].astype(bool)].iloc[0]
    text = _out(capsys, ["replay", str(run), deal["match_id"]])
    assert re.search(r"creditor \(focal\): target \d+ days, reservation \d+ days; debtor \(counterpart\)", text)
    assert f"at {int(deal['value'])} days;" in text and ".0 days" not in text
    assert not re.search(r"\d\.\d{4,}", text)  # utilities to three decimals
    assert "basis: focal scripted; counterpart scripted" in text


def test_printed_tables_never_show_negative_zero(capsys):
    table = pd.DataFrame({"agent": ["a", "b"], "utility": [-0.0, -0.00001], "rounds": [3, 4]}).round(3)
    for fmt in leaderboards.FORMATS:
        print_table(table, fmt)
        assert "-0" not in capsys.readouterr().out, fmt


@register("ansi-raiser")
class AnsiRaiser(Agent):
    """Fails every move with a colour-coded message, as a Ray task header is."""

    name = "ansi-raiser"

    def act(self, obs):
        raise RuntimeError("\x1b[36mray::run_session()\x1b[39m (pid=7, ip=127.0.0.1) \x1b[31mboom\x1b[0m")


REASON = "RuntimeError: ray::run_session() (pid=7, ip=127.0.0.1) boom"


def test_error_reasons_are_shown_clean_and_a_mostly_errored_run_fails(tmp_path, capsys):
    out = tmp_path / "bad"
    args = ["tournament", "--agents", "ansi-raiser,linear", "--domains", "credit", "--scenarios", "2", "--workers",
            "0", "--quiet", "--bootstrap", "100", "--out", str(out)]
    assert main(args) == 1  # 6 of 8 matches errored
    captured = capsys.readouterr()
    assert f"6 of 8 matches errored, most often '{REASON}' (6 matches)" in captured.err
    assert "\x1b" not in captured.out + captured.err
    listed = _out(capsys, ["matches", str(out), "--outcome", "error", "--format", "csv"])
    rows = pd.read_csv(io.StringIO(listed))
    assert len(rows) == 6 and set(rows["reason"]) == {REASON}
    assert REASON in _out(capsys, ["matches", str(out), "--outcome", "error"])
    replayed = _out(capsys, ["replay", str(out), rows["match_id"].iloc[0]])
    assert f"-- ended by error after 2 attempt(s): {REASON}" in replayed
    shown = _out(capsys, ["show", str(out)])
    assert REASON in shown and "\x1b" not in shown
    metrics = pd.read_csv(io.StringIO(_out(capsys, ["leaderboard", str(out), "--metrics", "--format", "csv"])))
    raiser = metrics[metrics["agent"] == "ansi-raiser"]  # listed although none of its matches finished
    assert len(raiser) == 2 and (raiser["matches"] == 0).all() and (raiser["errors"] == 4).all()
    fine = tmp_path / "fine"  # 14 of 32 matches errored: said, and the run stands
    assert main(args[:2] + ["ansi-raiser,linear,vanilla,boulware"] + args[3:-1] + [str(fine)]) == 0
    assert f"14 of 32 matches errored, most often '{REASON}'" in capsys.readouterr().out


class Babbler(FakeOpenAI):
    """An OpenAI-compatible server whose every reply is prose, never the JSON asked for."""

    def chat(self, body: dict) -> dict:
        return {"id": "chatcmpl-loopback", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "Sure! Ninety days, take it or leave it."}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 9, "total_tokens": 19}}


def test_a_model_whose_replies_are_all_unusable_is_flagged_everywhere(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ARENA_TEST_KEY", "sk-loopback")
    out = tmp_path / "babble"
    with Babbler() as server:
        code = main(["tournament", "--agents", "vanilla,boulware,victim", "--domains", "credit", "--scenarios", "2",
                     "--max-messages", "6", "--backend", "openai", "--base-url", server.host, "--model", MODEL_NAME,
                     "--api-key-env", "ARENA_TEST_KEY", "--workers", "0", "--quiet", "--bootstrap", "100",
                     "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    warning = "of the moves of vanilla as counterpart (100%), victim as counterpart (100%), vanilla as focal (100%)"
    assert warning in printed and "ratings measure the fallback policy, not the model" in printed
    # boulware decides by rule and never asks the model: the record says so (what each agent used)
    assert f"basis: focal openai {MODEL_NAME} + scripted; counterpart openai {MODEL_NAME} + scripted" in printed
    table = pd.read_parquet(out / "matches.parquet")
    assert set(table.loc[table["focal_agent"] == "boulware", "focal_backend"]) == {"scripted"}
    assert set(table.loc[table["focal_agent"] == "vanilla", "focal_backend"]) == {"openai"}
    board = json.loads(_out(capsys, ["leaderboard", str(out), "--format", "json"]))
    flagged = {(r["agent"], r["role"]) for r in board["basis"]["high_fallback"]}
    assert flagged == {("vanilla", "focal"), ("vanilla", "counterpart"), ("victim", "counterpart")}
    assert any(warning in note for note in board["notes"])
    shares = {(r["agent"], r["role"]): r["fallback_share"] for r in board["rows"] if r["domain"] == "all"}
    assert shares[("vanilla", "focal")] == 1.0 and shares[("boulware", "focal")] == 0.0
    metrics = pd.read_csv(io.StringIO(_out(capsys, ["leaderboard", str(out), "--metrics", "--format", "csv"])))
    assert metrics.set_index(["agent", "role"]).loc[("vanilla", "focal"), "fallback_share"] == 1.0
    assert warning in _out(capsys, ["compare", str(out), "--baseline", "boulware", "--bootstrap", "200"])
    assert warning in (out / "report" / "leaderboard.md").read_text()


def test_tournament_toml_keeps_what_applies_and_resumes(run, tmp_path):
    from arena.commands import build_spec
    from arena.resume import fingerprint

    text = (run / "tournament.toml").read_text()
    for key in ("api_key_env", "eval_chunk", "prefix_reuse", "grammar_shortlist", "llm_parallel", "temperature"):
        assert key not in text, key  # a scripted run uses none of these
    assert len(text.splitlines()) < 40
    assert fingerprint(build_spec(str(run / "tournament.toml"), {})) == (run / "fingerprint.txt").read_text().strip()
    mixed = tmp_path / "mixed.toml"
    mixed.write_text('domains = ["credit"]\n\n[[agents]]\nname = "vanilla"\nbackend = { kind = "llama-cpp", '
                     'eval_chunk = 32 }\n\n[[agents]]\nname = "eq-negotiator"\nbackend = { kind = "openai", model = '
                     '"m", base_url = "http://127.0.0.1:9/v1" }\n\n[[agents]]\nname = "victim"\n')
    spec = build_spec(str(mixed), {})
    saved = tmp_path / "saved.toml"
    saved.write_text(spec.to_toml())
    again = build_spec(str(saved), {})
    assert fingerprint(again) == fingerprint(spec) and again.agents == spec.agents
    tables = {a["name"]: a["backend"] for a in __import__("tomllib").loads(saved.read_text())["agents"]}
    assert tables["victim"] == "scripted" and "eval_chunk" in tables["vanilla"] and "api_key_env" not in tables["vanilla"]
    assert "api_key_env" in tables["eq-negotiator"] and "eval_chunk" not in tables["eq-negotiator"]
    rerun = ["tournament", *SMALL, "--out", str(run)]  # resuming the finished run is accepted as the same tournament
    assert main(rerun) == 0


def test_the_web_pages_name_the_basis_and_why_matches_errored(run):
    """The runs index, a run's page, its match list and a transcript each carry the basis caption."""
    import re

    from tests.web_helpers import serving

    with serving(run) as server:
        client = server.app.test_client()
        index = client.get("/").get_data(as_text=True)
        key = re.search(r'href="/runs/([^"/]+)"', index).group(1)
        pages = {"index": index, "run": client.get(f"/runs/{key}").get_data(as_text=True),
                 "matches": client.get(f"/runs/{key}/matches").get_data(as_text=True)}
        match_id = re.search(r'/runs/[^/]+/match\?id=([^"]+)"', pages["matches"]).group(1)
        pages["transcript"] = client.get(f"/runs/{key}/match?id={match_id}").get_data(as_text=True)
    for name, html in pages.items():
        assert "basis: focal scripted" in html and "response model" in html, name
