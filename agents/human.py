"""A person as an agent: ``act`` waits for the move a person makes elsewhere (``arena serve``'s pages).

The agent is built from a plain spec like every other, so it names its channel by id; the channel
lives in this process (people play in the server that opened it, never on a Ray worker).
"""
from __future__ import annotations

import queue
import threading
from typing import ClassVar

from agents.base import Agent, Observation
from agents.llm import ConfigError
from agents.registry import register
from envs import Action


class Abandoned(RuntimeError):
    """The person made no move within the time allowed, or the server closed the match."""


class MoveChannel:
    """Where a waiting match asks a person for a move and where the person's move arrives.

    ``state`` is "starting", "your_turn", "waiting" (the other side is thinking) or "over".
    """

    def __init__(self, channel_id: str, abandon_after_s: float):
        self.id, self.abandon_after_s = channel_id, abandon_after_s
        self.state = "starting"
        self.observation: Observation | None = None
        self._moves: queue.Queue[Action | None] = queue.Queue(maxsize=1)
        self.changed = threading.Condition()

    def _set(self, state: str, observation: Observation | None = None) -> None:
        with self.changed:
            self.state, self.observation = state, observation
            self.changed.notify_all()

    def await_move(self, observation: Observation) -> Action:
        """Called by the match thread: publish the position, then wait for the person's move."""
        self._set("your_turn", observation)
        try:
            action = self._moves.get(timeout=self.abandon_after_s)
        except queue.Empty:
            raise Abandoned(f"no move from the person within {self.abandon_after_s:.0f} s") from None
        if action is None:
            raise Abandoned("the match was closed before the person moved")
        self._set("waiting")
        return action

    @property
    def turn(self) -> int | None:
        """The number of moves made so far when the person was last asked to move (None before)."""
        return self.observation.turn if self.observation is not None else None

    def submit(self, action: Action, turn: int | None = None) -> None:
        """Called by the web request: hand over the person's move for ``turn`` (the move count the
        person's page showed); a ValueError if it is not their turn or that turn has passed, so a form
        sent twice, or from a stale second tab, never becomes a second move."""
        with self.changed:
            if self.state != "your_turn" or self._moves.full():
                raise ValueError("it is not your turn")
            if turn is not None and turn != self.turn:
                raise ValueError("that move was for an earlier turn; here is the match as it stands now")
            self._moves.put_nowait(action)
            self.state = "waiting"
            self.changed.notify_all()

    def close(self) -> None:
        """End the wait of a match nobody will finish (the server is stopping)."""
        try:
            self._moves.put_nowait(None)
        except queue.Full:
            pass

    def finish(self) -> None:
        self._set("over")

    def wait_for_turn(self, timeout_s: float) -> str:
        """Block until it is the person's turn again or the match is over (or ``timeout_s``)."""
        with self.changed:
            self.changed.wait_for(lambda: self.state in ("your_turn", "over"), timeout=timeout_s)
            return self.state


CHANNELS: dict[str, MoveChannel] = {}
_CHANNELS_LOCK = threading.Lock()


def open_channel(channel_id: str, abandon_after_s: float) -> MoveChannel:
    with _CHANNELS_LOCK:
        CHANNELS[channel_id] = channel = MoveChannel(channel_id, abandon_after_s)
    return channel


def close_channel(channel_id: str) -> None:
    with _CHANNELS_LOCK:
        CHANNELS.pop(channel_id, None)


@register("human")
class HumanAgent(Agent):
    """A person playing through ``arena serve``; the harness guards hold for them as for any agent."""

    name = "human"
    description = "A person at arena serve's Play page (not for tournaments)."
    parameters: ClassVar[dict[str, str]] = {"channel": "id of the web session's move channel (set by arena serve)"}
    interactive: ClassVar[bool] = True  # played by a person: never scheduled in a tournament
    # A person's move is checked before it is consumed (arena.people.person_action) and refused with a
    # reason, never rewritten: the harness guards, which rewrite agents' moves, leave it as it is.
    harness_guarded: ClassVar[bool] = False

    def __init__(self, backend=None, channel: str | None = None, **params):
        super().__init__(backend, **params)
        if channel is None or channel not in CHANNELS:
            raise ConfigError("the human agent is played by a person through arena serve's Play page; "
                              "it cannot join a tournament")
        self.channel = CHANNELS[channel]

    def act(self, observation: Observation) -> Action:
        return self.channel.await_move(observation)
