"""Questionnaire items and comprehension questions: what a study file may define, and how an answer is
checked (a ValueError naming the item) and scored (attention items against their instructed answer)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.llm import ConfigError

ITEM_KINDS = ("likert", "choice", "text", "attention")
WHEN = ("after_match", "end")
MAX_TEXT = 2000


@dataclass(frozen=True)
class Item:
    """One question: a Likert rating (1..scale), a single choice, free text, or an attention check (a
    Likert or choice item with an instructed answer, ``expect``)."""

    id: str
    kind: str
    text: str
    scale: int = 7
    anchors: tuple[str, ...] = ()  # Likert: words for the low and high ends (and the middle, if three)
    choices: tuple[str, ...] = ()
    expect: str | None = None  # attention: the answer the item instructs
    required: bool = True

    @property
    def options(self) -> tuple[str, ...]:
        """The answers a participant can give (empty for free text)."""
        if self.choices:
            return self.choices
        return tuple(str(i) for i in range(1, self.scale + 1)) if self.kind in ("likert", "attention") else ()

    def answer(self, raw: str | None) -> str | None:
        """The stored answer, or a ValueError saying what is missing or wrong."""
        raw = (raw or "").strip() if self.kind != "text" else (raw or "")
        if not raw:
            if self.required:
                raise ValueError(f"please answer: {self.text}")
            return None
        if self.kind == "text":
            if len(raw) > MAX_TEXT:
                raise ValueError(f"the answer to {self.text!r} is {len(raw)} characters long; at most {MAX_TEXT}")
            return raw
        if raw not in self.options:
            raise ValueError(f"choose one of the answers to: {self.text}")
        return raw

    def passed(self, answer: str | None) -> bool | None:
        """For an attention item, whether the instructed answer was given (None for other items)."""
        return None if self.kind != "attention" else answer == self.expect


@dataclass(frozen=True)
class Questionnaire:
    """Items shown together after every counted match (``after_match``) or once at the end."""

    id: str
    when: str
    title: str
    items: tuple[Item, ...]
    intro: str = ""


@dataclass(frozen=True)
class Question:
    """A comprehension question with one right answer, to pass before the counted matches."""

    id: str
    text: str
    choices: tuple[str, ...]
    answer: str


def check_keys(table: dict[str, Any], allowed: set[str], where: str, required: tuple[str, ...] = ()) -> None:
    """A ConfigError naming the first unknown or missing key of a study-file table."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, got {table!r}")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    for key in required:
        if key not in table:
            raise ConfigError(f"{where}: missing {key!r}")


def typed(table: dict[str, Any], key: str, types: type | tuple, where: str, default: Any = None) -> Any:
    """``table[key]`` if it has the expected type (a ConfigError naming it otherwise)."""
    value = table.get(key, default)
    if value is None:
        return default
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,))):
        names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise ConfigError(f"{where}.{key} must be {names}, got {value!r}")
    return value


def strings(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = typed(table, key, list, where, [])
    if not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}.{key} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def parse_item(table: dict[str, Any], where: str) -> Item:
    check_keys(table, {"id", "kind", "text", "scale", "anchors", "choices", "expect", "required"}, where,
               ("id", "kind", "text"))
    kind = typed(table, "kind", str, where)
    if kind not in ITEM_KINDS:
        raise ConfigError(f"{where}.kind must be one of {', '.join(ITEM_KINDS)}, got {kind!r}")
    item = Item(typed(table, "id", str, where), kind, typed(table, "text", str, where),
                typed(table, "scale", int, where, 7), strings(table, "anchors", where), strings(table, "choices", where),
                None if table.get("expect") is None else str(table["expect"]), typed(table, "required", bool, where, True))
    if not 2 <= item.scale <= 11:
        raise ConfigError(f"{where}.scale must be between 2 and 11, got {item.scale}")
    if kind == "choice" and len(item.choices) < 2:
        raise ConfigError(f"{where}: a choice item needs at least two choices")
    if kind == "attention":
        if item.expect is None or item.expect not in item.options:
            raise ConfigError(f"{where}: an attention item needs expect = one of its answers ({', '.join(item.options)})")
    elif item.expect is not None:
        raise ConfigError(f"{where}: only attention items take 'expect'")
    return item


def parse_questionnaire(table: dict[str, Any], where: str) -> Questionnaire:
    check_keys(table, {"id", "when", "title", "intro", "items"}, where, ("id", "when", "items"))
    when = typed(table, "when", str, where)
    if when not in WHEN:
        raise ConfigError(f"{where}.when must be one of {', '.join(WHEN)}, got {when!r}")
    items = typed(table, "items", list, where)
    if not items:
        raise ConfigError(f"{where}: a questionnaire needs at least one item")
    parsed = tuple(parse_item(item, f"{where}.items[{i}]") for i, item in enumerate(items))
    ids = [item.id for item in parsed]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{where}: item ids must be unique (repeated: {sorted({i for i in ids if ids.count(i) > 1})[0]})")
    return Questionnaire(typed(table, "id", str, where), when, typed(table, "title", str, where, ""), parsed,
                         typed(table, "intro", str, where, ""))


def parse_question(table: dict[str, Any], where: str) -> Question:
    check_keys(table, {"id", "text", "choices", "answer"}, where, ("id", "text", "choices", "answer"))
    question = Question(typed(table, "id", str, where), typed(table, "text", str, where), strings(table, "choices", where),
                        str(table["answer"]))
    if len(question.choices) < 2 or question.answer not in question.choices:
        raise ConfigError(f"{where}: needs at least two choices and an answer that is one of them")
    return question
