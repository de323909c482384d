"""Resuming a run: what must match (the fingerprint), and notes on finished matches computed elsewhere."""
from __future__ import annotations

import collections
import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

from agents.llm import ConfigError
from agents.llm.factory import backend_build, outcome_identity
from agents.response_model import response_model_identity
from arena.schedule import SEED_SCHEME
from arena.spec import TournamentSpec
from arena.storage import RunStore


def fingerprint(spec: TournamentSpec) -> str:
    """What decides the set of matches and their outcomes (not how they are executed)."""
    keys = ("domains", "split", "scenarios", "repeats", "seed", "max_messages", "taxonomy", "converge_within")
    data = {k: v for k, v in asdict(spec).items() if k in keys}
    # an agent's backend decides outcomes through its kind and model (and llama-cpp's eval chunk); hosts,
    # threads, prefix reuse, cache and timeouts change how a run executes, so a resume may change them
    data["agents"] = [{"name": a.name, "label": a.display_name, "params": a.params,
                       "backend": outcome_identity(a.resolved_backend)} for a in spec.agents]
    data["response_model"] = response_model_identity(spec.response_model)
    data["seed_scheme"] = SEED_SCHEME
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _split_fixed(spec: TournamentSpec) -> TournamentSpec:
    """The same tournament with llama-cpp prompts cut at fixed positions, as runs before line splitting were."""
    agents = [replace(a, backend=replace(a.resolved_backend, eval_split="fixed"))
              if a.resolved_backend.kind == "llama-cpp" else a for a in spec.agents]
    return replace(spec, agents=agents)


def _check_resume(out: Path, spec: TournamentSpec) -> None:
    marker = out / "fingerprint.txt"
    recorded = marker.read_text().strip() if marker.exists() else None
    if recorded is not None and recorded != fingerprint(spec):
        if recorded == fingerprint(_split_fixed(spec)):
            raise ConfigError(f"{out} was evaluated with prompts cut every eval_chunk tokens (before line splitting); "
                              'resume it with eval_split = "fixed" in its agents\' llama-cpp backend tables')
        raise ConfigError(f"{out} holds a different tournament; use another --out or the same settings to resume")
    marker.write_text(fingerprint(spec) + "\n")
    (out / "tournament.toml").write_text(spec.to_toml(), encoding="utf-8")


def builds_elsewhere(records: dict[str, dict[str, Any]], here: set[str]) -> dict[str, int]:
    """Finished matches whose replies a llama.cpp build not in ``here`` computed (build: matches);
    replies are bit-identical only on the same build, so these may not replay the same here."""
    other: collections.Counter = collections.Counter()
    for record in records.values():
        if not record.get("error"):
            other.update({b for b in (record.get("focal_build"), record.get("counterpart_build")) if b and b not in here})
    return dict(other)


def _note_builds(out: Path, store: RunStore, spec: TournamentSpec, note: Callable[[str], None]) -> None:
    here = {backend_build(a.resolved_backend) for a in spec.agents} - {""}
    for build, count in builds_elsewhere(store.records, here).items():
        note(f"{count} finished match(es) in {out} were computed by {build}; this process has "
             f"{', '.join(sorted(here)) or 'no llama.cpp'}: they stand as recorded, but replies are bit-identical "
             "only on the same build and CPU features, so a rerun here (or an agent that learns replaying them) "
             "may not reproduce them")
