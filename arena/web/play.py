"""Pages where a person negotiates against an agent: choose a match, then move turn by turn."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from agents.llm import ConfigError
from arena.people import LiveMatch, PlayRequest, PlayRoom, person_action
from arena.web.runs import transcript_rows
from arena.web.security import person
from envs import COUNTERPART, FOCAL, get_domain

blueprint = Blueprint("play", __name__)
FIRST_WAIT_S = 2.0  # how long a page waits for the agent before showing "thinking" and refreshing
MOVE_WAIT_S = 15.0  # how long a move's request waits for the agent's reply before showing "thinking"


def room() -> PlayRoom:
    return current_app.extensions["arena"]["room"]


def _choose(error: str | None = None, status: int = 200):
    args = request.values
    domain, kind = args.get("domain"), args.get("role")
    the_room = room()
    step2 = domain in the_room.spec.domains and kind in (FOCAL, COUNTERPART)
    context = {"domains": [get_domain(d) for d in the_room.spec.domains], "domain": domain, "kind": kind,
               "error": error, "mine": the_room.of(person()), "step2": step2}
    if step2:
        opponents = the_room.opponents.names(domain, kind)
        context |= {"role_name": get_domain(domain).role_name(kind), "opponents": opponents,
                    "backends": list(the_room.opponents.backends), "scenarios": the_room.scenarios(domain),
                    "defaults": {name: the_room.opponents.default_backend(name) for name in opponents}}
    return render_template("play_choose.html", **context), status


@blueprint.route("/play", methods=["GET"])
def choose():
    return _choose()


@blueprint.route("/play", methods=["POST"])
def start():
    form = request.form
    wanted = PlayRequest(form.get("domain", ""), form.get("role", ""), form.get("opponent", ""),
                         form.get("backend", ""), form.get("scenario") or None)
    try:
        live = room().start(person(), wanted)
    except ConfigError as exc:
        return _choose(str(exc), 400)
    return redirect(url_for("play.live", live_id=live.live_id, _anchor="now"), 303)


def _live(live_id: str) -> LiveMatch:
    try:
        return room().get(person(), live_id)
    except KeyError:
        abort(404, "no such match of yours (matches are private to the browser session that started them)")


def _page(live: LiveMatch, error: str | None = None, form: dict | None = None, status: int = 200):
    record = {"domain": live.scenario.domain, f"{live.kind}_agent": "you",
              f"{COUNTERPART if live.kind == FOCAL else FOCAL}_agent": live.opponent.display_name}
    return render_template("play_match.html", live=live, view=live.view, rows=transcript_rows(record, list(live.moves)),
                           state=live.state, error=error, form=form or {}, run_key=_run_key(),
                           other_kind=COUNTERPART if live.kind == FOCAL else FOCAL), status


def _run_key() -> str | None:
    return current_app.extensions["arena"]["catalog"].key_of(room().run_dir)


def wait_briefly(live: LiveMatch) -> None:
    """The agent usually answers at once: spare the person a refresh."""
    if live.state in ("starting", "waiting"):
        live.channel.wait_for_turn(FIRST_WAIT_S)


def submit_move(live: LiveMatch, form: dict[str, str]) -> tuple[str | None, int]:
    """Hand the person's move to their match: (None, 303) once it is made, else (the reason, status).
    The form names the turn it was made for: a resubmitted form, or one from a stale tab, is refused."""
    if live.state != "your_turn":
        return "it is not your turn; here is the match as it stands now", 409
    try:
        turn = int(form.get("turn", ""))
    except ValueError:
        return "this form is missing its turn; reload the page and make your move again", 400
    if turn != live.channel.turn:  # checked again, atomically, when the move is handed over
        return "that move was for an earlier turn; here is the match as it stands now", 409
    try:
        action = person_action(form, live.view, live.their_offer)
    except ValueError as exc:
        return str(exc), 400
    try:
        live.channel.submit(action, turn)
    except ValueError as exc:
        return str(exc), 409
    live.channel.wait_for_turn(MOVE_WAIT_S)
    return None, 303


@blueprint.route("/play/<live_id>", methods=["GET"])
def live(live_id: str):
    match = _live(live_id)
    wait_briefly(match)
    return _page(match)


@blueprint.route("/play/<live_id>", methods=["POST"])
def move(live_id: str):
    match = _live(live_id)
    form = request.form.to_dict()
    error, status = submit_move(match, form)
    if error is not None:
        return _page(match, error, form if status == 400 else None, status)
    return redirect(url_for("play.live", live_id=live_id, _anchor="now"), 303)
