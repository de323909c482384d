"""The dispatch loop: lanes to workers as their capacity allows, and what comes back to results.

A lane whose host stopped answering moves, with what it had not finished, to another host of the
same model; a lane whose worker died is tried again on another (twice), then its unfinished matches
are recorded as errored with the reason; a usage error stops the run (finished matches are kept).
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator

from agents.llm import ConfigError
from arena.executors import LaneEnded, LaneFailed
from arena.hosts import HostPlan
from arena.lanes import Dispatcher, Lane
from arena.match import error_record
from arena.storage import Result, RunStore
from arena.worker import LaneEvent

WORKER_RETRIES = 2  # a lane whose worker died is started again at most this often
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Running:
    """A lane on a worker, and which of its matches reached the log so far."""

    worker: int
    lane: Lane
    recorded: set[str] = field(default_factory=set)
    moved: bool = False
    tries: int = 1


def reason(error: BaseException) -> str:
    """One clean line for a stored error (no colour codes, no Ray traceback header)."""
    text = ANSI.sub("", str(error)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    tail = next((line for line in reversed(lines) if ": " in line and not line.startswith("File ")), lines[-1] if lines else "")
    return f"{type(error).__name__}: {tail}"[:500]


def _key(lane: Lane) -> str:
    return lane.session.matches[0].match_id


class Driver:
    """Feeds an executor's workers and yields each finished match's result as it arrives."""

    def __init__(self, executor: Any, plan: HostPlan, on_gauges: Callable[[dict], None] | None = None):
        self.executor, self.plan, self.on_gauges = executor, plan, on_gauges
        self.dispatcher = Dispatcher(executor.capacities)
        self.running: dict[int, Running] = {}
        self.tries: dict[str, int] = {}
        self.lost_retries: dict[str, int] = {}  # re-sends spent on lost hosts, by the match they were for
        self.gauged_at = 0.0

    def add(self, lane: Lane, front: bool = False) -> None:
        """Queue a lane, its backends pinned to live hosts."""
        origin = lane.origin or lane.session
        self.dispatcher.add(replace(lane, session=self.plan.pin(origin), origin=origin), front)

    def run(self) -> Iterator[list[Result]]:
        while self.dispatcher.waiting or self.running:
            self._fill()
            for token, event in self.executor.events(0.25):
                yield from self._handle(self.running[token], token, event)
            if self.on_gauges and time.monotonic() - self.gauged_at > 0.5:
                self.on_gauges(self.executor.gauges())
                self.gauged_at = time.monotonic()
        if self.on_gauges:
            self.on_gauges(self.executor.gauges(final=True))

    def _fill(self) -> None:
        for worker in range(len(self.executor.capacities)):
            while (lane := self.dispatcher.take(worker)) is not None:
                token = self.executor.start(worker, lane)
                self.running[token] = Running(worker, lane, tries=self.tries.pop(_key(lane), 1))

    def _handle(self, run: Running, token: int, event: Any) -> Iterator[list[Result]]:
        if isinstance(event, LaneEvent) and event.result is not None:
            run.recorded.add(event.result[0]["match_id"])
            yield [self._with_lost_retries(event.result)]
        elif isinstance(event, LaneEvent):  # its host is lost: the rest moves
            self.lost_retries[event.match_id] = self.lost_retries.get(event.match_id, 0) + event.retries
            self._lose(event.lost_host, event.why)
            run.moved = True
            self.add(self._rest(run), front=True)
        elif isinstance(event, LaneEnded):
            self._end(token, run)
        elif isinstance(event, LaneFailed):
            self._end(token, run)
            yield from self._failed(run, event)

    def _with_lost_retries(self, result: Result) -> Result:
        """The result with the re-sends its match spent on hosts that were lost (0 for most)."""
        spent = self.lost_retries.pop(result[0]["match_id"], 0)
        if not spent:
            return result
        entry = json.loads(result[1])
        entry["record"]["lost_host_retries"] = spent
        return RunStore.encode(entry["record"], entry["transcript"])

    def _end(self, token: int, run: Running) -> None:
        self.dispatcher.release(run.worker, run.lane)
        del self.running[token]

    def _rest(self, run: Running) -> Lane:
        """What a lane had not finished (a lane whose agents learn replays the finished ones)."""
        return replace(run.lane, skip=run.lane.skip | run.recorded)

    def _failed(self, run: Running, event: LaneFailed) -> Iterator[list[Result]]:
        if isinstance(event.error, ConfigError):
            raise event.error
        if event.worker_lost and run.tries <= WORKER_RETRIES:
            rest = self._rest(run)
            self.tries[_key(rest)] = run.tries + 1
            self.add(rest, front=True)
            return
        why = reason(event.error)
        unfinished = [m for m in run.lane.session.matches if m.match_id not in run.lane.skip | run.recorded]
        if unfinished:
            yield [RunStore.encode(error_record(m, why, run.tries), []) for m in unfinished]

    def _lose(self, host: str | None, why: str) -> None:
        """Give the host no more lanes (ConfigError if a model is left without one); lanes queued for
        it are pinned anew."""
        if host is None or host in self.plan.lost:
            return
        self.plan.lose(host, why)
        for lane in self.dispatcher.drain():
            self.add(lane)
