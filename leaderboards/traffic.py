"""What served models did for a run, from the match table: requests, tokens, rate-limit waits and
the share of prompt tokens the servers reused from their prefix caches."""
from __future__ import annotations

import pandas as pd

ROLES = ("focal", "counterpart")


def _column(frame: pd.DataFrame, role: str, name: str) -> pd.Series:
    key = f"{role}_{name}"
    return frame[key] if key in frame else pd.Series(0, index=frame.index)


def served_traffic(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per backend and model that made requests: requests, prompt and completion tokens,
    re-sends, rate-limit waits and the cache-hit share (cached prompt tokens over the prompt tokens
    of matches whose server reported its cache use; NaN where none did)."""
    rows = []
    for role in ROLES:
        part = pd.DataFrame({
            "backend": frame.get(f"{role}_backend", "scripted"), "model": frame.get(f"{role}_model", ""),
            "requests": _column(frame, role, "requests"), "prompt_tokens": _column(frame, role, "prompt_tokens"),
            "completion_tokens": _column(frame, role, "completion_tokens"),
            "transport_retries": _column(frame, role, "transport_retries"),
            "rate_limited": _column(frame, role, "rate_limited"),
            "cached_tokens": pd.to_numeric(_column(frame, role, "cached_tokens"), errors="coerce")})
        part["reported_prompt_tokens"] = part["prompt_tokens"].where(part["cached_tokens"].notna(), 0)
        rows.append(part)
    both = pd.concat(rows, ignore_index=True)
    both = both[both["requests"].fillna(0) > 0]
    if both.empty:
        return pd.DataFrame(columns=["backend", "model", "requests", "prompt_tokens", "completion_tokens",
                                     "transport_retries", "rate_limited", "cache_hit_share"])
    table = both.groupby(["backend", "model"], as_index=False).sum(numeric_only=True)
    table["cache_hit_share"] = (table["cached_tokens"] / table["reported_prompt_tokens"]).where(
        table["reported_prompt_tokens"] > 0)
    return table.drop(columns=["cached_tokens", "reported_prompt_tokens"])
