"""Resuming a run: what must match (the fingerprint and the agents' code), and notes on finished
matches computed elsewhere."""
from __future__ import annotations

import collections
import hashlib
import json
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

from agents import get_entry
from agents.llm import ConfigError
from agents.llm.factory import backend_build, outcome_identity
from agents.response_model import response_model_identity
from arena.code_identity import changed_agents, run_identity
from arena.schedule import SEED_SCHEME
from arena.spec import TournamentSpec
from arena.storage import RunStore, replaced_whole

CODE = "code.json"
CHANGED = "results.changed.jsonl"  # finished matches set aside by --replay-changed


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


def check_fingerprint(out: Path, spec: TournamentSpec, holds_matches: bool) -> None:
    """Refuse a different tournament onto a run that holds matches (a run that never played one, e.g.
    a start refused by a server's preflight, takes the new settings)."""
    marker = out / "fingerprint.txt"
    recorded = marker.read_text().strip() if marker.exists() else None
    if recorded is not None and recorded != fingerprint(spec) and holds_matches:
        if recorded == fingerprint(_split_fixed(spec)):
            raise ConfigError(f"{out} was evaluated with prompts cut every eval_chunk tokens (before line splitting); "
                              'resume it with eval_split = "fixed" in its agents\' llama-cpp backend tables')
        raise ConfigError(f"{out} holds a different tournament; use another --out or the same settings to resume")


def _write_markers(out: Path, spec: TournamentSpec) -> None:
    (out / "fingerprint.txt").write_text(fingerprint(spec) + "\n")
    (out / "tournament.toml").write_text(spec.to_toml(), encoding="utf-8")


def code_of(spec: TournamentSpec) -> dict[str, Any]:
    """The identity of the code that plays ``spec``: eq-arena, the game, each agent by label."""
    return run_identity({a.display_name: get_entry(a.name).factory for a in spec.agents})


def _recorded_code(out: Path) -> dict[str, Any] | None:
    try:
        recorded = json.loads((out / CODE).read_text(encoding="utf-8"))
        return recorded if isinstance(recorded, dict) and isinstance(recorded.get("agents"), dict) else None
    except (FileNotFoundError, ValueError):
        return None


def _check_code(out: Path, store: RunStore, current: dict[str, Any], replay_changed: bool) -> None:
    """Refuse to resume onto finished matches that other code played (one line saying how to go on);
    with ``replay_changed`` set those matches aside, to be played again."""
    finished = store.finished
    if not finished:
        return
    recorded = _recorded_code(out)
    if recorded is None:
        warnings.warn(f"{out} holds no record of its agents' code ({CODE}: made before eq-arena kept one, or "
                      f"unreadable); its {len(finished)} finished matches stand as recorded, and code changes from "
                      "now on are detected", stacklevel=3)
        return
    changed, why = changed_agents(recorded, current)
    stale = {mid for mid in finished
             if {store.records[mid].get("focal_agent"), store.records[mid].get("counterpart_agent")} & set(changed)}
    if not stale:
        return
    who = f"the code of {', '.join(changed)} changed" if why == "their code changed" else why
    if not replay_changed:
        raise ConfigError(f"{out}: {who} since {len(stale)} of its finished matches were played; use a new --out, "
                          "or add --replay-changed to play those matches again")
    moved = store.drop(stale, CHANGED, who)
    warnings.warn(f"{out}: {who}; {moved} finished matches will be played again (their earlier results are in "
                  f"{out / CHANGED})", stacklevel=3)


def open_run(out: Path, spec: TournamentSpec) -> RunStore:
    """The run directory, opened for writing once the tournament and the code of the agents with
    finished matches are those recorded (``spec.replay_changed`` replays the matches of agents whose
    code changed); then this tournament and its code are recorded."""
    store = RunStore(out)
    try:
        check_fingerprint(out, spec, bool(store.records))
        current = code_of(spec)
        _check_code(out, store, current, spec.replay_changed)
        _write_markers(out, spec)
        with replaced_whole(out / CODE) as temporary:
            temporary.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    except BaseException:
        store.close()
        raise
    return store


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
