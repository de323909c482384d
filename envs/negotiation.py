"""The PettingZoo AEC environment: alternating offers with a message and an expressed emotion."""
from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv

from envs.actions import HISTORY_KINDS, MAX_MESSAGE_CHARS, MESSAGE_CHARSET, MOVES, Action
from envs.domains import COUNTERPART, FOCAL, ROLE_KINDS, get_domain
from envs.emotions import DEFAULT_TAXONOMY, get_taxonomy
from envs.outcome import Outcome, Violation, make_outcome
from envs.scenarios import Scenario

DEFAULT_MAX_MESSAGES = 30


class NegotiationEnv(AECEnv):
    """Bilateral alternating-offer negotiation over one issue; the focal role opens.

    Invalid actions (value out of range, accept with no offer on the table, unknown emotion,
    an over-long or non-text message, unknown move) never raise: they end the match as a
    protocol violation, a breakdown with utility 0 for both, naming the agent and the field.
    """

    metadata = {"name": "negotiation_v0", "render_modes": ["ansi"], "is_parallelizable": False}

    def __init__(self, scenario: Scenario, max_messages: int = DEFAULT_MAX_MESSAGES,
                 taxonomy: str = DEFAULT_TAXONOMY, converge_within: int | None = None,
                 max_message_chars: int = MAX_MESSAGE_CHARS, render_mode: str | None = None):
        super().__init__()
        if max_messages < 1:
            raise ValueError(f"max_messages must be at least 1, got {max_messages}")
        self.scenario = scenario
        self.domain = get_domain(scenario.domain)
        self.max_messages = max_messages
        self.taxonomy_name = taxonomy
        self.emotions = get_taxonomy(taxonomy)
        self._emotion_index = {label: i for i, label in enumerate(self.emotions)}
        self.converge_within = converge_within
        self.max_message_chars = max_message_chars
        self.render_mode = render_mode
        self.possible_agents = list(ROLE_KINDS)
        self._action_spaces = {a: self._make_action_space() for a in self.possible_agents}
        self._observation_spaces = {a: self._make_observation_space() for a in self.possible_agents}

    # ----- spaces -------------------------------------------------------------------------
    def _make_action_space(self) -> spaces.Dict:
        return spaces.Dict({
            "move": spaces.Discrete(len(MOVES)),
            "value": spaces.Discrete(self.domain.size, start=self.domain.low),
            "emotion": spaces.Discrete(len(self.emotions)),
            "message": spaces.Text(self.max_message_chars, min_length=0, charset=MESSAGE_CHARSET),
        })

    def _make_observation_space(self) -> spaces.Dict:
        lo, hi, n = float(self.domain.low), float(self.domain.high), self.max_messages
        value_box = spaces.Box(lo, hi, shape=(1,), dtype=np.float32)
        return spaces.Dict({
            "is_focal": spaces.Discrete(2),
            "target": value_box,
            "reservation": value_box,
            "messages_left": spaces.Discrete(n + 1),
            "has_last_offer": spaces.Discrete(2),
            "last_offer": value_box,
            "last_message": spaces.Text(self.max_message_chars, min_length=0, charset=MESSAGE_CHARSET),
            "history_moves": spaces.MultiDiscrete([len(HISTORY_KINDS)] * n),
            "history_values": spaces.Box(lo, hi, shape=(n,), dtype=np.float32),
        })

    def observation_space(self, agent: str) -> spaces.Dict:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Dict:
        return self._action_spaces[agent]

    # ----- lifecycle ----------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        """Start the negotiation over. The rules are deterministic, so ``seed`` changes nothing.

        ``options={"scenario": s}`` switches to another scenario of the same domain.
        """
        scenario = (options or {}).get("scenario")
        if scenario is not None:
            if scenario.domain != self.domain.name:
                raise ValueError(f"scenario {scenario.id} is not a {self.domain.name} scenario")
            self.scenario = scenario
        self.agents = list(self.possible_agents)
        self.rewards = {a: 0.0 for a in self.agents}
        self._cumulative_rewards = {a: 0.0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos = {a: {} for a in self.agents}
        self.agent_selection = FOCAL
        self.transcript: list[dict[str, Any]] = []
        self.last_offer: dict[str, int | None] = {FOCAL: None, COUNTERPART: None}
        self._history_moves = np.zeros(self.max_messages, dtype=np.int64)
        self._history_values = np.full(self.max_messages, float(self.domain.low), dtype=np.float32)
        self._last_message = {FOCAL: "", COUNTERPART: ""}
        self.outcome: Outcome | None = None

    @property
    def messages_left(self) -> int:
        return self.max_messages - len(self.transcript)

    def last_message_from(self, agent: str) -> str:
        """The last message text ``agent`` sent (public: the other side has read it)."""
        return self._last_message[agent]

    def observe(self, agent: str) -> dict[str, Any]:
        other = COUNTERPART if agent == FOCAL else FOCAL
        offer = self.last_offer[other]
        return {
            "is_focal": int(agent == FOCAL),
            "target": np.array([self.scenario.target[agent]], dtype=np.float32),
            "reservation": np.array([self.scenario.reservation[agent]], dtype=np.float32),
            "messages_left": self.max_messages - len(self.transcript),
            "has_last_offer": int(offer is not None),
            "last_offer": np.array([self.domain.low if offer is None else offer], dtype=np.float32),
            "last_message": self._last_message[other],
            "history_moves": self._history_moves.copy(),
            "history_values": self._history_values.copy(),
        }

    def step(self, action: Action | dict[str, Any] | None) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        parsed, violation = self._parse(agent, action)
        if violation is not None:
            self._finish(None, "violation", violation)
        else:
            self._apply(agent, parsed)
        self._accumulate_rewards()
        if not (self.terminations[agent] or self.truncations[agent]):
            self.agent_selection = COUNTERPART if agent == FOCAL else FOCAL

    # ----- rules --------------------------------------------------------------------------
    def _apply(self, agent: str, action: Action) -> None:
        other = COUNTERPART if agent == FOCAL else FOCAL
        slot = len(self.transcript)
        self.transcript.append({"role": agent, "move": action.move, "value": action.value,
                                "emotion": action.emotion, "message": action.message})
        self._history_moves[slot] = HISTORY_KINDS.index(action.move)
        self._last_message[agent] = action.message
        rounds = len(self.transcript)
        if action.move == "accept":
            self._finish(self.last_offer[other], "accept")
            return
        if action.move == "walk_away":
            self._finish(None, "walk_away")
            return
        self._history_values[slot] = action.value
        self.last_offer[agent] = action.value
        theirs = self.last_offer[other]
        if self.converge_within is not None and theirs is not None \
                and abs(theirs - action.value) <= self.converge_within:
            self._finish(int(round((theirs + action.value) / 2)), "converged")
        elif rounds >= self.max_messages:
            self._finish(None, "message_limit")

    def _finish(self, value: int | None, ended_by: str, violation: Violation | None = None) -> None:
        self.outcome = make_outcome(self.scenario, value, len(self.transcript), ended_by, violation)
        record = self.outcome.to_dict()
        for agent in self.agents:
            self.rewards[agent] = self.outcome.utility[agent]
            if ended_by == "message_limit":
                self.truncations[agent] = True
            else:
                self.terminations[agent] = True
            self.infos[agent] = {"outcome": record}

    def _parse(self, agent: str, action: Any) -> tuple[Action | None, Violation | None]:
        """Turn a space sample or an Action into an Action, or name the invalid field."""
        def bad(field: str, reason: str) -> tuple[None, Violation]:
            return None, Violation(agent, field, reason)

        if isinstance(action, Action):
            move, value, emotion, message = action.move, action.value, action.emotion, action.message
        elif isinstance(action, dict):
            missing = [k for k in ("move", "emotion", "message") if k not in action]
            if missing:
                return bad(missing[0], "missing")
            move, value, emotion, message = (action["move"], action.get("value"),
                                             action["emotion"], action["message"])
        else:
            return bad("action", f"expected an Action or a dict, got {type(action).__name__}")
        if isinstance(move, (int, np.integer)) and 0 <= int(move) < len(MOVES):
            move = MOVES[int(move)]
        if move not in MOVES:
            return bad("move", f"unknown move {move!r}; expected one of {', '.join(MOVES)}")
        if isinstance(emotion, (int, np.integer)) and 0 <= int(emotion) < len(self.emotions):
            emotion = self.emotions[int(emotion)]
        if emotion not in self._emotion_index:
            return bad("emotion", f"unknown emotion {emotion!r} in taxonomy {self.taxonomy_name}")
        if not isinstance(message, str):
            return bad("message", f"message must be text, got {type(message).__name__}")
        if len(message) > self.max_message_chars:
            return bad("message", f"message has {len(message)} characters; the limit is {self.max_message_chars}")
        if move == "offer":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                return bad("value", f"an offer needs an integer value, got {value!r}")
            if not self.domain.low <= int(value) <= self.domain.high:
                return bad("value", f"value {value} is outside [{self.domain.low}, {self.domain.high}] {self.domain.unit}")
            value = int(value)
        else:
            value = None
        if move == "accept" and self.last_offer[COUNTERPART if agent == FOCAL else FOCAL] is None:
            return bad("move", "accept with no offer from the other side on the table")
        return Action(move, value, emotion, message), None

    # ----- output -------------------------------------------------------------------------
    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        lines = []
        for i, turn in enumerate(self.transcript, 1):
            value = f" {turn['value']} {self.domain.unit}" if turn["value"] is not None else ""
            lines.append(f"{i:2d}. {self.domain.role_name(turn['role'])} [{turn['emotion']}] "
                         f"{turn['move']}{value}: {turn['message']}")
        if self.outcome is not None:
            lines.append(f"-- ended by {self.outcome.ended_by}; value {self.outcome.value}")
        return "\n".join(lines)

    def close(self) -> None:
        pass
