"""Emotion sensing: a message -> a distribution over Ekman-7 labels.

The lexicon sensor uses the NRC emotion lexicon shipped in ``nrclex`` (fed with our own
tokenizer, since NLTK corpora cannot be downloaded), a small cue lexicon of negotiation words and
VADER valence. The LLM sensor asks the agent's backend for a label and falls back to the lexicon.
"""
from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Protocol

from nrclex import NRCLex
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from agents.llm import Completion, label_schema
from agents.texts import load_data
from envs import EKMAN_7

NEGATIVE = frozenset({"sadness", "anger", "fear", "disgust"})
NRC_TO_EKMAN = {"anger": "anger", "fear": "fear", "sadness": "sadness", "disgust": "disgust",
                "joy": "joy", "surprise": "surprise"}
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")
_DIGITS = re.compile(r"\d+")
_SUFFIXES = ("ing", "ed", "es", "s", "ly", "ful", "ness")

Distribution = dict[str, float]


class Sensor(Protocol):
    def sense(self, text: str, turn: int = 0) -> Distribution: ...


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def argmax_label(dist: Distribution) -> str:
    return max(EKMAN_7, key=lambda label: (dist.get(label, 0.0), label == "neutral"))


@functools.cache
def _nrc_vocabulary() -> frozenset[str]:
    text = resources.files("nrclex").joinpath("data/nrc_en.json").read_text(encoding="utf-8")
    return frozenset(json.loads(text))


@functools.cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@functools.lru_cache(maxsize=65536)
def normalise_token(token: str) -> str:
    """A crude lemmatiser: strip common suffixes until the word is in the NRC vocabulary."""
    vocab = _nrc_vocabulary()
    if token in vocab:
        return token
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            stem = token[: -len(suffix)]
            for candidate in (stem, stem + "e"):
                if candidate in vocab:
                    return candidate
    return token


class CueLexicon:
    """Exact words and word prefixes (``word*``) per label, compiled once."""

    def __init__(self, cues: dict[str, list[str]]):
        self.exact = {label: frozenset(w for w in words if not w.endswith("*")) for label, words in cues.items()}
        self.prefixes = {label: tuple(w[:-1] for w in words if w.endswith("*")) for label, words in cues.items()}

    def hits(self, tokens: list[str]) -> dict[str, float]:
        return {label: float(sum(1 for t in tokens if t in exact or t.startswith(self.prefixes[label])))
                for label, exact in self.exact.items()}


class LexiconSensor:
    """NRC counts + negotiation cues + VADER valence, normalised into an Ekman-7 distribution."""

    def __init__(self, use_cues: bool = True):
        self.config = load_data("sensing_lexicon.toml")
        self.use_cues = use_cues
        self.cues = CueLexicon(self.config["cues"])
        self._nrc = NRCLex()
        self._memo = functools.lru_cache(maxsize=8192)(self._sense)
        self._label_memo = functools.lru_cache(maxsize=8192)(lambda text: argmax_label(self._memo(text)))

    def scores(self, text: str) -> dict[str, float]:
        tokens = tokenize(text)
        self._nrc.load_token_list([normalise_token(t) for t in tokens])
        raw = self._nrc.raw_emotion_scores
        score = {label: 0.0 for label in EKMAN_7}
        for nrc_label, ekman in NRC_TO_EKMAN.items():
            score[ekman] += raw.get(nrc_label, 0)
        score["joy"] += self.config["trust_to_joy"] * raw.get("trust", 0)
        score["neutral"] = self.config["neutral_prior"]
        if self.use_cues:
            for label, hits in self.cues.hits(tokens).items():
                score[label] += hits
        compound = _vader().polarity_scores(text)["compound"]
        strength = self.config["vader_strength"] * abs(compound)
        if compound >= 0.3:
            score["joy"] += strength
        elif compound <= -0.3:
            negatives = sum(score[label] for label in NEGATIVE)
            for label in NEGATIVE:
                share = score[label] / negatives if negatives else 0.25
                score[label] += strength * share
        return score

    def sense(self, text: str, turn: int = 0) -> Distribution:
        """Memoised on the text with digits normalised: numbers carry no emotion, templates repeat."""
        return self._memo(_DIGITS.sub("0", text))

    def label(self, text: str) -> str:
        """The most likely Ekman-7 label of ``text`` (memoised like :meth:`sense`)."""
        return self._label_memo(_DIGITS.sub("0", text))

    def _sense(self, text: str) -> Distribution:
        score = self.scores(text)
        total = sum(score.values())
        return {label: score[label] / total for label in EKMAN_7}


@functools.cache
def shared_lexicon_sensor() -> LexiconSensor:
    """One lexicon sensor per process, so its memo is shared by every agent and the harness."""
    return LexiconSensor()


class LLMSensor:
    """Asks the agent's backend to label the message; an invalid reply falls back to the lexicon."""

    PROMPT = ("Label the main emotion the speaker expresses in a negotiation message. "
              "Answer with JSON only: {\"emotion\": one of " + ", ".join(EKMAN_7) + "}.")

    def __init__(self, speaker, confidence: float = 0.85):
        self.speaker = speaker
        self.confidence = confidence
        self.fallback = shared_lexicon_sensor()
        self.fallbacks = 0

    def _validate(self, completion: Completion) -> tuple[str | None, str]:
        data = completion.data or {}
        label = data.get("emotion") if isinstance(data, dict) else None
        if isinstance(label, str) and label.strip().lower() in EKMAN_7:
            return label.strip().lower(), ""
        return None, "'emotion' must be one of " + ", ".join(EKMAN_7)

    def sense(self, text: str, turn: int = 0) -> Distribution:
        if not text.strip():
            return {label: float(label == "neutral") for label in EKMAN_7}
        messages = [{"role": "system", "content": self.PROMPT}, {"role": "user", "content": f"Message: {text}"}]
        label = self.speaker.ask(messages, label_schema(EKMAN_7), self._validate, "sense", turn)
        if label is None:
            self.fallbacks += 1
            return self.fallback.sense(text)
        rest = (1.0 - self.confidence) / (len(EKMAN_7) - 1)
        return {e: self.confidence if e == label else rest for e in EKMAN_7}
