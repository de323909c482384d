"""The ``arena serve`` arguments (argparse only, so ``arena --help`` stays quick)."""
from __future__ import annotations

import argparse


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="a local web app: browse runs, negotiate against agents, judge transcripts")
    p.add_argument("runs", nargs="*", metavar="RUN_DIR", help="runs, or folders of runs, to show (default: runs/)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other needs a token)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--token", help="access token (at least 16 characters); generated and printed for a non-loopback host")
    p.add_argument("--play-run", metavar="DIR", help="where people's matches are recorded (default: the first RUN_DIR "
                   "made by arena tournament, so they join it on its seeds; else DIR/people in the first folder; else runs/people)")
    p.add_argument("--backend", choices=["llama-cpp", "ollama", "openai"], help="a model backend people may choose for opponents")
    p.add_argument("--model", metavar="NAME")
    p.add_argument("--ollama-host", metavar="URL")
    p.add_argument("--base-url", metavar="URL")
    p.add_argument("--api-key-env", metavar="NAME", default="OPENAI_API_KEY")
    p.add_argument("--abandon-after", type=float, default=600.0, metavar="S",
                   help="seconds without a move after which a person's match is recorded as abandoned")
    p.add_argument("--max-live", type=int, default=32, metavar="N", help="matches people may play at once")
    p.add_argument("--max-live-per-person", type=int, default=1, metavar="N",
                   help="matches one browser session may have in progress at once (default 1)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a Host name this server answers to besides its loopback names (e.g. behind a reverse proxy)")
    p.add_argument("--study", metavar="FILE", help="run a human study (a study TOML file): participants see only its "
                   "pages; every other page needs the token, which is then always set")
    p.add_argument("--out", metavar="DIR", help="the study's data folder (default runs/study-ID)")
    p.add_argument("--threads", type=int, default=8, help="request threads")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the leaderboards shown")
