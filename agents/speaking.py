"""Turning an agent's intent into an action through its backend.

On the scripted backend the agent's own proposal is realised from templates. On a model backend
the model decides the move in a structured reply, which is validated, retried with feedback and,
failing that, replaced by a safe fallback (the agent's last offer, or its opening offer).
"""
from __future__ import annotations

import hashlib
from typing import Any

from agents.base import Observation, ScenarioView
from agents.llm import (Backend, CallStats, Completion, GenerationOptions, action_schema, parse_action,
                        request_structured)
from agents.llm.scripted import realise_message
from envs import EKMAN_7, Action

PROMPT_TURNS = 8  # the dialogue window shows between this many and twice as many latest turns
LLM_MESSAGE_CHARS = 200


def window_start(turns: int) -> int:
    """The first turn a prompt shows: the window advances in whole blocks of PROMPT_TURNS, so an
    agent's consecutive prompts only grow at the end, and a model backend can keep the evaluated
    prefix (a window sliding every turn would change the text right after the system prompt)."""
    return max(0, (turns - PROMPT_TURNS) // PROMPT_TURNS * PROMPT_TURNS)


def turn_seed(seed: int, turn: int, salt: str = "") -> int:
    """A per-turn seed derived from the match seed."""
    digest = hashlib.blake2b(f"{seed}:{turn}:{salt}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def describe_context(view: ScenarioView) -> str:
    return "; ".join(f"{key.replace('_', ' ')}: {value}" for key, value in view.context.items())


def system_prompt(view: ScenarioView, persona: str = "", emotions: tuple[str, ...] = EKMAN_7) -> str:
    """The rules of the game for a model, from this role's point of view."""
    d = view.domain
    direction = "lower" if d.prefers_low(view.kind) else "higher"
    lines = [
        f"You are the {view.role_name} negotiating with the {view.other_role_name} about the {d.issue} in {d.unit}.",
        f"You prefer {direction} values. Your target is {view.target} {d.unit}. You have a private limit you must "
        f"never cross and never reveal: you never agree to anything worse than {view.reservation} {d.unit}.",
        f"Situation: {describe_context(view)}.",
    ]
    if persona:
        lines.append(persona)
    lines.append(
        'Reply with one JSON object only: {"move": "offer" or "accept" or "walk_away", "value": a whole number '
        f'of {d.unit} from {d.low} to {d.high}, "emotion": one of {", ".join(emotions)}, "message": one or two short '
        f"sentences to the {view.other_role_name}}}. Use accept only to take the {view.other_role_name}'s last offer.")
    return "\n".join(lines)


def dialogue_prompt(view: ScenarioView, obs: Observation, guidance: str = "") -> str:
    """The dialogue so far and the state of play."""
    lines = ["Dialogue so far:" if obs.transcript else "You speak first."]
    for turn in obs.transcript[window_start(len(obs.transcript)):]:
        speaker = "You" if turn.kind == view.kind else view.other_role_name.capitalize()
        offer = f" [offer: {turn.value}]" if turn.move == "offer" else f" [{turn.move}]"
        lines.append(f"{speaker}: {turn.message}{offer}")
    unit = view.domain.unit
    lines.append(f"Messages left: {obs.messages_left}. Their last offer: "
                 f"{'none' if obs.their_offer is None else f'{obs.their_offer} {unit}'}. Your last offer: "
                 f"{'none' if obs.my_offer is None else f'{obs.my_offer} {unit}'}.")
    if guidance:
        lines.append(guidance)
    lines.append("Your move (JSON only):")
    return "\n".join(lines)


class Speaker:
    """Speaks for one agent in one match, counting what its model use costs."""

    def __init__(self, backend: Backend, view: ScenarioView, seed: int, options: GenerationOptions | None = None,
                 max_retries: int = 2):
        self.backend, self.view, self.seed = backend, view, seed
        self.options = options or GenerationOptions()
        self.max_retries = max_retries
        self.stats = CallStats()

    def realise(self, proposal: Action, obs: Observation, extra_lines: tuple[str, ...] = ()) -> Action:
        """Put the agent's own proposal into words with templates (the scripted backend)."""
        value = obs.their_offer if proposal.move == "accept" else proposal.value  # an accept names the deal
        hints = {"domain": self.view.domain.name, "kind": self.view.kind, "move": proposal.move,
                 "value": value, "emotion": proposal.emotion, "unit": self.view.domain.unit,
                 "turn": obs.turn, "context": self.view.context, "extra_lines": list(extra_lines)}
        return proposal.replace(message=realise_message(hints, self.seed))

    def fallback(self, obs: Observation, emotion: str = "neutral") -> Action:
        value = obs.my_offer if obs.my_offer is not None else self.view.target
        return Action.offer(value, emotion, self.realise(Action.offer(value), obs).message)

    def decide(self, obs: Observation, persona: str = "", guidance: str = "",
               emotions: tuple[str, ...] = EKMAN_7) -> Action:
        """Let the model choose the whole action; the fallback is counted in ``stats``."""
        messages = [{"role": "system", "content": system_prompt(self.view, persona, emotions)},
                    {"role": "user", "content": dialogue_prompt(self.view, obs, guidance)}]
        schema = action_schema(self.view.domain, emotions, LLM_MESSAGE_CHARS)

        def validate(completion: Completion) -> tuple[Action | None, str]:
            return parse_action(completion.data, self.view.domain, emotions, LLM_MESSAGE_CHARS)

        options = self.options.with_seed(turn_seed(self.seed, obs.turn))
        action = request_structured(self.backend, messages, schema, options, validate, self.stats,
                                    self.max_retries)
        return action if action is not None else self.fallback(obs, emotions[0] if len(emotions) == 1 else "neutral")

    def ask(self, messages: list[dict[str, str]], schema: dict[str, Any], validate, salt: str, turn: int):
        """A structured side question (e.g. labelling an emotion); None when every reply was invalid."""
        options = self.options.with_seed(turn_seed(self.seed, turn, salt))
        return request_structured(self.backend, messages, schema, options, validate, self.stats, self.max_retries)
