"""How numbers, tables and states read on the pages: no "nan", no "-0.000", whole values as whole numbers."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd
from markupsafe import Markup

STATES = {"starting": "starting", "waiting": "the other side is thinking", "your_turn": "your move", "over": "over"}
# Digits per column of the tables the pages show (others: the table's default).
DIGITS = {"rating": 1, "lower": 1, "upper": 1, "agreement_rate": 3, "difference": 3, "person_utility": 3,
          "agent_utility": 3, "person_agreement": 3, "agent_agreement": 3}


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def num(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals ("" when missing; never "-0.000")."""
    if missing(value):
        return ""
    return f"{round(float(value), digits) + 0.0:.{digits}f}"


def whole(value: Any) -> str:
    """A value of a whole-number issue (days, minutes) as a whole number ("" when missing)."""
    return "" if missing(value) else str(int(round(float(value))))


def state_words(state: str) -> str:
    return STATES.get(state, state)


def html_table(frame: pd.DataFrame, digits: int = 3) -> Markup:
    """A DataFrame as an escaped HTML table in a box that scrolls sideways on a narrow screen; floats
    rounded per column (see DIGITS), whole-number floats shown whole."""
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            places = DIGITS.get(column, digits)
            shown[column] = shown[column].map(lambda x, p=places: num(x, p) if not missing(x) else "")
    table = shown.to_html(index=False, classes="data", border=0, na_rep="", escape=True)
    return Markup(f'<div class="scroll">{table}</div>')


def paragraphs(text: str) -> list[str]:
    """A study file's text as paragraphs (separated by blank lines), to be shown escaped."""
    return [part.strip() for part in text.replace("\r\n", "\n").split("\n\n") if part.strip()]


def install(app) -> None:
    """Register the filters on a Flask app."""
    app.jinja_env.filters.update(table=html_table, num=num, whole=whole, state_words=state_words, paragraphs=paragraphs)
