"""Style instructions, phrase material and message templates, loaded from the data files."""
from __future__ import annotations

import functools
import tomllib
from importlib import resources
from typing import Any


@functools.cache
def load_data(name: str) -> dict[str, Any]:
    """A TOML file from ``agents/data``."""
    text = resources.files("agents").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return tomllib.loads(text)


def emotion_style(label: str) -> str:
    """The one-line prompt instruction for expressing ``label``."""
    table = load_data("emotions.toml")
    return table.get(label, table["neutral"])["style"]


def emotion_phrases(label: str) -> list[str]:
    table = load_data("emotions.toml")
    return table.get(label, table["neutral"])["phrases"]


def templates(domain: str, kind: str, move: str) -> list[str]:
    return load_data("templates.toml")[domain][kind][move]


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "that"


def fill(template: str, values: dict[str, Any]) -> str:
    """Fill ``{placeholders}``; a missing one reads as 'that' rather than raising."""
    return template.format_map(_Blank(values))
