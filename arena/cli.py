"""The ``arena`` command line: tournament, agents, domains, show, replay, leaderboard, plot, train."""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from datetime import datetime
from pathlib import Path

from arena.study.parser import add_study_parser
from arena.training.parser import add_train_parser
from arena.web.parser import add_serve_parser

# Only argparse is imported up front, so `arena --help` answers at once; the commands import what
# they use after the arguments are parsed.

EXIT_USAGE = 2


MIN_BOOTSTRAP = 100
MAX_BOOTSTRAP = 100_000

# Where each command is documented (pages under docs/ in the repository; tests/test_docs.py checks they exist).
DOCS_BUILD = "python -m sphinx docs docs/_build/html"
DOC_PAGES = {
    "arena": "docs/index.md", "tournament": "docs/getting-started/first-tournament.md",
    "agents": "docs/reference/agents.md", "domains": "docs/concepts/domains.md",
    "show": "docs/guides/reading-results.md", "matches": "docs/guides/reading-results.md",
    "replay": "docs/guides/reading-results.md", "leaderboard": "docs/guides/reading-results.md",
    "compare": "docs/getting-started/first-tournament.md", "sensitivity": "docs/concepts/response-model.md",
    "plot": "docs/guides/reading-results.md", "train": "docs/guides/train-emodistill.md",
    "serve": "docs/guides/web-app.md", "study": "docs/guides/human-study.md",
}


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line naming the problem (and where help is), exit status 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _resamples(text: str) -> int:
    """A bootstrap resample count: at least MIN_BOOTSTRAP, or intervals mean nothing."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < MIN_BOOTSTRAP:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_BOOTSTRAP} (got {value}): fewer resamples give "
                                         "intervals that mean nothing")
    if value > MAX_BOOTSTRAP:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_BOOTSTRAP:,} (got {value:,}): more resamples do not "
                                         "change a 95% interval's ends beyond their rounding")
    return value


def _alpha(text: str) -> float:
    """A family-wise error rate: strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1 (got {text}), e.g. 0.05")
    return value


def _tournament_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tournament", help="run (or resume) a role-balanced round-robin tournament")
    p.add_argument("--config", metavar="FILE", help="tournament TOML file (flags override it)")
    p.add_argument("--agents", type=_csv, help="comma-separated registry names (default: all built-ins)")
    p.add_argument("--domains", type=_csv, help="comma-separated domains (default: all four)")
    p.add_argument("--split", choices=["train", "test", "all"])
    p.add_argument("--scenarios", type=int, metavar="N", help="the first N scenarios of the split")
    p.add_argument("--repeats", type=int, metavar="R")
    p.add_argument("--seed", type=int, metavar="S")
    p.add_argument("--max-messages", type=int, metavar="N")
    p.add_argument("--backend", choices=["scripted", "llama-cpp", "ollama", "openai"],
                   help="default backend for agents that do not set their own (default: scripted)")
    p.add_argument("--model", metavar="NAME", help="model name (ollama) or GGUF path (llama-cpp)")
    p.add_argument("--ollama-host", metavar="URL", help="Ollama server, or several separated by commas (default: $OLLAMA_HOST or http://127.0.0.1:11434)")
    p.add_argument("--base-url", metavar="URL", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1, or several separated by commas")
    p.add_argument("--api-key-env", metavar="NAME",
                   help="environment variable holding that server's API key (default OPENAI_API_KEY; the key is never saved)")
    p.add_argument("--workers", type=int, metavar="N", help="Ray workers (0 runs everything in-process)")
    p.add_argument("--ray-address", metavar="ADDR", help="join an existing Ray cluster")
    p.add_argument("--llm-parallel", type=int, metavar="N",
                   help="requests in flight per served model host over the whole run, each host counted apart "
                        "(default 4; size it to the server's batch: vLLM or SGLang 64-256, llama-server its --parallel)")
    p.add_argument("--llm-threads", type=int, metavar="N",
                   help="CPU threads per embedded model (default: all cores, shared out over the Ray workers)")
    p.add_argument("--no-prefix-reuse", action="store_true",
                   help="llama-cpp: evaluate every prompt from scratch (same replies, slower; for measuring)")
    p.add_argument("--no-cache", action="store_true", help="do not use the on-disk response cache")
    p.add_argument("--out", metavar="DIR", help="output directory (default runs/<timestamp>); reuse it to resume")
    p.add_argument("--replay-changed", action="store_true", default=None,
                   help="resuming: play again the finished matches of agents whose code changed since (set aside "
                        "in results.changed.jsonl)")
    p.add_argument("--response-model", metavar="MODEL",
                   help="how scripted counterparts respond to emotion: default, flat, reversed or a .toml file")
    p.add_argument("--bootstrap", type=_resamples, default=1000, help="bootstrap resamples for the final leaderboard")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="arena", description="Negotiation tournaments between emotion-aware agents.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    _tournament_parser(sub)
    p = sub.add_parser("agents", help="list the registered agents (built-ins and plugins)")
    p.add_argument("--long", action="store_true", help="whole descriptions, roles, package and parameters")
    sub.add_parser("domains", help="list the negotiation domains")
    p = sub.add_parser("show", help="summarise a run")
    p.add_argument("run")
    p = sub.add_parser("matches", help="list a run's match ids (for arena replay), with filters")
    p.add_argument("run")
    p.add_argument("--domain")
    p.add_argument("--agent", help="the focal agent")
    p.add_argument("--counterpart")
    p.add_argument("--outcome", choices=["agreement", "breakdown", "error", "abandoned"])
    p.add_argument("--limit", type=int, default=50, help="at most this many rows (0: all)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p = sub.add_parser("replay", help="print one match's transcript")
    p.add_argument("run")
    p.add_argument("match_id")
    p = sub.add_parser("leaderboard", help="ratings and metrics of a run")
    p.add_argument("run")
    p.add_argument("--method", choices=["bt", "elo"], default="bt")
    p.add_argument("--view", choices=["same-role", "head-to-head"], default="same-role",
                   help="same-role (default) ranks agents within each role; head-to-head puts both roles on one scale")
    p.add_argument("--by", choices=["domain", "all", "role"], default=None,
                   help="only per domain, or only overall (default: both; 'role' is an old name for 'all')")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--bootstrap", type=_resamples, default=1000)
    p.add_argument("--metrics", action="store_true", help="print the negotiation metrics table instead")
    p.add_argument("--human-votes", nargs="?", const="", metavar="FILE",
                   help="rate agents from people's blind votes (RUN/votes.jsonl, or FILE) instead of match outcomes")
    p.add_argument("--with-people", action="store_true", help="include people's matches in the agents' ratings")
    p.add_argument("--people", action="store_true", help="print people against the agents (paired matches) instead")
    _compare_parsers(sub)
    p = sub.add_parser("plot", help="write the leaderboard plots of a run")
    p.add_argument("run")
    p.add_argument("--out", metavar="DIR")
    add_train_parser(sub)
    add_serve_parser(sub)
    add_study_parser(sub)
    _point_to_docs(parser, "arena")
    return parser


def _point_to_docs(parser: argparse.ArgumentParser, command: str) -> None:
    """End the help of ``parser`` and of every subcommand under it with where its documentation is."""
    page = DOC_PAGES.get(command, "docs/reference/cli.md")
    parser.epilog = (f"Documentation: {page} (the repository's docs/ folder, Markdown readable as it is); "
                     f"to build the site: {DOCS_BUILD}")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                _point_to_docs(child, name if command == "arena" else command)


FORMATS = ["table", "csv", "json", "markdown"]


def _comparison_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metric", type=_csv, default=None, metavar="M,M",
                   help="metrics to compare; the first is the primary one (default: utility,agreement,savings,"
                        "emodistill_utility,rounds)")
    p.add_argument("--bootstrap", type=_resamples, default=None, help=argparse.SUPPRESS)  # no longer used
    p.add_argument("--alpha", type=_alpha, default=0.05, help="family-wise error rate of each family's Holm adjustment")
    p.add_argument("--format", choices=FORMATS, default="table")


def _compare_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="paired differences between agents, with intervals and Holm-adjusted p-values")
    p.add_argument("run")
    p.add_argument("agents", nargs="*", metavar="A B", help="two agents (A - B); or use --baseline")
    p.add_argument("--baseline", metavar="NAME", help="compare every other agent of the same role with NAME")
    p.add_argument("--per-opponent", action="store_true", help="also break each comparison down by opponent")
    _comparison_args(p)
    p = sub.add_parser("sensitivity", help="replay a run under the flat and reversed response models and "
                                           "say which comparisons keep their sign and significance")
    p.add_argument("run")
    p.add_argument("agents", nargs="*", metavar="A B", help="two agents (A - B); default --baseline vanilla")
    p.add_argument("--baseline", metavar="NAME")
    p.add_argument("--workers", type=int, default=None, help="Ray workers for the replays (0: in-process)")
    _comparison_args(p)


def spec_overrides(args: argparse.Namespace) -> dict:
    """The tournament fields given on the command line."""
    from dataclasses import fields

    from arena.spec import TournamentSpec

    names = {f.name for f in fields(TournamentSpec)}
    values = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if args.no_cache:
        values["cache"] = False
    if getattr(args, "no_prefix_reuse", False):
        values["prefix_reuse"] = False
    if args.agents is not None:
        values["agents"] = args.agents
    return values


def os_error_message(exc: OSError) -> str:
    """One line for a filesystem error: the path and what is wrong with it."""
    if exc.errno is None:  # raised by us with a message of its own
        return str(exc.args[0] if exc.args else exc)
    path = exc.filename or ""
    hint = {17: "it exists and is not a directory", 20: "a part of it is a file, not a directory",
            21: "it is a directory", 13: "permission denied", 30: "the filesystem is read-only",
            28: "no space left on the device; free some and rerun with the same --out to resume"}.get(exc.errno)
    return f"cannot use {path}: {hint or exc.strerror}" if path else f"{hint or exc.strerror} (the path was not reported)"


def _warning_line(message, category, filename, lineno, line=None) -> str:
    return f"arena: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = _warning_line
    parser = build_parser()
    args = parser.parse_args(argv)
    from agents.llm import ConfigError
    from arena import commands
    from arena.training.cli import run_train

    try:
        if args.command == "tournament":
            out = args.out or str(Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"))
            return commands.tournament(args.config, spec_overrides(args), out, args.bootstrap, args.quiet)
        if args.command == "train":
            return run_train(args)
        if args.command == "serve":
            from arena.web.serve import serve

            return serve(args)
        if args.command == "study":
            from arena.study.commands import run_study

            return run_study(args)
        return commands.dispatch(args)
    except ConfigError as exc:
        print(f"arena: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (e.g. | head): not an error of ours (before OSError, its base)
        sys.stdout = open(os.devnull, "w")
        return 0
    except OSError as exc:  # a path that cannot be read or written: name it and the reason
        print(f"arena: error: {os_error_message(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyError, ValueError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"arena: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("arena: interrupted; finished matches are saved, rerun with the same --out to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
