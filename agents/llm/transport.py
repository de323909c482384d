"""One process's traffic to served models: one event loop, a cap per host, deadlines, live gauges.

Agents are synchronous (the plugin API), so each conversation runs in a thread of its own; every
request they make goes through this process's single asyncio loop. The loop holds each host's share
of ``--llm-parallel`` (halved while the host answers "full", grown back on success), gives every
attempt a wall-clock deadline, and cancels every request at once when the run stops.
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterator, TypeVar

T = TypeVar("T")
DEFAULT_SHARE = 8  # requests in flight to a host no run configured (arena serve, analysis replays)


class Stopped(RuntimeError):
    """The run is stopping: requests in flight were cancelled and no new ones are sent."""


class _Loop:
    """The process's event loop, on a daemon thread of its own, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self.loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="arena-io", daemon=True).start()
                self.loop = loop
            return self.loop


_LOOP = _Loop()


class RunScope:
    """The requests of one run's threads: stopping it cancels those in flight and refuses new ones,
    and leaves every other caller in the process (another run, the web app) alone."""

    def __init__(self) -> None:
        self.stopped = False
        self._futures: set[concurrent.futures.Future] = set()
        self._lock = threading.Lock()

    def add(self, future: concurrent.futures.Future) -> None:
        with self._lock:
            self._futures.add(future)
            if self.stopped:
                future.cancel()

    def discard(self, future: concurrent.futures.Future) -> None:
        with self._lock:
            self._futures.discard(future)

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            for future in self._futures:
                future.cancel()  # cancels its task on the loop


_SCOPE = threading.local()


@contextlib.contextmanager
def within(scope: RunScope) -> Iterator[None]:
    """This thread's requests belong to ``scope`` inside the block."""
    previous = getattr(_SCOPE, "current", None)
    _SCOPE.current = scope
    try:
        yield
    finally:
        _SCOPE.current = previous


def stopping() -> bool:
    """Whether this thread's run is stopping (its lanes end at their next match)."""
    scope = getattr(_SCOPE, "current", None)
    return bool(scope and scope.stopped)


def run(coroutine: Awaitable[T]) -> T:
    """Run ``coroutine`` on the loop from any other thread and wait for it; Stopped if this thread's
    run stops."""
    scope = getattr(_SCOPE, "current", None)
    if scope is not None and scope.stopped:
        coroutine.close()  # type: ignore[attr-defined]
        raise Stopped("the run is stopping")
    future = asyncio.run_coroutine_threadsafe(coroutine, _LOOP.get())  # type: ignore[arg-type]
    if scope is not None:
        scope.add(future)
    try:
        return future.result()
    except concurrent.futures.CancelledError:
        raise Stopped("the run is stopping; this request was cancelled") from None
    finally:
        if scope is not None:
            scope.discard(future)


_CLOSERS: list[Callable[[], Awaitable[Any]]] = []


def on_exit(closer: Callable[[], Awaitable[Any]]) -> None:
    """Close a client (its pooled connections) on the loop when the process exits."""
    _CLOSERS.append(closer)


@atexit.register
def _close_clients() -> None:
    loop = _LOOP.loop
    if not _CLOSERS or loop is None or loop.is_closed():
        return

    async def close_all() -> None:
        await asyncio.gather(*(closer() for closer in _CLOSERS), return_exceptions=True)

    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(close_all(), loop).result(timeout=5)


@dataclass
class Gauges:
    """What one process sent to every host so far, and what is in flight now."""

    in_flight: int = 0
    peak: int = 0
    requests: int = 0
    rate_limited: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_reported_prompt_tokens: int = 0  # prompt tokens of replies that said how many were cached

    def snapshot(self) -> dict[str, int]:
        return dict(vars(self))


GAUGES = Gauges()


@dataclass
class HostGate:
    """This process's share of one host's request cap: at most ``limit`` requests in flight. A host
    that answers "full" (429/503) halves the limit and is not sent to again before its Retry-After;
    each success grows the limit back towards the share (additive increase, multiplicative decrease)."""

    share: int
    limit: float = 0.0
    in_flight: int = 0
    resume_at: float = 0.0
    _changed: asyncio.Condition | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.limit = float(self.share)

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:  # made on the loop, where it is used
            self._changed = asyncio.Condition()
        return self._changed

    async def acquire(self) -> None:
        changed = self._condition()
        async with changed:
            while True:
                pause = self.resume_at - time.monotonic()
                if pause <= 0 and self.in_flight < max(1, int(self.limit)):
                    break
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), pause if pause > 0 else None)
            self.in_flight += 1
        GAUGES.in_flight += 1
        GAUGES.peak = max(GAUGES.peak, GAUGES.in_flight)

    async def release(self, full: bool = False, pause_s: float = 0.0) -> None:
        changed = self._condition()
        async with changed:
            self.in_flight -= 1
            if full:
                self.limit = max(1.0, self.limit / 2)
                self.resume_at = max(self.resume_at, time.monotonic() + pause_s)
            else:
                self.limit = min(float(self.share), self.limit + 1.0 / max(self.limit, 1.0))
            changed.notify_all()
        GAUGES.in_flight -= 1

    @contextlib.asynccontextmanager
    async def slot(self) -> Any:
        """Hold one request slot; the caller marks ``slot.full`` (and ``slot.pause_s``) before leaving."""
        await self.acquire()
        state = _SlotState()
        try:
            yield state
        finally:
            await self.release(state.full, state.pause_s)


@dataclass
class _SlotState:
    full: bool = False
    pause_s: float = 0.0


_GATES: dict[str, HostGate] = {}
_SHARES: dict[str, int] = {}


def configure(shares: dict[str, int]) -> None:
    """This process's share of each host's cap (set before its requests start)."""
    _SHARES.update(shares)
    for host, share in shares.items():
        _GATES.pop(host, None)  # rebuilt with the new share on next use


def share_of(host: str) -> int:
    return _SHARES.get(host, DEFAULT_SHARE)


def gate(host: str) -> HostGate:
    """The gate of ``host`` (call on the loop)."""
    found = _GATES.get(host)
    if found is None:
        found = _GATES[host] = HostGate(max(1, share_of(host)))
    return found


def gauges() -> dict[str, int]:
    """A snapshot of this process's gauges, with the CPU time the process has used (ms)."""
    return GAUGES.snapshot() | {"cpu_ms": int(time.process_time() * 1000)}


_DEADLINE = threading.local()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Calls made by this thread inside the block end by ``seconds`` from now (a match's budget),
    whatever their own timeouts; nested blocks keep the earlier end."""
    previous = getattr(_DEADLINE, "at", None)
    at = time.monotonic() + seconds
    _DEADLINE.at = at if previous is None else min(previous, at)
    try:
        yield
    finally:
        _DEADLINE.at = previous


def deadline_at() -> float | None:
    """When this thread's calls must end (monotonic clock), or None."""
    return getattr(_DEADLINE, "at", None)
