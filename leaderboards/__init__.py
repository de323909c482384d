"""Judging results: paired comparisons, Bradley-Terry with bootstrap intervals, Elo, metrics and plots.

Takes a table of matches (the columns of ``matches.parquet``) and imports nothing else of eq-arena.
"""
from __future__ import annotations

from leaderboards.agreement import VoteRules, agreement_note, drop_reasons, rater_agreement, vote_quality
from leaderboards.basis import BASIS_COLUMNS, LABEL_COLUMNS, Basis, basis_caption, run_basis
from leaderboards.battles import VIEWS, abandoned, agreed, battles, errored, head_to_head, same_role, usable
from leaderboards.bradley_terry import BTResult, fit_bradley_terry, interval_ranks
from leaderboards.compare import METRICS, baseline_pairs, compare, holm, paired_units
from leaderboards.elo import online_elo
from leaderboards.export import FORMATS, no_negative_zero, render_table
from leaderboards.health import (FALLBACK_WARN, clean_reason, error_reasons, fallback_share, fallback_warning,
                                 reason_counts, with_fallback_share)
from leaderboards.metrics import metrics_table
from leaderboards.people import agent_matches, people_table, played_by_people
from leaderboards.ratings import METHODS, SCOPES, assumption_note, leaderboard, role_link_note
from leaderboards.report import write_report
from leaderboards.traffic import served_traffic
from leaderboards.votes import CRITERIA, vote_battles, vote_leaderboard

GROUPINGS = SCOPES


def __getattr__(name: str):
    if name == "plots":  # matplotlib is imported only when a plot is drawn
        import importlib

        return importlib.import_module("leaderboards.plots")
    raise AttributeError(f"module 'leaderboards' has no attribute {name!r}")

__all__ = ["BASIS_COLUMNS", "BTResult", "Basis", "CRITERIA", "FALLBACK_WARN", "FORMATS", "GROUPINGS",
           "LABEL_COLUMNS", "METHODS", "METRICS", "SCOPES", "VIEWS", "VoteRules", "abandoned", "agent_matches",
           "agreed", "agreement_note", "assumption_note", "baseline_pairs", "basis_caption", "battles",
           "clean_reason", "compare", "drop_reasons", "error_reasons", "errored", "fallback_share",
           "fallback_warning", "fit_bradley_terry", "head_to_head", "holm", "interval_ranks", "leaderboard",
           "metrics_table", "no_negative_zero", "online_elo", "paired_units", "people_table", "played_by_people",
           "plots", "rater_agreement", "reason_counts", "render_table", "role_link_note", "run_basis", "same_role",
           "served_traffic", "usable", "vote_battles", "vote_leaderboard", "vote_quality", "with_fallback_share",
           "write_report"]
