"""Files written whole or not at all, and filesystem errors that name the file they failed on."""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def named(exc: OSError, path: Path, instead_of: Path | None = None) -> OSError:
    """``exc`` with the path it failed on (pyarrow and buffered writes often leave it out), or with
    ``path`` in place of ``instead_of`` (a temporary file the user never sees)."""
    if exc.filename and str(exc.filename) != str(instead_of):
        return exc
    code = exc.errno
    if code is None:
        found = re.search(r"errno (\d+)", str(exc), re.IGNORECASE)
        code = int(found.group(1)) if found else None
    if code is None:
        return OSError(f"cannot write {path}: {exc}")
    return OSError(code, os.strerror(code), str(path))


@contextmanager
def writing(path: Path, temporary: Path | None = None) -> Iterator[None]:
    """Name ``path`` in any OSError raised inside the block (also in place of ``temporary``)."""
    try:
        yield
    except OSError as exc:
        raise named(exc, path, temporary) from None


@contextmanager
def replaced_whole(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` that replaces it only once the block has completed (and its
    bytes are on disk), so a reader finds the old file or the new one, never half of one. A failed
    write removes the temporary file and names ``target``."""
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        with writing(target, temporary):
            yield temporary
            fd = os.open(temporary, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def sync_directory(path: Path) -> None:
    """Make renames and removals in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
