"""``arena serve``'s web app: server-rendered pages to browse runs, play agents and judge transcripts,
and (with a study file) a study's participant pages."""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException

from agents.llm import BackendSpec
from arena.people import PlayRoom
from arena.spec import TournamentSpec
from arena.web import display
from arena.web import security
from arena.web.catalog import Catalog

STUDY_PATHS = ("/study", "/static")  # what a study's participants may open without the researcher's token


@dataclass
class ServeConfig:
    """What the server shows and where people's matches go."""

    folders: list[Path]
    play_run: Path
    spec: TournamentSpec  # the settings people's matches are played under (the play run's own, if it has them)
    token: str | None = None
    bootstrap: int = 1000
    abandon_after_s: float = 600.0
    max_live: int = 32
    backends: dict[str, BackendSpec] = field(default_factory=dict)
    max_per_person: int = 1
    allowed_hosts: frozenset[str] | None = frozenset()  # None: any Host (a server on a public address)
    study: Any = None  # an arena.study.spec.StudySpec in study mode
    study_dir: Path | None = None


def _secret(config: ServeConfig) -> bytes:
    """The session-signing key: kept in a study's folder, so participants' sessions outlive a restart."""
    if config.study_dir is None:
        return secrets.token_bytes(32)
    path = Path(config.study_dir) / ".session-key"
    if not path.is_file():
        Path(config.study_dir).mkdir(parents=True, exist_ok=True)
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


def create_app(config: ServeConfig) -> Flask:
    """The app; ``app.extensions["arena"]`` holds the catalog, the play room(s), the judge's pending
    pairs and, in study mode, the study's store."""
    from arena.web import judge, play, runs

    app = Flask(__name__)
    app.secret_key = _secret(config)
    app.permanent_session_lifetime = timedelta(days=7)
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    folders = list(dict.fromkeys([*config.folders, config.play_run]))
    room = PlayRoom(config.play_run, config.spec, config.backends, config.abandon_after_s, config.max_live,
                    config.max_per_person)
    state: dict[str, Any] = {"room": room, "pending": {}, "lock": threading.Lock(), "config": config}
    live = [room]
    if config.study is not None:
        from arena.web import study_views

        try:
            live.append(study_views.setup(app, config, state))
        except Exception:
            room.close()  # release the play run before the error goes up
            raise
        folders.append(config.study_dir)
        if config.study.judge is not None:
            folders.append(config.study.judge.run)
    state["catalog"] = Catalog(folders, config.bootstrap, live)
    app.extensions["arena"] = state
    security.install(app, config.token, config.allowed_hosts, STUDY_PATHS if config.study is not None else ())
    display.install(app)
    app.register_blueprint(runs.blueprint)
    app.register_blueprint(play.blueprint)
    app.register_blueprint(judge.blueprint)

    @app.context_processor
    def navigation() -> dict[str, Any]:
        """Participants of a study see no navigation to runs, play or judge pages."""
        return {"show_nav": getattr(g, "researcher", False) and not request.path.startswith("/study"),
                "study_mode": config.study is not None}

    @app.errorhandler(HTTPException)
    def error_page(exc: HTTPException):
        return render_template("error.html", code=exc.code, title=exc.name, message=exc.description), exc.code

    return app


def close(app: Flask) -> None:
    """Stop the app's play rooms: unfinished matches recorded as abandoned, run tables written."""
    state = app.extensions["arena"]
    for name in ("room", "study_room"):
        if name in state:
            state[name].close()
