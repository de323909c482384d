"""A study's matches (the practice round and the counted matches in the assigned conditions), its
emotion labels and its blind judgments. The participant never sees an agent's name."""
from __future__ import annotations

import time
from typing import Any

import numpy as np
from flask import Blueprint, abort, current_app, redirect, render_template, request

from arena.judging import append_vote, vote_record
from arena.people import LiveMatch, PlayRoom
from arena.schedule import derive_seed
from arena.study import pairs as judging
from arena.study.spec import Condition
from arena.study.store import Participant
from arena.web.play import submit_move, wait_briefly
from arena.web.runs import catalog, transcript_rows
from arena.web.study_views import onward, participant, step_url, store, study
from envs import COUNTERPART, FOCAL, get_domain, get_scenario, get_taxonomy

blueprint = Blueprint("study_play", __name__)
NONE_LABEL = "none"  # a message that expresses no emotion


def _state() -> dict[str, Any]:
    return current_app.extensions["arena"]


def room() -> PlayRoom:
    return _state()["study_room"]


def _finished(p: Participant, step: str, condition: Condition, scenario: str):
    """What the study records when the match of ``step`` ends (an abandoned match is played again);
    called in the match's thread, outside any request."""
    the_store = store()

    def told(record: dict[str, Any]) -> None:
        if record["ended_by"] == "abandoned":
            the_store.log({"event": "match", "participant": p.id, "step": step, "match_id": record["match_id"],
                         "ended_by": "abandoned"})
        else:
            the_store.complete(p, step, match_id=record["match_id"], condition=condition.id, scenario=scenario,
                             ended_by=record["ended_by"])
    return told


def _live(p: Participant, step: str) -> LiveMatch | None:
    live_id = _state()["study_live"].get((p.id, step))
    return room().live.get(live_id) if live_id else None


def _start(p: Participant, step: str, condition: Condition, scenario: str, slot: int | None) -> LiveMatch:
    """The participant's match for ``step``: the one in progress, else a new one (a new attempt after
    an abandoned one)."""
    live = _live(p, step)
    if live is not None and not (live.record is not None and live.record["ended_by"] == "abandoned"):
        return live
    extra = {"study": study().id, "participant": p.id, "participant_index": p.index, "phase": step.split(":")[0],
             "slot": slot, "condition": condition.id, "attempt": p.match_attempts.get(step, 0) + 1,
             "consent_version": p.consent_version}
    try:
        live = room().launch(p.id, get_scenario(condition.domain, scenario), condition.role, condition.agent, extra,
                             on_finish=_finished(p, step, condition, scenario))
    except Exception as exc:  # the server is full: say so, the participant can come back
        abort(503, str(exc.args[0] if exc.args else exc))
    _state()["study_live"][(p.id, step)] = live.live_id
    return live


def _page(p: Participant, step: str, live: LiveMatch, title: str, error: str | None = None,
          form: dict | None = None, status: int = 200):
    other = COUNTERPART if live.kind == FOCAL else FOCAL
    record = {"domain": live.scenario.domain, f"{live.kind}_agent": "you", f"{other}_agent": "the other side"}
    following = store().next_step(p)
    return render_template("study_match.html", spec=study(), live=live, view=live.view, title=title,
                           rows=transcript_rows(record, list(live.moves)), state=live.state, error=error,
                           form=form or {}, other_kind=other, onward=step_url(following) if step in p.done else None,
                           practice=step == "practice"), status


def _play(step: str, condition: Condition, scenario: str, slot: int | None, title: str):
    p = participant()
    live = _live(p, step)
    if step in p.done and live is None:
        return onward(p)
    if step not in p.done and store().next_step(p) != step:
        return onward(p)
    if request.method == "POST":
        if live is None:
            return redirect(request.path, 303)
        form = request.form.to_dict()
        error, status = submit_move(live, form)
        if error is not None:
            return _page(p, step, live, title, error, form if status == 400 else None, status)
        return redirect(request.path + "#now", 303)
    if step not in p.done:
        p.started(step)
        live = _start(p, step, condition, scenario, slot)
        wait_briefly(live)
    return _page(p, step, live, title)


@blueprint.route("/study/practice", methods=["GET", "POST"])
def practice():
    practice = study().practice
    if practice is None:
        abort(404, "this study has no practice round")
    return _play("practice", practice, practice.scenarios[0], None, "Practice round (it does not count)")


@blueprint.route("/study/match/<int:slot>", methods=["GET", "POST"])
def match(slot: int):
    p = participant()
    slots = store().slots(p)
    if not 0 <= slot < len(slots):
        abort(404, "no such match in this study")
    chosen = slots[slot]
    return _play(f"match:{slot}", study().condition(chosen.condition), chosen.scenario, slot,
                 f"Match {slot + 1} of {len(slots)}")


def _items(p: Participant) -> list[judging.JudgeItem]:
    memo = _state().setdefault("judge_items", {})
    if p.index not in memo:
        run = catalog().get(catalog().key_of(study().judge.run))
        memo[p.index] = judging.items(study(), catalog().matches(run), p.index)
    return memo[p.index]


def _side(item: judging.JudgeItem, match_id: str) -> tuple[list[dict], dict[str, Any]]:
    """A shown transcript and its ending (the constructed side of a gold pair included)."""
    run = catalog().get(catalog().key_of(study().judge.run))
    if match_id.startswith(judging.GOLD_PREFIX):
        moves = judging.gold_transcript(catalog().transcript(run, match_id[len(judging.GOLD_PREFIX):]), item.pair.role)
        return moves, {"ended_by": "walk_away", "value": None, "rounds": len(moves)}
    return catalog().transcript(run, match_id), catalog().record(run, match_id)


@blueprint.route("/study/judge/<int:slot>", methods=["GET", "POST"])
def judge(slot: int):
    step = f"vote:{slot}"
    p = participant(step)
    item = _items(p)[slot]
    if request.method == "POST":
        try:
            vote = vote_record(item.pair, p.id, request.form.get("outcome", ""), request.form.get("persuasive") or None)
        except ValueError as exc:
            abort(400, str(exc))
        vote |= judging.item_record(item) | {"study": study().id, "participant": p.id,
                                             "seconds": round(time.time() - p.started(step), 3),
                                             "consent_version": p.consent_version}
        with store().lock:  # one vote per pair shown, however often the form is sent
            if step not in p.done:
                append_vote(store().folder, vote)
                store().complete(p, step, vote_id=vote["vote_id"], item=item.kind)
        return onward(p)
    p.started(step)
    pair = item.pair
    other = "counterpart" if pair.role == "focal" else "focal"
    sides = []
    for letter, match_id in (("A", pair.first), ("B", pair.second)):
        moves, ending = _side(item, match_id)
        names = {"domain": pair.domain, f"{pair.role}_agent": f"negotiator {letter}", f"{other}_agent": "the other side"}
        sides.append((letter, transcript_rows(names, moves), ending))
    domain, scenario = get_domain(pair.domain), get_scenario(pair.domain, pair.scenario)
    return render_template("study_judge.html", spec=study(), sides=sides, domain=domain, slot=slot,
                           role_name=domain.role_name(pair.role), total=study().slots,
                           target=scenario.target[pair.role], reservation=scenario.reservation[pair.role])


def _messages(p: Participant, slot: int) -> list[dict[str, Any]]:
    """The messages to label after counted item ``slot``: the chosen sides' non-empty messages, a
    sample drawn from the study's seed, the participant and the slot."""
    spec = study()
    if spec.kind == "negotiate":
        match_id = p.done[f"match:{slot}"]["match_id"]
        ref = catalog().get(catalog().key_of(store().folder))
        role = spec.condition(store().slots(p)[slot].condition).role
        record = catalog().record(ref, match_id) or {}
        moves = catalog().transcript(ref, match_id)
        wanted = {"opponent": lambda m: m["role"] != role, "self": lambda m: m["role"] == role}
    else:
        item = _items(p)[slot]
        run = catalog().get(catalog().key_of(spec.judge.run))
        moves, record, match_id = [], {}, None
        for real in (item.pair.first, item.pair.second):
            if not real.startswith(judging.GOLD_PREFIX):
                found = catalog().record(run, real) or {}
                moves += [m | {"match_id": real, "agent": found.get(f"{m['role']}_agent", "")}
                          for m in catalog().transcript(run, real)]
        wanted = {"judged": lambda m: m["role"] == item.pair.role, "opponent": lambda m: m["role"] != item.pair.role}
    candidates = [(number, m) for number, m in enumerate(moves, 1)
                  if m["message"].strip() and any(wanted[side](m) for side in spec.labels.sides)]
    rng = np.random.default_rng(derive_seed(spec.seed, "labels", p.index, slot))
    picked = sorted(rng.choice(len(candidates), size=min(spec.labels.per_item, len(candidates)), replace=False)) \
        if candidates else []
    out = []
    for i in picked:
        number, m = candidates[int(i)]
        out.append({"match_id": m.get("match_id", match_id), "move": number, "role": m["role"],
                    "agent": m.get("agent") or record.get(f"{m['role']}_agent", ""), "message": m["message"],
                    "expressed": m["emotion"], "sensed": m.get("sensed")})
    return out


@blueprint.route("/study/labels/<int:slot>", methods=["GET", "POST"])
def labels(slot: int):
    step = f"labels:{slot}"
    p = participant(step)
    messages = _messages(p, slot)
    choices = [*_taxonomy(), NONE_LABEL]
    error = None
    if request.method == "POST":
        given = [request.form.get(f"label-{i}", "") for i in range(len(messages))]
        if all(g in choices for g in given):
            store().complete(p, step, slot=slot, taxonomy=study().play.taxonomy,
                             labels=[m | {"label": g} for m, g in zip(messages, given)])
            return onward(p)
        error = "choose an emotion (or none) for every message"
    p.started(step)
    return render_template("study_labels.html", spec=study(), messages=messages, choices=choices, error=error,
                           values=request.form), 400 if error else 200


def _taxonomy() -> tuple[str, ...]:
    return get_taxonomy(study().play.taxonomy)
