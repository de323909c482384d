"""Emotion baselines for the focal role: a uniformly random emotion each turn, or one fixed emotion."""
from __future__ import annotations

from typing import Any

from agents.base import Observation
from agents.builtin.common import TimeDependent
from agents.registry import register
from agents.texts import emotion_style
from envs import FOCAL, GOEMOTIONS_28, TAXONOMIES, Action, get_taxonomy


class EmotionStyled(TimeDependent):
    """Vanilla's concession schedule with an emotion chosen by ``pick_emotion``."""

    roles = frozenset({FOCAL})
    exponent = 0.6

    def pick_emotion(self, obs: Observation) -> str:
        raise NotImplementedError

    def propose(self, obs: Observation) -> Action:
        return self.decide_move(obs, self.planned_offer(obs), self.pick_emotion(obs))

    def guidance(self, obs: Observation, proposal: Action) -> str:
        return f"Express {proposal.emotion}: {emotion_style(proposal.emotion)}"

    def model_emotions(self, proposal: Action) -> tuple[str, ...]:
        return (proposal.emotion,)


@register("random-emotion")
class RandomEmotion(EmotionStyled):
    """A uniformly random label of the taxonomy (default GoEmotions-28) each turn."""

    name = "random-emotion"
    parameters = {"taxonomy": "the labels drawn from (default goemotions-28)"}
    description = "Vanilla concession with a uniformly random GoEmotions-28 emotion each turn."

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        super().check_params(params)
        if params.get("taxonomy", "goemotions-28") not in TAXONOMIES:
            raise ValueError(f"taxonomy must be one of {', '.join(TAXONOMIES)}, got {params['taxonomy']!r}")

    def pick_emotion(self, obs: Observation) -> str:
        labels = get_taxonomy(self.params.get("taxonomy", "goemotions-28"))
        return labels[int(self.rng.integers(len(labels)))]


@register("fixed-emotion")
class FixedEmotion(EmotionStyled):
    """Always the same emotion (parameter ``emotion``, default anger)."""

    name = "fixed-emotion"
    parameters = {"emotion": "the emotion expressed every turn (default anger)"}
    description = "Vanilla concession with one fixed emotion (parameter: emotion)."

    def __init__(self, backend=None, **params):
        super().__init__(backend, **params)
        self.check_params(params)

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        super().check_params(params)
        if params.get("emotion", "anger") not in GOEMOTIONS_28:
            raise ValueError(f"emotion must be a GoEmotions-28 label ({', '.join(GOEMOTIONS_28)}), "
                             f"got {params['emotion']!r}")

    def pick_emotion(self, obs: Observation) -> str:
        return self.params.get("emotion", "anger")
