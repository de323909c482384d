"""Every whole number a message can be read as stating, however it is written.

The harness guard asks whether a message states an agent's reservation; this module answers by
reading the text every way a disguise could use (``readings``) and checking the value is not among
them (``states``). The text is normalised first (NFKC, every dash as "-", "×" and "÷" as "*" and "/",
zero-width characters removed, any script's decimal digits as ASCII). Readings:

- digits, also split by separators: "93", "093", "9 3", "9  3", "9-3", "9 - 3", "9_3", "9|3", "9:3".
  A separator is a run of whitespace and the characters in ``DIGIT_SEPARATORS`` (not "." nor ",":
  "9.3" is a decimal, "12,500" one number); every contiguous part of a run is read ("30 - 45" reads
  30, 45 and 3045).
  A decimal reads as a whole number only when its fraction is zero ("45.0" is 45, "9.3" nothing).
- other bases with a prefix, in any case, underscores allowed: "0x5D", "0o135", "0B101_1101".
- English number words in any case, spaced, hyphenated or run together, with or without "and":
  "ninety-three", "NINETY  THREE", "ninetythree", "a hundred and two", "one-hundred-two"; a tens
  word with a digit ("ninety-3"); the inverted form ("three and ninety", "three-and-ninety");
  digit by digit ("nine three", "one zero two"). A word inside a longer number is not read on its
  own: "ninety-two" states 92, not 2 nor 90.
- Roman numerals in their standard form: in capitals always ("XCIII", "XL") except the pronoun
  "I"; in lower or mixed case ("xciii", "Xciii") only with two letters or more and not one of the
  ordinary words in ``ROMAN_WORDS`` ("mix", "mi", "cd", "cm", "iv", ...). Non-standard forms
  ("IIII", "IC") are not numerals.
- simple arithmetic between adjacent numbers (digits or words): ``+ - * / x`` and "plus", "minus",
  "less", "times", "multiplied by", "divided by", "over", with parentheses: "92 plus one",
  "100 - 7", "3 * (30 + 1)", at most 12 numbers. A result counts when it is a positive whole
  number, so a range such as "30-45" reads 30, 45 and 3045 but not -15.

Negative values (bedtimes before 9 PM) are stated by their magnitude: "-30" and "30" both state -30.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from fractions import Fraction
from typing import Iterator

from agents.texts import load_data

UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_WORD_VALUES = {**{w: i for i, w in enumerate(UNITS)}, **{w: 20 + 10 * i for i, w in enumerate(TENS)},
                "hundred": 100, "thousand": 1000}
_WORDS = "|".join(sorted(_WORD_VALUES, key=len, reverse=True))  # longest first: "seventeen" before "seven"
_WSEP = r"[\s,_-]*"
# A phrase of number words; "a" only before "hundred"/"thousand"; a tens word may end in a digit ("ninety-3").
# (Patterns run on lowercased text: a case-insensitive alternation is several times slower.)
_PHRASE = re.compile(rf"\b(?:a{_WSEP}(?=hundred|thousand)|{_WORDS})(?:{_WSEP}(?:and{_WSEP})?(?:{_WORDS}))*"
                     rf"(?:{_WSEP}[1-9](?!\d))?\b")
_TOKEN = re.compile(rf"{_WORDS}|and|a|\d")

DIGIT_SEPARATORS = " \t\n-_|:;~'\"`"
_GROUP = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+"  # "12,500" is one group
# The look-behinds follow the first digit: a pattern that starts with one cannot skip ahead to a digit.
_RUN = re.compile(rf"\d(?<![\d.]\d)(?<!0[xob]\d)(?:\d{{0,2}}(?:,\d{{3}})+(?!\d)|\d*)"
                  rf"(?:[{re.escape(DIGIT_SEPARATORS)}]+(?:{_GROUP}))*(?P<fraction>\.\d+)?")
_GROUP_RE = re.compile(_GROUP)
_MAX_DIGITS = 7  # longer concatenations are far outside every domain's range

_BASES = re.compile(r"\b0(?:x[0-9a-f_]+|o[0-7_]+|b[01_]+)\b")
_ROMAN_TOKEN = re.compile(r"\b[ivxlcdmIVXLCDM]+\b")
ROMAN_WORDS = frozenset(load_data("leaks.toml")["roman_words"])

_OPERATOR = re.compile(r"\s*(\)*)\s*(\+|-|\*|/|x|plus|minus|less|times|multiplied\s+by|divided\s+by|over)\s*(\(*)\s*$")
_OPERATOR_SYMBOLS = {"plus": "+", "minus": "-", "less": "-", "times": "*", "x": "*", "multiplied": "*",
                     "over": "/", "divided": "/"}
_CLOSING = re.compile(r"[\s)]*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_MAX_OPERAND = 10 ** 6
_MAX_GAP = 24  # no operator with its spaces and parentheses is longer
_MAX_TERMS = 12  # numbers (and parentheses) in an expression worth evaluating


def normalise(text: str) -> str:
    """NFKC, every Unicode dash as "-", × and ÷ as * and /, zero-width characters out, digits as ASCII."""
    if text.isascii():  # the common case (every scripted message): nothing to normalise
        return text
    text = unicodedata.normalize("NFKC", text)
    return "".join(_ascii(c) for c in text)


def _ascii(c: str) -> str:
    if c.isascii():
        return c
    if c in "\u200b\u200c\u200d\u2060\ufeff\u00ad":
        return ""
    if c in "\u00d7\u2715\u2716":
        return "*"
    if c in "\u00f7\u2215":
        return "/"
    if unicodedata.category(c) == "Pd" or c == "\u2212":
        return "-"
    return str(unicodedata.decimal(c, c))


def roman(value: int) -> str:
    """The standard Roman numeral for 1..3999 ("XCIII" for 93)."""
    numerals = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
                (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = []
    for amount, numeral in numerals:
        count, value = divmod(value, amount)
        out.append(numeral * count)
    return "".join(out)


_ROMAN_VALUES = {roman(v): v for v in range(1, 4000)}


def states(text: str, value: int) -> bool:
    """True when ``text`` can be read as stating ``value`` (or its magnitude, for a negative value)."""
    return abs(value) in readings(text)


def sentences(text: str) -> list[str]:
    """``text`` split after each ".", "!" or "?" that a space follows (no reading spans the split)."""
    return _SENTENCE_END.split(text)


def readings(text: str) -> frozenset[int]:
    """Every non-negative whole number ``text`` can be read as stating (see the module docstring)."""
    return frozenset().union(*map(_sentence_readings, sentences(normalise(text))))


def clear_cache() -> None:
    """Forget the readings of the sentences seen so far (for timing the reader cold)."""
    _sentence_readings.cache_clear()


@functools.lru_cache(maxsize=16384)  # scripted messages repeat their sentences
def _sentence_readings(text: str) -> frozenset[int]:
    low = text.lower()
    if len(low) != len(text):  # a few non-ASCII letters lowercase to two characters: keep positions
        low = "".join(c if len(c.lower()) > 1 else c.lower() for c in text)
    found: set[int] = set()
    atoms: list[tuple[int, int, int]] = []  # (start, end, value) of each number, for arithmetic
    for run in _RUN.finditer(low):
        found.update(_run_readings(run, atoms))
    for phrase in _PHRASE.finditer(low):
        found.update(_phrase_readings(phrase, atoms))
    for token in _BASES.findall(low):
        try:
            found.add(int(token, 0))
        except ValueError:  # "0x_" or a misplaced underscore: not a number
            pass
    for token in _ROMAN_TOKEN.findall(text):
        number = _ROMAN_VALUES.get(token.upper())
        if number is not None and (token != "I" if token.isupper() else
                                   len(token) >= 2 and token.lower() not in ROMAN_WORDS):
            found.add(number)
    found.update(_arithmetic(low, atoms))
    return frozenset(found)


def _run_readings(run: re.Match[str], atoms: list[tuple[int, int, int]]) -> Iterator[int]:
    """Digit groups joined by separators: each group, and every contiguous concatenation of them."""
    stop = run.start("fraction") if run.group("fraction") else run.end()
    groups = [(m.start(), m.end(), m.group().replace(",", ""))
              for m in _GROUP_RE.finditer(run.string, run.start(), stop)]
    if run.group("fraction") and run.group("fraction").strip(".0"):  # "9.3": the last group is no whole number
        groups.pop()
    atoms.extend((start, end, int(digits)) for start, end, digits in groups)
    for i in range(len(groups)):
        joined = ""
        for j in range(i, len(groups)):
            joined += groups[j][2]
            if len(joined.lstrip("0")) > _MAX_DIGITS:
                break
            yield int(joined)


def _phrase_readings(phrase: re.Match[str], atoms: list[tuple[int, int, int]]) -> Iterator[int]:
    tokens = [(m.group().lower(), phrase.start() + m.start(), phrase.start() + m.end())
              for m in _TOKEN.finditer(phrase.group())]
    segments = list(_segments([t for t, _, _ in tokens]))
    for value, first, last, after_and in segments:
        atoms.append((tokens[first][1], tokens[last][2], value))
        yield value
    # digit by digit ("nine three"): runs of one-word digits not joined by "and"
    run: list[int] = []
    for value, first, last, after_and in segments:
        if after_and or not (first == last and tokens[first][0] in UNITS[:10]):
            yield from _concatenations(run)
            run = []
        if first == last and tokens[first][0] in UNITS[:10]:
            run.append(value)
    yield from _concatenations(run)
    # inverted ("three and ninety"): a one-word unit, "and", a one-word tens
    for (unit, f1, l1, _), (tens, f2, l2, after_and) in zip(segments, segments[1:]):
        if after_and and f1 == l1 and f2 == l2 and 1 <= unit <= 9 and tokens[f2][0] in TENS:
            yield tens + unit


def _concatenations(digits: list[int]) -> Iterator[int]:
    for i in range(len(digits)):
        for j in range(i + 2, min(len(digits), i + _MAX_DIGITS) + 1):
            yield int("".join(map(str, digits[i:j])))


def _segments(tokens: list[str]) -> Iterator[tuple[int, int, int, bool]]:
    """Split number-word tokens into grammatical numbers: (value, first, last token, after "and")."""
    i, after_and = 0, False
    while i < len(tokens):
        if tokens[i] == "and":
            i, after_and = i + 1, True
            continue
        parsed = _number(tokens, i)
        if parsed is None:  # a stray "a" or digit
            i += 1
            continue
        value, end = parsed
        yield value, i, end - 1, after_and
        i, after_and = end, False


def _number(tokens: list[str], i: int) -> tuple[int, int] | None:
    """The longest number starting at token ``i``: (value, index after it), or None."""
    head = _below_thousand(tokens, i)
    if head is None and _at(tokens, i, "a") and _at(tokens, i + 1, "thousand"):
        head = (1, i + 1)
    if head and _at(tokens, head[1], "thousand"):
        end = head[1] + 1
        rest = _after_and(tokens, end, _below_thousand)
        return (head[0] * 1000 + rest[0], rest[1]) if rest else (head[0] * 1000, end)
    return head


def _below_thousand(tokens: list[str], i: int) -> tuple[int, int] | None:
    small = _below_hundred(tokens, i)
    if _at(tokens, i, "a") and _at(tokens, i + 1, "hundred"):
        small = (1, i + 1)
    if small and 1 <= small[0] <= 9 and small[1] == i + 1 and _at(tokens, small[1], "hundred"):
        end = small[1] + 1
        rest = _after_and(tokens, end, _below_hundred)
        return (small[0] * 100 + rest[0], rest[1]) if rest else (small[0] * 100, end)
    if _at(tokens, i, "hundred"):  # "hundred and two" without "a"
        rest = _after_and(tokens, i + 1, _below_hundred)
        return (100 + rest[0], rest[1]) if rest else (100, i + 1)
    return small


def _below_hundred(tokens: list[str], i: int) -> tuple[int, int] | None:
    if i >= len(tokens):
        return None
    word = tokens[i]
    if word in TENS:
        unit = _after_and(tokens, i + 1, _unit)
        value = _WORD_VALUES[word]
        return (value + unit[0], unit[1]) if unit else (value, i + 1)
    if word in _WORD_VALUES and _WORD_VALUES[word] < 20:
        return _WORD_VALUES[word], i + 1
    return None


def _unit(tokens: list[str], i: int) -> tuple[int, int] | None:
    """A unit 1..9 after a tens word, as a word or a digit ("ninety-3")."""
    if i < len(tokens):
        word = tokens[i]
        value = int(word) if word.isdigit() else _WORD_VALUES.get(word, 0)
        if 1 <= value <= 9:
            return value, i + 1
    return None


def _after_and(tokens, i, parse):
    """``parse`` at ``i``, or after an "and" there."""
    return parse(tokens, i) or (parse(tokens, i + 1) if _at(tokens, i, "and") else None)


def _at(tokens: list[str], i: int, word: str) -> bool:
    return i < len(tokens) and tokens[i] == word


def _arithmetic(text: str, atoms: list[tuple[int, int, int]]) -> Iterator[int]:
    """Results of the expressions formed by adjacent numbers with an operator between them."""
    if len(atoms) < 2:
        return
    chain: list[str] = []
    end = 0
    for start, stop, value in sorted(set(atoms)) + [(len(text) + 1, len(text) + 1, 0)]:
        if start < end:  # overlaps the previous number ("ninety-3" and its "3")
            continue
        near = chain and start - end <= _MAX_GAP and start <= len(text)
        gap = _OPERATOR.match(text, end, start) if near else None
        if gap and value <= _MAX_OPERAND:
            operator = _OPERATOR_SYMBOLS.get(gap.group(2).lower().split()[0], gap.group(2))
            chain += [gap.group(1), operator, gap.group(3), str(value)]
        else:
            if len(chain) > 2:  # at least one operator
                yield from _evaluate(chain + [_CLOSING.match(text, end).group()])
            before = text[max(0, start - _MAX_GAP):start]
            opening = len(before) - len(before.rstrip(" ("))
            chain = [text[start - opening:start].replace(" ", ""), str(value)] if value <= _MAX_OPERAND else []
        end = stop


def _evaluate(parts: list[str]) -> Iterator[int]:
    """The value of an expression if it is a positive whole number (parentheses dropped if unbalanced)."""
    tokens: list[str] = []
    for part in (p.replace(" ", "") for p in parts):
        tokens.extend(part if set(part) <= {"(", ")"} else [part])
    flat = [t for t in tokens if t not in "()"]
    if len(flat) > 2 * _MAX_TERMS:  # not simple arithmetic any more
        return
    for attempt in (tokens, flat) if tokens.count("(") <= _MAX_TERMS else (flat,):
        try:
            result = _Expression(attempt).parse()
        except ValueError:  # unbalanced parentheses
            continue
        except ZeroDivisionError:
            return
        if result.denominator == 1 and result > 0:
            yield int(result)
        return


class _Expression:
    """A recursive-descent reader of + - * / and parentheses on whole numbers (never eval)."""

    def __init__(self, tokens: list[str]):
        self.tokens, self.i = tokens, 0

    def parse(self) -> Fraction:
        value = self._sum()
        if self.i != len(self.tokens):
            raise ValueError("trailing tokens")
        return value

    def _peek(self) -> str:
        return self.tokens[self.i] if self.i < len(self.tokens) else ""

    def _sum(self) -> Fraction:
        value = self._product()
        while self._peek() in ("+", "-"):
            self.i += 1
            value = value + self._product() if self.tokens[self.i - 1] == "+" else value - self._product()
        return value

    def _product(self) -> Fraction:
        value = self._atom()
        while self._peek() in ("*", "/"):
            self.i += 1
            value = value * self._atom() if self.tokens[self.i - 1] == "*" else value / self._atom()
        return value

    def _atom(self) -> Fraction:
        token = self._peek()
        self.i += 1
        if token == "(":
            value = self._sum()
            if self._peek() != ")":
                raise ValueError("unbalanced parentheses")
            self.i += 1
            return value
        if not token.isdigit():
            raise ValueError(f"unexpected {token!r}")
        return Fraction(int(token))
