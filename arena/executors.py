"""Where lanes run: on threads of this process, or on Ray actors that each run many lanes on threads.

Both report the same events (a lane's finished match, a lost host, the lane's end, or the exception
that ended it) and the same gauges, so the runner drives them alike.
"""
from __future__ import annotations

import itertools
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from agents.llm import transport
from arena.lanes import Capacity, Lane
from arena.worker import LaneEvent, PlaySettings, play_lane

GAUGE_EVERY_S = 1.0
BATCH_S = 0.05  # a Ray worker sends a lane's finished matches together at most this often: Ray's cost is per object


@dataclass(frozen=True)
class LaneEnded:
    """A lane played to its end."""


@dataclass(frozen=True)
class LaneFailed:
    """A lane ended by an exception (a usage error to stop the run on, or a worker that died)."""

    error: BaseException
    worker_lost: bool = False


Event = LaneEvent | LaneEnded | LaneFailed


class ThreadExecutor:
    """Lanes on a pool of this process's threads (``--workers 0``)."""

    def __init__(self, capacity: Capacity, settings: PlaySettings):
        transport.configure(capacity.hosts)
        self.scope = transport.RunScope()
        self.capacities = [capacity]
        self.settings = settings
        self.pool = ThreadPoolExecutor(max_workers=max(1, capacity.threads), thread_name_prefix="lane")
        self.queue: queue.Queue = queue.Queue()
        self.tokens = itertools.count()

    def start(self, worker: int, lane: Lane) -> int:
        token = next(self.tokens)
        self.pool.submit(self._run, token, lane)
        return token

    def _run(self, token: int, lane: Lane) -> None:
        try:
            with transport.within(self.scope):
                for event in play_lane(lane, self.settings):
                    self.queue.put((token, event))
            self.queue.put((token, LaneEnded()))
        except BaseException as exc:  # handed to the driver, which decides
            self.queue.put((token, LaneFailed(exc)))

    def events(self, timeout: float) -> list[tuple[int, Event]]:
        try:
            found = [self.queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                found.append(self.queue.get_nowait())
            except queue.Empty:
                return found

    def gauges(self, final: bool = False) -> dict[str, int]:
        return transport.gauges()

    def close(self, stopping: bool) -> None:
        if stopping:
            self.scope.stop()  # this run's requests in flight end now; its lanes stop at their next match
        self.pool.shutdown(wait=not stopping, cancel_futures=True)


class LaneWorker:
    """A Ray actor: this process's share of each host's cap, many lanes at once on its threads."""

    def __init__(self, capacity: Capacity, settings: PlaySettings):
        from agents import load_plugins

        transport.configure(capacity.hosts)
        load_plugins()
        self.settings = settings

    def play(self, lane: Lane):
        """The lane's events in lists: what finished within BATCH_S goes back as one object (a slow match,
        a served one, goes alone); what finished before a failure still goes back before it. A list is
        sent when an event arrives, so a quick match can wait for the next match of its lane (at most
        one match, bounded by ``match_timeout``); a kill in between replays it, with the same result."""
        batch: list[LaneEvent] = []
        since = time.monotonic()
        try:
            for event in play_lane(lane, self.settings):
                batch.append(event)
                if time.monotonic() - since >= BATCH_S:
                    yield batch
                    batch, since = [], time.monotonic()
        except Exception:  # not GeneratorExit: a closed stream sends nothing more
            if batch:
                yield batch
            raise
        if batch:
            yield batch

    def gauges(self) -> dict[str, int]:
        return transport.gauges()


class RayExecutor:
    """Lanes on ``len(capacities)`` Ray actors, spread over the cluster's nodes; each actor's events
    stream back as they finish (Ray generators, a few matches to an object when matches are quick)."""

    def __init__(self, capacities: list[Capacity], settings: PlaySettings):
        import ray

        self.ray = ray
        actor = ray.remote(LaneWorker)
        self.actors = [actor.options(num_cpus=1, max_concurrency=c.threads + 2, max_restarts=2, max_task_retries=0,
                                     scheduling_strategy="SPREAD").remote(c, settings) for c in capacities]
        self.capacities = capacities
        self.streams: dict[Any, int] = {}  # a lane's event stream -> its token
        self.tokens = itertools.count()
        self.latest: dict[int, dict[str, int]] = {}
        self.asked: dict[Any, int] = {}
        self.asked_at = 0.0

    def start(self, worker: int, lane: Lane) -> int:
        token = next(self.tokens)
        self.streams[self.actors[worker].play.remote(lane)] = token
        return token

    def events(self, timeout: float) -> list[tuple[int, Event]]:
        if not self.streams:
            time.sleep(timeout)
            return []
        ready, _ = self.ray.wait(list(self.streams), num_returns=1, timeout=timeout)
        found = []
        for stream in ready:
            token = self.streams[stream]
            try:
                found.extend((token, event) for event in self.ray.get(next(stream)))
            except StopIteration:
                found.append((token, LaneEnded()))
                del self.streams[stream]
            except self.ray.exceptions.RayError as exc:
                cause = getattr(exc, "cause", None)
                lost = isinstance(exc, (self.ray.exceptions.RayActorError, self.ray.exceptions.WorkerCrashedError))
                found.append((token, LaneFailed(cause if isinstance(cause, Exception) else exc, lost)))
                del self.streams[stream]
        return found

    def gauges(self, final: bool = False) -> dict[str, int]:
        """The actors' gauges added up (asked at most once a second; the latest answers are used;
        ``final``: asked now and waited for)."""
        if final:
            self.asked = {a.gauges.remote(): i for i, a in enumerate(self.actors)} | self.asked
        wait = 10.0 if final else 0
        ready, _ = self.ray.wait(list(self.asked), num_returns=len(self.asked), timeout=wait) if self.asked else ([], [])
        for ref in ready:
            worker = self.asked.pop(ref)
            try:
                self.latest[worker] = self.ray.get(ref)
            except self.ray.exceptions.RayError:
                pass
        if time.monotonic() - self.asked_at > GAUGE_EVERY_S and not self.asked:
            self.asked = {a.gauges.remote(): i for i, a in enumerate(self.actors)}
            self.asked_at = time.monotonic()
        total: dict[str, int] = {}
        for values in self.latest.values():
            for key, value in values.items():
                total[key] = total.get(key, 0) + value
        return total

    def close(self, stopping: bool) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
