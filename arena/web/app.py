"""``arena serve``'s web app: server-rendered pages to browse runs, play agents and judge transcripts."""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pandas as pd
from flask import Flask, render_template
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from agents.llm import BackendSpec
from arena.people import PlayRoom
from arena.spec import TournamentSpec
from arena.web import security
from arena.web.catalog import Catalog


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


def html_table(frame: pd.DataFrame, digits: int = 3) -> Markup:
    """A DataFrame as an escaped HTML table."""
    return Markup(frame.round(digits).to_html(index=False, classes="data", border=0, na_rep="", escape=True))


def create_app(config: ServeConfig) -> Flask:
    """The app; ``app.extensions["arena"]`` holds the catalog, the play room and the judge's pending pairs."""
    from arena.web import judge, play, runs

    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(32)
    app.permanent_session_lifetime = timedelta(days=7)
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    folders = list(dict.fromkeys([*config.folders, config.play_run]))
    room = PlayRoom(config.play_run, config.spec, config.backends, config.abandon_after_s, config.max_live)
    app.extensions["arena"] = {"catalog": Catalog(folders, config.bootstrap), "room": room, "pending": {},
                               "lock": threading.Lock(), "config": config}
    security.install(app, config.token)
    app.jinja_env.filters["table"] = html_table
    app.register_blueprint(runs.blueprint)
    app.register_blueprint(play.blueprint)
    app.register_blueprint(judge.blueprint)

    @app.errorhandler(HTTPException)
    def error_page(exc: HTTPException):
        return render_template("error.html", code=exc.code, title=exc.name, message=exc.description), exc.code

    return app
