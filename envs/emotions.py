"""Named emotion taxonomies: the label sets an action's expressed emotion is drawn from."""
from __future__ import annotations

EKMAN_7: tuple[str, ...] = ("joy", "sadness", "anger", "fear", "surprise", "disgust", "neutral")

GOEMOTIONS_28: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)

TAXONOMIES: dict[str, tuple[str, ...]] = {"ekman-7": EKMAN_7, "goemotions-28": GOEMOTIONS_28}

# Ekman labels are a subset of GoEmotions, so the default taxonomy accepts both vocabularies.
DEFAULT_TAXONOMY = "goemotions-28"


def get_taxonomy(name: str) -> tuple[str, ...]:
    """The labels of a named taxonomy, or a KeyError naming the known ones."""
    try:
        return TAXONOMIES[name]
    except KeyError:
        raise KeyError(f"unknown emotion taxonomy {name!r}; known: {', '.join(TAXONOMIES)}") from None
