"""Pages that browse runs: the list, a run's summary and ratings, its comparisons, matches and transcripts."""
from __future__ import annotations

from typing import Any

import pandas as pd
from flask import Blueprint, abort, current_app, render_template, request, send_from_directory

import leaderboards
from agents.llm import ConfigError
from arena.analysis import OUTCOMES, filter_matches
from leaderboards.compare import family_notes
from arena.web.catalog import PLOTS, Catalog, RunRef
from envs import get_domain

blueprint = Blueprint("runs", __name__)
PAGE = 100
GUARD_WORDS = {"clamped_offers": "offer clamped to the limit", "blocked_accepts": "accept refused (past the limit)",
               "redactions": "private limit removed from the message", "repaired_emotions": "unknown emotion set to neutral"}


def catalog() -> Catalog:
    return current_app.extensions["arena"]["catalog"]


def _run(key: str) -> RunRef:
    try:
        return catalog().get(key)
    except KeyError:
        abort(404, f"no run {key!r} on this server")


def _matches(ref: RunRef) -> pd.DataFrame:
    try:
        return catalog().matches(ref)
    except FileNotFoundError:  # the message would name the server's path: say it in the run's name
        abort(404, f"run {ref.name} has no finished matches yet")


def with_people() -> bool:
    """Whether people's matches join the agents' ratings on this page (off unless asked: ?people=1)."""
    return request.args.get("people") == "1"


@blueprint.route("/")
def index():
    rows = []
    for ref in catalog().runs():
        try:
            rows.append((ref, catalog().summary(ref) | {"basis": catalog().basis(ref)}))
        except FileNotFoundError:
            rows.append((ref, None))
    return render_template("runs.html", rows=rows)


@blueprint.route("/runs/<key>")
def run_page(key: str):
    ref = _run(key)
    _matches(ref)
    by = "domain" if request.args.get("by") == "domain" else "all"
    people = with_people()
    board = catalog().leaderboard(ref, by, people)
    shown = board[[c for c in ("domain", "role", "rank", "agent", "rating", "lower", "upper", "agreement_rate",
                               "battles") if c in board]]
    votes = catalog().votes_board(ref) if ref.has_votes else None
    info = catalog().summary(ref)
    return render_template("run.html", ref=ref, info=info, board=shown, by=by, people=people, basis=catalog().basis(ref),
                           notes=board.attrs.get("notes", []), metrics=catalog().metrics(ref, people), plots=ref.plots(),
                           votes=votes, versus=catalog().people(ref) if info["people"] else None)


@blueprint.route("/runs/<key>/plots/<name>")
def plot(key: str, name: str):
    ref = _run(key)
    if name not in ref.plots():
        abort(404, f"no plot {name!r} in this run")
    return send_from_directory(ref.path / PLOTS, name)


@blueprint.route("/runs/<key>/compare")
def compare(key: str):
    ref = _run(key)
    matches = leaderboards.agent_matches(_matches(ref))  # people are compared in their own table (run page)
    agents = sorted(set(matches["focal_agent"]) | set(matches["counterpart_agent"]))
    baseline = request.args.get("baseline") or ("vanilla" if "vanilla" in agents else agents[0])
    try:
        table = catalog().comparison(ref, baseline)
    except (ConfigError, ValueError) as exc:
        abort(400, str(exc))
    columns = ["family", "agent", "baseline", "role", "domain", "opponent", "metric", "pairs", "difference", "lower",
               "upper", "p_holm", "significant"]
    return render_template("compare.html", ref=ref, table=table[columns] if len(table) else table, baseline=baseline,
                           agents=agents, families=family_notes(table), warnings=table.attrs.get("warnings", []),
                           basis=catalog().basis(ref))


def _choices(matches: pd.DataFrame) -> dict[str, list[str]]:
    return {"domain": sorted(matches["domain"].unique()), "agent": sorted(matches["focal_agent"].unique()),
            "counterpart": sorted(matches["counterpart_agent"].unique()), "outcome": list(OUTCOMES)}


@blueprint.route("/runs/<key>/matches")
def matches_page(key: str):
    ref = _run(key)
    matches = _matches(ref)
    chosen = {k: request.args.get(k) or None for k in ("domain", "agent", "counterpart", "outcome")}
    try:
        shown = filter_matches(matches, ref.name, **chosen)
    except ConfigError as exc:
        abort(400, str(exc))
    pages = max(1, -(-len(shown) // PAGE))
    page = min(max(0, request.args.get("page", 0, type=int)), pages - 1)  # a page past the end shows the last
    part = shown.iloc[page * PAGE:(page + 1) * PAGE]
    rows = part.assign(reason=leaderboards.error_reasons(part)).to_dict("records")
    return render_template("matches.html", ref=ref, rows=rows, total=len(shown), page=page, pages=pages,
                           chosen=chosen, choices=_choices(matches), basis=catalog().basis(ref),
                           any_reason=any(r["reason"] for r in rows))


def transcript_rows(record: dict[str, Any], moves: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each move with who made it (role and agent) and the guard's interventions in words."""
    domain = get_domain(record["domain"])
    rows = []
    for number, move in enumerate(moves, 1):
        kind = move["role"]
        rows.append(move | {"number": number, "who": domain.role_name(kind), "agent": record.get(f"{kind}_agent", ""),
                            "guard_words": [GUARD_WORDS.get(g, g) for g in move.get("guard", [])]})
    return rows


@blueprint.route("/runs/<key>/match")
def transcript(key: str):
    ref = _run(key)
    match_id = request.args.get("id", "")
    _matches(ref)
    record = catalog().record(ref, match_id)
    if record is None:
        abort(404, f"no match {match_id!r} in {ref.name}")
    try:
        moves = catalog().transcript(ref, match_id)
    except KeyError:
        moves = []
    return render_template("transcript.html", ref=ref, record=record, rows=transcript_rows(record, moves),
                           domain=get_domain(record["domain"]),
                           basis=leaderboards.basis_caption(pd.DataFrame([record])))
