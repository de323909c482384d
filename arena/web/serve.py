"""Starting the web app from the command line: what to serve, where people's matches go, the token."""
from __future__ import annotations

import argparse
import signal
from pathlib import Path

from agents.llm import BackendSpec, ConfigError
from arena.cli import MIN_BOOTSTRAP
from arena.spec import TournamentSpec, default_agents, load_spec_file
from arena.web.app import ServeConfig, close, create_app
from arena.web.security import is_loopback, serving_token

DEFAULT_PLAY_RUN = Path("runs") / "people"
MAX_BODY = 64 * 1024  # the largest form is a move with a 500-character message


def play_spec(play_run: Path) -> TournamentSpec:
    """The settings of people's matches: the play run's own tournament.toml, else the defaults."""
    toml = play_run / "tournament.toml"
    if toml.is_file():
        return TournamentSpec(**load_spec_file(toml))
    return TournamentSpec(agents=default_agents())


def default_play_run(folders: list[Path]) -> Path:
    """The first given run made by ``arena tournament`` (people join its tournament, on its seeds),
    else a ``people`` run inside the first given folder, else runs/people."""
    for folder in folders:
        if (folder / "tournament.toml").is_file():
            return folder
    return folders[0] / "people" if folders else DEFAULT_PLAY_RUN


def config_from_args(args: argparse.Namespace) -> tuple[ServeConfig, str | None]:
    """The server's configuration and its token (None on loopback without one); a ConfigError names a bad choice."""
    folders = [Path(f) for f in (args.runs or ["runs"])]
    missing = [str(f) for f in folders if not f.is_dir() and args.runs]
    if missing:
        raise ConfigError(f"no such run directory: {missing[0]}")
    if args.abandon_after <= 0 or args.max_live < 1 or args.threads < 1 or args.max_live_per_person < 1:
        raise ConfigError("--abandon-after must be positive, --max-live, --max-live-per-person and --threads at least 1")
    if args.bootstrap < MIN_BOOTSTRAP:
        raise ConfigError(f"--bootstrap must be at least {MIN_BOOTSTRAP} (got {args.bootstrap}): fewer resamples "
                          "give intervals that mean nothing")
    play_run = Path(args.play_run) if args.play_run else default_play_run(folders if args.runs else [])
    study = study_dir = None
    if args.study:
        from arena.study.spec import load_study

        study = load_study(args.study)
        study_dir = Path(args.out) if args.out else Path("runs") / f"study-{study.id}"
    elif args.out:
        raise ConfigError("--out names a study's data folder; it needs --study FILE")
    try:
        token = serving_token(args.host, args.token, required=study is not None)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    backends = {}
    if args.backend:
        backends[args.backend] = BackendSpec(args.backend, model=args.model, ollama_host=args.ollama_host,
                                             base_url=args.base_url, api_key_env=args.api_key_env)
    spec = play_spec(play_run).validate()
    hosts = frozenset(h.lower() for h in args.allowed_host) if is_loopback(args.host) else None
    config = ServeConfig(folders=[f for f in folders if f.is_dir()], play_run=play_run, spec=spec, token=token,
                         bootstrap=args.bootstrap, abandon_after_s=args.abandon_after, max_live=args.max_live,
                         backends=backends, max_per_person=args.max_live_per_person, allowed_hosts=hosts,
                         study=study, study_dir=study_dir)
    return config, token


def _stop(signum, frame):
    raise KeyboardInterrupt  # SIGTERM stops the server like Ctrl-C: unfinished matches are recorded


def serve(args: argparse.Namespace) -> int:
    import waitress

    config, token = config_from_args(args)
    app = create_app(config)
    try:
        try:
            server = waitress.create_server(app, host=args.host, port=args.port, threads=args.threads,
                                            max_request_body_size=MAX_BODY)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
        host = f"[{args.host}]" if ":" in args.host else args.host
        base = f"http://{host}:{server.effective_port}/"
        address = base + (f"?token={token}" if token else "")
        print(f"arena serve: {len(app.extensions['arena']['catalog'].runs())} run(s); people's matches go to "
              f"{config.play_run}\nopen {address}   (Ctrl-C stops; unfinished matches are recorded as abandoned)",
              flush=True)
        if config.study is not None:
            ids = "&".join(f"{name}=..." for name in config.study.id_params)
            print(f"study {config.study.id!r}: participants open {base}study?{ids}; its data go to {config.study_dir}; "
                  f"the researcher's overview: {base}researcher?token={token}", flush=True)
        signal.signal(signal.SIGTERM, _stop)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        close(app)
    return 0
