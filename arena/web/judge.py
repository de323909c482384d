"""The blind judging page: two transcripts of the same scenario and opponent, and a vote."""
from __future__ import annotations

import secrets

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from arena.judging import JudgePair, append_vote, pick_pair, vote_record
from arena.web.catalog import RunRef
from arena.web.runs import catalog, transcript_rows
from arena.web.security import person
from envs import get_domain, get_scenario

blueprint = Blueprint("judge", __name__)
MAX_PENDING = 10_000  # pairs shown and not yet voted on, kept server-side so the page never names the agents


def _pending() -> dict[str, tuple[str, str, JudgePair]]:
    return current_app.extensions["arena"]["pending"]


def _draw(run_key: str | None) -> tuple[str, JudgePair] | None:
    refs = [r for r in catalog().runs() if run_key in (None, r.key)]
    order = secrets.SystemRandom().sample(refs, len(refs))
    for ref in order:
        try:
            pair = pick_pair(str(ref.path), catalog().pairs(ref))
        except (FileNotFoundError, KeyError):  # no finished matches, or none of agents against agents
            continue
        if pair is not None:
            return ref.key, pair
    return None


def _blind(ref: RunRef, pair: JudgePair, match_id: str, letter: str) -> list[dict]:
    other = "counterpart" if pair.role == "focal" else "focal"
    record = {"domain": pair.domain, f"{pair.role}_agent": f"negotiator {letter}", f"{other}_agent": "the other side"}
    return transcript_rows(record, catalog().transcript(ref, match_id))


@blueprint.route("/judge")
def judge():
    run_key = request.args.get("run") or None
    drawn = _draw(run_key)
    if drawn is None:
        return render_template("judge.html", pair=None, voted=request.args.get("voted"))
    key, pair = drawn
    token = secrets.token_urlsafe(12)
    with current_app.extensions["arena"]["lock"]:
        pending = _pending()
        while len(pending) >= MAX_PENDING:  # the oldest unanswered pair goes first
            pending.pop(next(iter(pending)))
        pending[token] = (person(), key, pair)
    domain = get_domain(pair.domain)
    scenario = get_scenario(pair.domain, pair.scenario)
    ref = catalog().get(key)
    return render_template("judge.html", pair=pair, token=token, role_name=domain.role_name(pair.role),
                           domain=domain, first=_blind(ref, pair, pair.first, "A"), second=_blind(ref, pair, pair.second, "B"),
                           endings=[catalog().record(ref, pair.first), catalog().record(ref, pair.second)],
                           target=scenario.target[pair.role], reservation=scenario.reservation[pair.role],
                           voted=request.args.get("voted"), run_key=run_key)


@blueprint.route("/judge/<token>", methods=["POST"])
def vote(token: str):
    entry = _pending().get(token)
    if entry is None or entry[0] != person():
        abort(404, "this pair is no longer open for a vote; judge the next one")
    _, key, pair = entry
    try:
        record = vote_record(pair, person(), request.form.get("outcome", ""), request.form.get("persuasive") or None)
    except ValueError as exc:
        abort(400, str(exc))
    with current_app.extensions["arena"]["lock"]:
        if _pending().pop(token, None) is None:  # a double submit: the vote is already in
            return redirect(url_for("judge.judge", voted=1, run=request.args.get("run") or None), 303)
    append_vote(catalog().get(key).path, record)
    return redirect(url_for("judge.judge", voted=1, run=request.args.get("run") or None), 303)
