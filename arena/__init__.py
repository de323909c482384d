"""Running tournaments: schedule, Ray execution, durable results, the CLI and plugins."""
from arena.runner import run_tournament
from arena.schedule import MatchSpec, Session, build_sessions
from arena.spec import TournamentSpec

__all__ = ["MatchSpec", "Session", "TournamentSpec", "build_sessions", "run_tournament"]
