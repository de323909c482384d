"""Finding a number in a message however it is written: the reservation must never leak.

The text is normalised first (NFKC, every dash to "-", zero-width characters removed), then the
value is matched as digits (also spaced or split: "9 3", "9-3", "093"), hexadecimal ("0x5D"), Roman
numerals ("XCIII"), English words with any separators or none ("ninety-three", "ninetythree"), a
tens word with a digit ("ninety-3"), the inverted form ("three and ninety") and digit by digit
("nine three").
"""
from __future__ import annotations

import functools
import re
import unicodedata

from num2words import num2words

_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
                 "hundred|thousand")
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SEP = r"[\s,-]*"
_JOIN = r"(?:[\s,-]*(?:and[\s-]+)?)"
_NOT_LONGER = rf"(?![\s-]+(?:and[\s-]+)?(?:{_NUMBER_WORDS})\b)"  # 20 must not match inside "twenty-one"


def normalise(text: str) -> str:
    """NFKC, every Unicode dash as "-", zero-width and soft-hyphen characters removed."""
    if text.isascii():  # the common case (every scripted message): nothing to normalise
        return text
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    return "".join("-" if unicodedata.category(c) == "Pd" or c == "\u2212" else c for c in text)


def _roman(value: int) -> str:
    numerals = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
                (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = []
    for amount, numeral in numerals:
        count, value = divmod(value, amount)
        out.append(numeral * count)
    return "".join(out)


def _word_forms(value: int) -> list[str]:
    words = [w for w in re.findall(r"[a-z]+", num2words(value)) if w != "and"]
    forms = [_JOIN.join(words)]  # separators optional: "ninetythree" too
    tens, unit = divmod(value, 10)
    if 20 <= value < 100 and unit:
        tens_word = num2words(tens * 10)
        forms.append(rf"{tens_word}{_SEP}{unit}(?!\d)")  # "ninety-3"
        forms.append(rf"{_DIGIT_WORDS[unit]}\s+and\s+{tens_word}")  # "three and ninety"
    if value >= 10:
        forms.append(r"[\s-]+".join(_DIGIT_WORDS[int(d)] for d in str(value)))  # "nine three"
    return forms


@functools.lru_cache(maxsize=4096)  # one per distinct value, not one per match
def value_pattern(value: int) -> re.Pattern[str]:
    """A pattern for ``value`` in every form listed above (apply it to ``normalise``d text)."""
    value = abs(value)
    digits = r"[\s-]?".join(str(value))  # "93", "9 3", "9-3"
    parts = [rf"(?<![\d.])0*{digits}(?!\d)", rf"\b0x0*{value:x}\b"]
    for form in _word_forms(value):
        parts.append(rf"\b(?:{form}){_NOT_LONGER}" + ("" if form.endswith("(?!\\d)") else r"\b"))
    alternatives = [f"(?i:{p})" for p in parts]
    if 0 < value < 4000:
        alternatives.append(rf"\b{_roman(value)}\b")  # capitals only: "mix" is no number
    return re.compile("|".join(alternatives))
