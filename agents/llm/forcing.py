"""The text a reply grammar forces: given what a model has written so far, the characters every valid
reply must continue with (key names and separators, the rest of the only enum word left, a string's
opening quote, the closing brace). The embedded backend appends such text without drawing it token
by token (``fast_forward``); anything not provably forced is left to the model.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from agents.llm.grammar import CLOSE, GrammarError, key_literals

_INTEGER = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class Field:
    """One property of a reply: the text leading to its value, and what the value may be."""

    lead: str
    kind: str  # "enum", "integer" or "string"
    options: tuple[str, ...] = ()  # enum: each value as it is written (quoted)

    def length(self, rest: str) -> int | None:
        """How much of ``rest`` (the text from the value on) the value takes, or None while it is open."""
        if self.kind == "enum":
            return next((len(o) for o in self.options if rest.startswith(o)), None)
        if self.kind == "integer":
            match = _INTEGER.match(rest)
            return match.end() if match and match.end() < len(rest) else None  # a digit may still follow
        close = rest.find('"', 1)  # a message holds no quote: the first one after the opening ends it
        return close + 1 if rest.startswith('"') and close > 0 else None

    def forced(self, rest: str) -> str:
        """The characters every way of finishing this open value continues ``rest`` with."""
        if self.kind == "enum":
            return os.path.commonprefix([o for o in self.options if o.startswith(rest)])[len(rest):]
        return '"' if self.kind == "string" and not rest else ""


class ForcedText:
    """What a flat object schema (the ones ``schema_to_gbnf`` accepts) forces after a partial reply."""

    def __init__(self, schema: dict[str, Any]):
        props = schema.get("properties")
        if schema.get("type") != "object" or not isinstance(props, dict) or not props:
            raise GrammarError("only object schemas with properties are supported")
        self.fields = [self._field(lead, spec) for lead, spec in zip(key_literals(props), props.values())]

    @staticmethod
    def _field(lead: str, spec: dict[str, Any]) -> Field:
        if "enum" in spec:
            return Field(lead, "enum", tuple(json.dumps(v) for v in spec["enum"]))
        if spec.get("type") in ("integer", "string"):
            return Field(lead, spec["type"])
        raise GrammarError(f"unsupported property type {spec.get('type')!r}")

    def after(self, text: str) -> tuple[str, bool]:
        """The text forced after ``text`` (a prefix of a valid reply), and whether it ends the reply."""
        forced = ""
        while True:
            step, done = self._step(text + forced)
            forced += step
            if done or not step:
                return forced, done

    def _step(self, text: str) -> tuple[str, bool]:
        pos = 0
        for field in self.fields:
            if len(text) - pos < len(field.lead):
                return field.lead[len(text) - pos:], False
            pos += len(field.lead)
            taken = field.length(text[pos:])
            if taken is None:
                return field.forced(text[pos:]), False
            pos += taken
        return CLOSE[len(text) - pos:], True


@dataclass
class SpanTally:
    """How a model's own draws spelled the forced text of its replies: ``spans`` forced runs in
    ``replies`` replies, of which ``same`` were drawn in exactly the tokens fast-forwarding appends,
    and ``replies_same`` replies had every run so. Given the same random numbers for the tokens both
    ways draw, such a reply comes out of fast-forwarding unchanged (up to the rounding its batches
    change), so ``1 - replies_same / replies`` bounds how far its distribution of replies can be from
    drawing's (total variation)."""

    replies: int = 0
    replies_same: int = 0
    spans: int = 0
    same: int = 0
    forced_tokens: int = 0
    drawn_tokens: int = 0

    def add(self, tokens: list[int], forcer: ForcedText, piece: Any, tokens_of: Any) -> None:
        """Walk one reply's drawn ``tokens`` (``piece(t)``: a token's bytes; ``tokens_of(text)``: the
        tokens fast-forwarding would append for ``text``, or none) the way fast-forwarding would."""
        written, i, all_same = b"", 0, True
        while i < len(tokens):
            forced, done = forcer.after(written.decode("utf-8", errors="replace"))
            run = tokens_of(forced) if forced else []
            if run:
                self.spans += 1
                self.forced_tokens += len(run)
                same = tokens[i:i + len(run)] == run
                self.same += same
                all_same &= same
                end = len(written) + len(forced.encode())
                while i < len(tokens) and len(written) < end:  # past the run, in the model's own tokens
                    written += piece(tokens[i])
                    i += 1
                continue
            if done:
                break
            written += piece(tokens[i])
            self.drawn_tokens += 1
            i += 1
        self.replies += 1
        self.replies_same += all_same
