"""What code played a run: eq-arena's version and each agent's code, so a resume after an edit is caught.

An agent's identity is the distribution that provides its class (name and version); where that code
can change without a new version (an editable install, or a module outside site-packages) it also
holds a digest of the source:

- a built-in agent (``agents.builtin``): the modules of its class hierarchy and the built-in modules
  they import, plus every file of ``agents/`` outside ``agents/builtin/`` (shared code and data:
  speaking, backends, sensing, templates, personas, response model);
- any other agent: every file of the top-level package its class is defined in (the module file
  alone if it is not in a package).

The game (``envs/``: domains, scenarios, rules, outcomes) has its own digest, which every agent's
matches rest on. Code that only runs or reports a tournament (``arena/``, the web app, leaderboards)
is not part of any identity.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import json
import sys
import sysconfig
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

BUILTIN_PACKAGE = "agents.builtin"


@cache
def _file_digest(path: Path, size: int, mtime_ns: int) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def _digest(files: list[Path], root: Path) -> str:
    """One SHA-256 over the files' paths (relative to ``root``) and contents."""
    h = hashlib.sha256()
    for path in sorted(set(files)):
        stat = path.stat()
        h.update(str(path.relative_to(root)).encode() + b"\0" + _file_digest(path, stat.st_size, stat.st_mtime_ns))
    return "sha256:" + h.hexdigest()[:20]


def _files_under(folder: Path, skip: Path | None = None) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            and not p.name.endswith((".pyc", ".pyo")) and (skip is None or skip not in p.parents)]


@cache
def _distribution(top_level: str) -> metadata.Distribution | None:
    """The installed distribution providing the top-level package ``top_level``: found through the
    distributions' ``top_level.txt`` (one small file each); those without one are searched by their
    file lists (slow) only when nothing else matched."""
    for dist in metadata.distributions():
        if top_level in (dist.read_text("top_level.txt") or "").split():
            return dist
    module = _module_file(top_level)
    if module is None or not _installed(module):  # local code: no distribution to name
        return None
    for name in metadata.packages_distributions().get(top_level, []):
        try:
            return metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _editable(dist: metadata.Distribution) -> bool:
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return False
    return bool(direct.get("dir_info", {}).get("editable"))


def _installed(path: Path) -> bool:
    """Whether ``path`` lies in an installation directory (where code changes only with a new version)."""
    roots = {Path(p).resolve() for key in ("purelib", "platlib") if (p := sysconfig.get_paths().get(key))}
    return any(root in path.resolve().parents for root in roots)


def _module_file(name: str) -> Path | None:
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if path is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # a name imported from a module, not a module
            return None
        path = spec.origin if spec is not None and spec.has_location else None
    return Path(path) if path else None


def _imported_modules(path: Path, package: str) -> set[str]:
    """The modules under ``package`` that the source at ``path`` imports (absolute imports only)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found |= {n for n in names if n.startswith(package + ".") and _module_file(n) is not None}
    return found


def _builtin_files(cls: Any) -> tuple[list[Path], Path]:
    """A built-in agent's own modules (class hierarchy and the built-in modules they import) and the
    shared files of ``agents/``."""
    todo = [c.__module__ for c in getattr(cls, "__mro__", (cls,)) if c.__module__.startswith(BUILTIN_PACKAGE + ".")]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen and (path := _module_file(name)) is not None:
            seen.add(name)
            todo.extend(_imported_modules(path, BUILTIN_PACKAGE))
    builtin_dir = _module_file(BUILTIN_PACKAGE).parent
    root = builtin_dir.parent
    return [_module_file(n) for n in seen] + _files_under(root, skip=builtin_dir), root


def _source_files(cls: Any) -> tuple[list[Path], Path]:
    """The files an agent class's digest covers, and the folder their names are relative to."""
    if cls.__module__.startswith(BUILTIN_PACKAGE + "."):
        return _builtin_files(cls)
    source = Path(inspect.getfile(cls))
    top = cls.__module__.split(".")[0]
    top_file = _module_file(top)
    if top_file is not None and top_file.name == "__init__.py":
        return _files_under(top_file.parent), top_file.parent.parent
    return [source], source.parent


def agent_identity(cls: Any) -> dict[str, Any]:
    """``{"package", "version"}`` of the distribution providing ``cls`` (an agent class or factory),
    with ``"digest"`` of its source where that can change without a new version (editable, or not
    installed)."""
    top = cls.__module__.split(".")[0]
    dist = _distribution(top)
    identity: dict[str, Any] = {"package": dist.metadata["Name"] if dist else "", "version": dist.version if dist else ""}
    try:
        source = Path(inspect.getfile(cls))
    except (TypeError, OSError):  # defined where no file holds it (an interactive session)
        return identity | {"digest": "", "note": "no source file"}
    if dist is None or _editable(dist) or not _installed(source):
        files, root = _source_files(cls)
        identity["digest"] = _digest(files, root)
    return identity


def game_identity() -> str:
    """A digest of ``envs/``: the rules every match is played under."""
    root = _module_file("envs").parent
    return _digest(_files_under(root), root.parent)


def run_identity(agents: dict[str, Any]) -> dict[str, Any]:
    """What is written to ``code.json``: eq-arena's version, the game's digest and each agent's identity
    by label."""
    dist = _distribution("arena")
    return {"eq_arena": dist.version if dist else "", "game": game_identity(),
            "agents": {label: agent_identity(cls) for label, cls in sorted(agents.items())}}


def changed_agents(recorded: dict[str, Any], current: dict[str, Any]) -> tuple[list[str], str]:
    """The labels of agents whose code differs from what was recorded, and why in a few words
    (a new eq-arena version or game changes every agent)."""
    labels = sorted(current["agents"])
    if recorded.get("eq_arena") != current["eq_arena"]:
        return labels, f"eq-arena {recorded.get('eq_arena') or '?'} -> {current['eq_arena']}"
    if recorded.get("game") != current["game"]:
        return labels, "the game (envs/) changed"
    old = recorded.get("agents", {})
    changed = [label for label in labels if label in old and old[label] != current["agents"][label]]
    return changed, "their code changed"
