"""EmoDistill's per-turn judge: a score r_t from 1 to 10 for each focal utterance of a sweep.

Two judges share one interface: ``RubricJudge``, a deterministic heuristic reading of the paper's
rubric (for the scripted backend: numbers, moves and a few word lists, no understanding), and
``LLMJudge``, which asks a model through any backend for ``{"score", "reason"}`` (validated,
retried with feedback, a fallback of 5 counted, as the paper's scorer falls back to 5).
"""
from __future__ import annotations

import functools
import re
import tomllib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from importlib import resources
from typing import Any

from agents.llm import Backend, CallStats, Completion, GenerationOptions, request_structured
from envs import FOCAL, Domain

SCORE_RANGE = (1, 10)
FALLBACK_SCORE = 5
JUDGE_SCHEMA = {"type": "object",
                "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 10},
                               "reason": {"type": "string", "minLength": 1, "maxLength": 160}},
                "required": ["score", "reason"]}


@functools.cache
def judge_settings() -> dict[str, Any]:
    return tomllib.loads(resources.files("arena.training").joinpath("data/judge.toml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class TurnToJudge:
    """One focal turn with what the judge may see: the public dialogue before it and the focal
    side's own target and reservation."""

    domain: Domain
    target: int
    reservation: int
    history: tuple[dict[str, Any], ...]  # earlier turns: role, move, value, message
    move: str
    value: int | None
    utterance: str

    def position(self, value: float) -> float:
        """Where ``value`` sits from the focal target (0) to its reservation (1); < 0 is beyond the target."""
        gap = self.reservation - self.target
        return (value - self.target) / gap if gap else 0.0

    def previous_own_offer(self) -> int | None:
        offers = [t["value"] for t in self.history if t["role"] == FOCAL and t["move"] == "offer"]
        return offers[-1] if offers else None

    def their_offer(self) -> int | None:
        offers = [t["value"] for t in self.history if t["role"] != FOCAL and t["move"] == "offer"]
        return offers[-1] if offers else None


@dataclass(frozen=True)
class Verdict:
    score: int
    reason: str


class TurnJudge(ABC):
    """Scores focal turns; ``name`` is recorded with every score."""

    name: str = "judge"

    @abstractmethod
    def judge(self, turn: TurnToJudge) -> Verdict:
        """The turn's score in 1..10 and a one-line reason."""


class RubricJudge(TurnJudge):
    """The rubric as arithmetic on the move, the value and the words (weights in data/judge.toml)."""

    name = "rubric"

    def __init__(self, weights: dict[str, Any] | None = None):
        self.w = weights or judge_settings()["rubric"]

    def _position_terms(self, turn: TurnToJudge) -> list[tuple[float, str]]:
        w, terms = self.w, []
        value = turn.value if turn.move == "offer" else turn.their_offer() if turn.move == "accept" else None
        if value is None:
            return [(w["walk_away"], "walks away")] if turn.move not in ("offer", "accept") else []
        a = turn.position(value)
        if turn.move == "accept":
            bonus = (w["accept_good"] if a <= w["anchor_firm_max"] else
                     w["accept_moderate"] if a <= w["anchor_weak_min"] else w["accept_poor"])
            return [(bonus, f"accepts at {a:.2f} of the way to the reservation")]
        if a < 0:
            terms.append((max(w["beyond_target_cap"], w["beyond_target"] * -a), "anchors beyond the target"))
        elif a <= w["anchor_firm_max"]:
            terms.append((w["anchor_firm"], "firm anchor near the target"))
        elif a > 1:
            terms.append((w["beyond_reservation"], "offers past the reservation"))
        elif a > w["anchor_weak_min"]:
            terms.append((w["anchor_weak"], "weak position"))
        previous = turn.previous_own_offer()
        if previous is not None:
            conceded = a - turn.position(previous)
            if conceded >= w["big_concession_min"]:
                terms.append((w["big_concession"], "big concession"))
            elif 0 < conceded <= w["small_concession_max"]:
                terms.append((w["small_concession"], "small calibrated concession"))
        return terms

    def _word_terms(self, turn: TurnToJudge) -> list[tuple[float, str]]:
        w, text = self.w, turn.utterance.lower()

        def has(words: list[str]) -> bool:
            return any(re.search(rf"\b{re.escape(x)}\b", text) for x in words)

        terms = []
        if re.search(r"\d", text):
            terms.append((w["concrete_number"], "names a number"))
        elif turn.move == "offer":
            terms.append((w["vague_offer"], "no number"))
        for words, key, why in ((w["leverage_words"], "leverage", "gives a reason"), (w["hedge_words"], "hedge", "hedges"),
                                (w["capitulation_phrases"], "capitulation", "gives up")):
            if has(words):
                terms.append((w[key], why))
        if len(text.split()) > w["long_words"]:
            terms.append((w["long_winded"], "long-winded"))
        return terms

    def judge(self, turn: TurnToJudge) -> Verdict:
        terms = self._position_terms(turn) + self._word_terms(turn)
        raw = self.w["base"] + sum(t for t, _ in terms)
        score = int(min(SCORE_RANGE[1], max(SCORE_RANGE[0], round(raw))))
        return Verdict(score, "; ".join(why for _, why in terms) or "holds its position")


def _history_text(turn: TurnToJudge) -> str:
    lines = [f"- {turn.domain.role_name(t['role'])}: {t['move']}"
             f"{'' if t['value'] is None else ' ' + str(t['value'])}: {t['message']}" for t in turn.history]
    return "\n".join(lines) or "(nothing yet)"


class LLMJudge(TurnJudge):
    """A model judges each turn through ``backend``; invalid replies are retried with feedback and
    fall back to 5 (counted in ``stats``). Temperature 0, as the paper's judge."""

    def __init__(self, backend: Backend, max_tokens: int = 96, max_retries: int = 2):
        self.backend, self.max_tokens, self.max_retries = backend, max_tokens, max_retries
        self.name = f"llm:{backend.kind}:{backend.model}"
        self.stats = CallStats()

    def messages(self, turn: TurnToJudge) -> list[dict[str, str]]:
        prompts, d = judge_settings()["llm"], turn.domain
        fields = dict(focal_role=d.role_name(FOCAL), title=d.title, issue=d.issue, unit=d.unit, target=turn.target,
                      low=d.low, high=d.high, history=_history_text(turn), move=turn.move, utterance=turn.utterance,
                      value_text="" if turn.value is None else f" {turn.value} {d.unit}")
        return [{"role": "system", "content": prompts["system"].format(**fields)},
                {"role": "user", "content": prompts["user"].format(**fields)}]

    @staticmethod
    def _validate(completion: Completion) -> tuple[Verdict | None, str]:
        data = completion.data or {}
        score, reason = data.get("score"), data.get("reason")
        if isinstance(score, bool) or not isinstance(score, int) or not SCORE_RANGE[0] <= score <= SCORE_RANGE[1]:
            return None, "'score' must be a whole number from 1 to 10"
        if not isinstance(reason, str) or not reason.strip():
            return None, "'reason' must be a short sentence"
        return Verdict(score, reason.strip()[:160]), ""

    def judge(self, turn: TurnToJudge) -> Verdict:
        options = GenerationOptions(temperature=0.0, seed=0, max_tokens=self.max_tokens)
        verdict = request_structured(self.backend, self.messages(turn), JUDGE_SCHEMA, options, self._validate,
                                     self.stats, self.max_retries)
        return verdict or Verdict(FALLBACK_SCORE, "fallback: no valid judgement")
