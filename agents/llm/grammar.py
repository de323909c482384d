"""GBNF grammars generated from the small JSON schemas agents use.

llama.cpp's own schema converter ignores minimum, maximum and maxLength, and a malformed
grammar crashes the process, so grammars are built here from a supported subset only:
an object whose properties are string enums, bounded integers or bounded strings.
"""
from __future__ import annotations

import json
import re
from typing import Any

MESSAGE_CHAR = r'[^"\\\x00-\x1f]'
CLOSE = "}"  # the text after the last value


class GrammarError(ValueError):
    """The schema uses something the grammar generator does not support."""


def _digit_class(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"[{lo}-{hi}]"


def _fixed_width(lo: int, hi: int, width: int) -> list[str]:
    """Patterns for every ``width``-digit string (leading zeros allowed) from lo to hi."""
    if width == 0:
        return [""]
    unit = 10 ** (width - 1)
    first, last = lo // unit, hi // unit
    if first == last:
        return [str(first) + rest for rest in _fixed_width(lo % unit, hi % unit, width - 1)]
    head, tail = [], []
    if lo % unit:
        head = [str(first) + rest for rest in _fixed_width(lo % unit, unit - 1, width - 1)]
        first += 1
    if hi % unit != unit - 1:
        tail = [str(last) + rest for rest in _fixed_width(0, hi % unit, width - 1)]
        last -= 1
    middle = [_digit_class(first, last) + "[0-9]" * (width - 1)] if first <= last else []
    return head + middle + tail


def nonnegative_range(lo: int, hi: int) -> list[str]:
    """Digit patterns matching exactly the decimal integers lo..hi (lo >= 0, no leading zeros)."""
    patterns = []
    for width in range(len(str(lo)), len(str(hi)) + 1):
        start = max(lo, 10 ** (width - 1) if width > 1 else 0)
        end = min(hi, 10 ** width - 1)
        if start <= end:
            patterns.extend(_fixed_width(start, end, width))
    return patterns


def integer_range(lo: int, hi: int) -> list[str]:
    """Patterns matching exactly the integers lo..hi, negatives written with a leading '-'."""
    if lo > hi:
        raise GrammarError(f"empty integer range [{lo}, {hi}]")
    patterns = []
    if lo < 0:
        patterns += ["-" + p for p in nonnegative_range(max(1, -hi), -lo)]
    if hi >= 0:
        patterns += nonnegative_range(max(0, lo), hi)
    return patterns


def _gbnf_pattern(pattern: str) -> str:
    """A digit pattern as a GBNF sequence: literal digits quoted, classes kept."""
    tokens = re.findall(r"\[[^\]]*\]|-|\d", pattern)
    return " ".join(t if t.startswith("[") else json.dumps(t) for t in tokens)


def _literal(text: str) -> str:
    """A GBNF string literal for text that must appear verbatim in the JSON output."""
    return json.dumps(text)


def _property_rule(name: str, spec: dict[str, Any]) -> str:
    kind = spec.get("type")
    if "enum" in spec:
        values = spec["enum"]
        if not values or not all(isinstance(v, str) and re.fullmatch(r"[\w\- ]+", v) for v in values):
            raise GrammarError(f"property {name!r}: enum values must be simple words")
        return " | ".join(_literal(json.dumps(v)) for v in values)
    if kind == "integer":
        if "minimum" not in spec or "maximum" not in spec:
            raise GrammarError(f"property {name!r}: integers need minimum and maximum")
        return " | ".join(f"( {_gbnf_pattern(p)} )" for p in integer_range(int(spec["minimum"]), int(spec["maximum"])))
    if kind == "string":
        low, high = int(spec.get("minLength", 0)), int(spec.get("maxLength", 0))
        if high <= 0 or low < 0 or low > high:
            raise GrammarError(f"property {name!r}: strings need 0 <= minLength <= maxLength and maxLength > 0")
        return f'"\\"" {MESSAGE_CHAR}{{{low},{high}}} "\\""'
    raise GrammarError(f"property {name!r}: unsupported type {kind!r}")


def schema_to_gbnf(schema: dict[str, Any]) -> str:
    """A GBNF grammar for a flat object schema; keys appear in schema order, all required."""
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        raise GrammarError("only object schemas with properties are supported")
    props: dict[str, Any] = schema["properties"]
    if not props or any(not re.fullmatch(r"[a-z_]+", k) for k in props):
        raise GrammarError("property names must be lower-case words")
    rules, parts = [], []
    for (name, spec), lead in zip(props.items(), key_literals(props)):
        parts.append(f"{_literal(lead)} {name.replace('_', '-')}")
        rules.append(f"{name.replace('_', '-')} ::= {_property_rule(name, spec)}")
    root = "root ::= " + " ".join(parts) + f" {_literal(CLOSE)}"
    return "\n".join([root, *rules]) + "\n"


def key_literals(props: dict[str, Any]) -> list[str]:
    """The text before each property's value in a reply (``{"move": ``, ``, "value": `` ...)."""
    return [("{" if i == 0 else ", ") + json.dumps(name) + ": " for i, name in enumerate(props)]
