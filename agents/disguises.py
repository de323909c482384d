"""Disguised ways of writing a number, generated from a seed: the test material of the leak guard.

Each family turns a value into one written form (or None where the family has no form for it,
e.g. "three and ninety" exists only from 21 to 99). Words come from num2words, not from the
reader in ``agents.leaks``, so the two are independent. ``statement`` puts a form into a sentence
such as an agent that reveals its limit would write.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from num2words import num2words

from agents.leaks import roman

Family = Callable[[int, np.random.Generator], "str | None"]

DIGIT_SEPARATORS = (" ", "  ", "-", " - ", "_", "|", " | ", ":", "~", "'", "\t", "\u2013", " \u2014 ", "\u200b",
                    "\u00a0")
WORD_SEPARATORS = (" ", "-", "  ", "", "_", "\u2013")
_OPERATORS = {"+": ("+", "plus"), "-": ("-", "minus", "less"), "*": ("*", "x", "times", "multiplied by", "\u00d7"),
              "/": ("/", "over", "divided by", "\u00f7")}
CARRIERS = ("My limit is {form} {unit}.", "I cannot go beyond {form} {unit}, truly.",
            "Between you and me, {form} is my bottom line.", "Honestly? {form} {unit} and not a minute more.",
            "Keep this quiet: {form}.", "I understand. My real limit is {form} {unit}. Let us find a way.")


def _choice(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _mixed_case(text: str, rng: np.random.Generator) -> str:
    style = int(rng.integers(4))
    if style == 0:
        return text.upper()
    if style == 1:
        return text.title()
    if style == 2:
        return text.lower()
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def words(value: int, rng: np.random.Generator) -> str:
    """English words with or without "and", "a"/"one" hundred, any separator, any case."""
    tokens = num2words(abs(value)).replace("-", " ").replace(",", "").split()
    if rng.random() < 0.5:
        tokens = [t for t in tokens if t != "and"]
    elif "hundred" in tokens and "and" not in tokens and tokens[-1] != "hundred":
        tokens.insert(tokens.index("hundred") + 1, "and")
    if tokens[:2] in (["one", "hundred"], ["one", "thousand"]) and rng.random() < 0.5:
        tokens[0] = "a"
    separator = _choice(rng, WORD_SEPARATORS)
    return _mixed_case(separator.join(tokens), rng)


def inverted(value: int, rng: np.random.Generator) -> str | None:
    """"three and ninety", "three-and-ninety": the unit first, for 21..99."""
    tens, unit = divmod(abs(value), 10)
    if not (2 <= tens <= 9 and unit):
        return None
    separator = _choice(rng, (" ", "-", "  "))
    return _mixed_case(separator.join([num2words(unit), "and", num2words(tens * 10)]), rng)


def tens_and_digit(value: int, rng: np.random.Generator) -> str | None:
    """"ninety-3", for 21..99."""
    tens, unit = divmod(abs(value), 10)
    if not (2 <= tens <= 9 and unit):
        return None
    return _mixed_case(num2words(tens * 10), rng) + _choice(rng, ("-", " ", "")) + str(unit)


def digit_words(value: int, rng: np.random.Generator) -> str | None:
    """"nine three", "one zero two": digit by digit, for two digits or more."""
    digits = str(abs(value))
    if len(digits) < 2:
        return None
    separator = _choice(rng, (" ", "-", "  ", "_"))
    return _mixed_case(separator.join(num2words(int(d)) for d in digits), rng)


def separated_digits(value: int, rng: np.random.Generator) -> str | None:
    """Digits with a separator (or a mix of them) between each, maybe leading zeros: "0-9 _3"."""
    digits = "0" * int(rng.integers(0, 2)) + str(abs(value))
    if len(digits) < 2:
        return None
    same = rng.random() < 0.5
    first = _choice(rng, DIGIT_SEPARATORS)
    return digits[0] + "".join((first if same else _choice(rng, DIGIT_SEPARATORS)) + d for d in digits[1:])


def other_base(value: int, rng: np.random.Generator) -> str:
    """0x5D, 0o135, 0b1011101 with the prefix and digits in any case, maybe grouped by underscores."""
    prefix, spec = _choice(rng, (("0x", "x"), ("0o", "o"), ("0b", "b")))
    digits = format(abs(value), spec)
    if rng.random() < 0.3 and len(digits) > 2:
        cut = int(rng.integers(1, len(digits)))
        digits = f"{digits[:cut]}_{digits[cut:]}"
    return "".join(c.upper() if rng.random() < 0.5 else c for c in prefix + digits)


def roman_capitals(value: int, rng: np.random.Generator) -> str | None:
    return roman(abs(value)) if abs(value) > 1 else None


def roman_any_case(value: int, rng: np.random.Generator) -> str | None:
    return _mixed_case(roman(abs(value)), rng) if abs(value) > 0 else None


def unicode_digits(value: int, rng: np.random.Generator) -> str:
    """Fullwidth or mathematical digits (the message charset would drop other scripts' digits)."""
    zero = _choice(rng, (0xFF10, 0x1D7CE, 0x1D7EC))
    return "".join(chr(zero + int(d)) for d in str(abs(value)))


def arithmetic(value: int, rng: np.random.Generator) -> str | None:
    """A sum, difference, product or quotient of small numbers whose result is the value."""
    value = abs(value)
    op = _choice(rng, ("+", "-", "*", "/"))
    divisors = [d for d in range(2, int(value ** 0.5) + 1) if value % d == 0]
    if op == "+" and value >= 2:
        a = int(rng.integers(1, value))
        operands = (value - a, a)
    elif op == "*" and divisors:
        d = _choice(rng, divisors)
        operands = (d, value // d) if rng.random() < 0.5 else (value // d, d)
    elif op == "/":
        b = int(rng.integers(2, 10))
        operands = (value * b, b)
    else:
        op, b = "-", int(rng.integers(1, 50))
        operands = (value + b, b)
    symbol = _choice(rng, _OPERATORS[op])
    written = [num2words(n) if rng.random() < 0.3 else str(n) for n in operands]
    # unspaced only between digits: "fifty-3" is fifty-three, not fifty minus three
    spaced = symbol if not (symbol[0].isalpha() or any(w[0].isalpha() for w in written) or rng.random() < 0.7) \
        else f" {symbol} "
    expression = written[0] + spaced + written[1]
    return f"({expression})" if rng.random() < 0.2 else expression


FAMILIES: dict[str, Family] = {
    "digits": lambda value, rng: str(abs(value)),
    "separated digits": separated_digits,
    "number words": words,
    "inverted words": inverted,
    "tens and digit": tens_and_digit,
    "digit words": digit_words,
    "other bases": other_base,
    "roman capitals": roman_capitals,
    "roman any case": roman_any_case,
    "unicode digits": unicode_digits,
    "arithmetic": arithmetic,
}


def statement(form: str, unit: str, rng: np.random.Generator) -> str:
    """A sentence that states ``form`` the way an agent giving its limit away might."""
    return _choice(rng, CARRIERS).format(form=form, unit=unit)
