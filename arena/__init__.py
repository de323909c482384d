"""Running tournaments: schedule, Ray execution, durable results, the CLI and plugins.

Attributes load on first use, so ``arena --help`` does not import Ray, pandas or the agents.
"""
from __future__ import annotations

import importlib

_WHERE = {"run_tournament": "arena.runner", "MatchSpec": "arena.schedule", "Session": "arena.schedule",
          "build_sessions": "arena.schedule", "TournamentSpec": "arena.spec"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'arena' has no attribute {name!r}")
