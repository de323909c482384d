"""Judging results: paired comparisons, Bradley-Terry with bootstrap intervals, Elo, metrics and plots.

Takes a table of matches (the columns of ``matches.parquet``) and imports nothing else of eq-arena.
"""
from __future__ import annotations

from leaderboards.agreement import VoteRules, agreement_note, drop_reasons, rater_agreement, vote_quality
from leaderboards.battles import VIEWS, abandoned, agreed, battles, errored, head_to_head, same_role, usable
from leaderboards.bradley_terry import BTResult, fit_bradley_terry, interval_ranks
from leaderboards.compare import METRICS, baseline_pairs, compare, holm, paired_units
from leaderboards.elo import online_elo
from leaderboards.metrics import metrics_table
from leaderboards.people import agent_matches, people_table, played_by_people
from leaderboards.ratings import METHODS, SCOPES, assumption_note, leaderboard, role_link_note
from leaderboards.report import write_report
from leaderboards.votes import CRITERIA, vote_battles, vote_leaderboard

GROUPINGS = SCOPES


def __getattr__(name: str):
    if name == "plots":  # matplotlib is imported only when a plot is drawn
        import importlib

        return importlib.import_module("leaderboards.plots")
    raise AttributeError(f"module 'leaderboards' has no attribute {name!r}")

__all__ = ["BTResult", "CRITERIA", "GROUPINGS", "METHODS", "METRICS", "SCOPES", "VIEWS", "VoteRules", "abandoned", "agent_matches", "agreed", "agreement_note", "assumption_note", "baseline_pairs",
           "battles", "compare", "drop_reasons", "errored", "fit_bradley_terry", "head_to_head", "holm", "interval_ranks", "leaderboard",
           "metrics_table", "online_elo", "paired_units", "people_table", "played_by_people", "plots", "rater_agreement", "role_link_note", "same_role", "usable",
           "vote_battles", "vote_leaderboard", "vote_quality", "write_report"]
