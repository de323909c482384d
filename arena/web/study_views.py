"""A study's participant pages: entry from the recruitment link, consent, instructions, the
comprehension check, questionnaires, the end (completion code) and stopping; and the researcher's
overview. Matches, labels and judgments are in study_play.py. A participant is always sent to their
next step: pages can be neither skipped nor redone."""
from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, session, url_for

from arena.people import PlayRoom
from arena.study.store import ID_PATTERN, Participant, StudyStore
from arena.study.spec import StudySpec

blueprint = Blueprint("study", __name__)


def setup(app: Flask, config, state: dict[str, Any]) -> PlayRoom:
    """The study's store and play room (its matches go to the study's folder); returns the room."""
    from arena.web import study_play

    study: StudySpec = config.study
    agents = [c.agent for c in study.conditions] + ([study.practice.agent] if study.practice else [])
    play = replace(study.play, agents=agents, domains=sorted({c.domain for c in study.conditions} or {"credit"}))
    store = StudyStore(config.study_dir, study)
    room = PlayRoom(config.study_dir, play, {}, study.abandon_after, config.max_live, max_per_person=1)
    state |= {"study": study, "store": store, "study_room": room, "study_live": {}}
    app.register_blueprint(blueprint)
    app.register_blueprint(study_play.blueprint)
    return room


def store() -> StudyStore:
    return current_app.extensions["arena"]["store"]


def study() -> StudySpec:
    return current_app.extensions["arena"]["study"]


def step_url(step: str) -> str:
    """The page of a step (see arena.study.store.plan)."""
    kind, _, rest = step.partition(":")
    if kind == "q":
        qid, _, slot = rest.partition(":")
        return url_for("study.questionnaire", qid=qid, slot=slot)
    pages = {"instructions": "study.instructions", "check": "study.check", "complete": "study.done",
             "stopped": "study.stopped"}
    if kind in pages:
        return url_for(pages[kind])
    if kind == "practice":
        return url_for("study_play.practice", _anchor="now")
    endpoint = {"match": "study_play.match", "vote": "study_play.judge", "labels": "study_play.labels"}[kind]
    return url_for(endpoint, slot=int(rest), _anchor="now" if kind == "match" else None)


def participant(step: str | None = None) -> Participant:
    """The participant of this browser session; with ``step``, a redirect (raised) unless it is theirs now."""
    pid = session.get("participant")
    p = store().get(pid) if pid else None
    if p is None:
        abort(403, "this page belongs to a study: open the study link you were given to take part")
    if step is not None and store().next_step(p) != step:
        abort(redirect(step_url(store().next_step(p)), 303))
    return p


def onward(p: Participant):
    return redirect(step_url(store().next_step(p)), 303)


@blueprint.route("/study")
def entry():
    """The recruitment link: ids from its parameters; a returning id resumes where it left off."""
    spec = study()
    params = {name: request.args[name] for name in spec.id_params if request.args.get(name)}
    for name, value in params.items():
        if not ID_PATTERN.fullmatch(value):
            abort(400, f"the study link's {name} is not a valid id (letters, digits, '.', '_' and '-', at most 64)")
    pid = params.get(spec.id_params[0]) if spec.id_params else None
    if pid is None:
        known = session.get("participant")
        if known and store().get(known):
            return onward(store().get(known))
        if not spec.allow_anonymous:
            abort(400, f"this study link lacks your participant id ({spec.id_params[0]}); open the link the study gave you")
        pid = "anon-" + secrets.token_hex(8)
    if store().is_withdrawn(pid):
        return render_template("study_message.html", title="You have withdrawn", spec=spec, message=(
            "You withdrew from this study and your data were removed; you cannot take part again."))
    session["participant"], session["params"] = pid, params
    p = store().get(pid)
    return onward(p) if p is not None else redirect(url_for("study.consent"), 303)


@blueprint.route("/study/consent", methods=["GET", "POST"])
def consent():
    pid = session.get("participant")
    if not pid:
        abort(403, "open the study link you were given to take part")
    if store().get(pid) is not None:
        return onward(store().get(pid))
    if request.method == "GET":
        return render_template("study_consent.html", spec=study())
    if request.form.get("choice") == "agree":
        return onward(store().enrol(pid, session.get("params", {})))
    session.clear()  # declining stores nothing, not even the id
    return render_template("study_message.html", title="Thank you", spec=study(), declined=True, message=(
        "You chose not to take part. Nothing about you has been stored. You can close this page."))


@blueprint.route("/study/instructions", methods=["GET", "POST"])
def instructions():
    p = participant("instructions")
    if request.method == "POST":
        store().complete(p, "instructions")
        return onward(p)
    p.started("instructions")
    return render_template("study_instructions.html", spec=study(), p=p)


@blueprint.route("/study/check", methods=["GET", "POST"])
def check():
    p = participant("check")
    spec, wrong, answers = study(), [], {}
    if store().screened_out(p):
        return render_template("study_message.html", title="Thank you", spec=spec, message=(
            "The answers to the questions about the instructions were not right often enough to go on. "
            "Thank you for your time."), screened=True)
    if request.method == "POST":
        answers = {q.id: request.form.get(q.id, "") for q in spec.comprehension}
        wrong = [q.id for q in spec.comprehension if answers[q.id] != q.answer]
        store().attempt(p, answers, wrong)
        if not wrong:
            return onward(p)
        if store().screened_out(p):
            return redirect(url_for("study.check"), 303)
    p.started("check")
    return render_template("study_check.html", spec=spec, wrong=wrong, answers=answers, p=p), 400 if wrong else 200


@blueprint.route("/study/questionnaire/<qid>/<slot>", methods=["GET", "POST"])
def questionnaire(qid: str, slot: str):
    step = f"q:{qid}:{slot}"
    p = participant(step)
    form = study().questionnaire(qid)
    errors: dict[str, str] = {}
    if request.method == "POST":
        answers = {}
        for item in form.items:
            try:
                answers[item.id] = item.answer(request.form.get(item.id))
            except ValueError as exc:
                errors[item.id] = str(exc)
        if not errors:
            attention = {item.id: item.passed(answers[item.id]) for item in form.items if item.kind == "attention"}
            store().complete(p, step, questionnaire=qid, slot=slot, answers=answers, attention=attention)
            return onward(p)
    p.started(step)
    return render_template("study_questionnaire.html", spec=study(), form=form, slot=slot, errors=errors,
                           values=request.form if errors else {}, p=p), 400 if errors else 200


@blueprint.route("/study/done")
def done():
    p = participant()
    if store().next_step(p) == "complete":
        store().complete(p, "complete")
    if "complete" not in p.done:
        return onward(p)
    return render_template("study_done.html", spec=study())


@blueprint.route("/study/stop", methods=["GET", "POST"])
def stop():
    p = participant()
    if request.method == "POST" and store().next_step(p) not in ("complete", "stopped"):
        store().stop(p)
        return redirect(url_for("study.stopped"), 303)
    return render_template("study_stop.html", spec=study(), p=p)


@blueprint.route("/study/stopped")
def stopped():
    p = participant()
    if not p.stopped:
        return onward(p)
    return render_template("study_message.html", title="You have stopped", spec=study(), stopped=True, message=(
        "You stopped taking part; nothing more will be asked of you. What you did so far is kept unless you ask for "
        "it to be removed: to withdraw, write to the researcher with your participant id."))


@blueprint.route("/researcher")
def researcher():
    """The researcher's overview (behind the server's token): where each participant is, per condition."""
    from arena.study.report import overview

    return render_template("study_researcher.html", spec=study(), **overview(store()))
