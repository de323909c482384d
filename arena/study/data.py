"""A study folder read back for analysis: its events, matches with transcripts, votes, and the checks
its votes are rated under."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from agents.llm import ConfigError
from arena.judging import VOTES
from arena.storage import load_records, load_transcripts
from arena.study.store import EVENTS, STUDY_COPY, read_lines
from leaderboards.agreement import VoteRules


@dataclass
class StudyData:
    """Everything a study folder holds, as plain rows."""

    folder: Path
    events: list[dict[str, Any]]
    matches: list[dict[str, Any]]  # each record with its "transcript"
    votes: list[dict[str, Any]]
    settings: dict[str, Any]  # the study file as the folder keeps it

    @classmethod
    def read(cls, folder: str | Path) -> "StudyData":
        folder = Path(folder)
        if not (folder / STUDY_COPY).is_file():
            raise ConfigError(f"{folder} is not a study folder (no {STUDY_COPY}); arena serve --study FILE --out DIR "
                              "makes one")
        settings = tomllib.loads((folder / STUDY_COPY).read_text(encoding="utf-8"))
        return cls(folder, list(read_lines(folder / EVENTS)), _matches(folder), list(read_lines(folder / VOTES)),
                   settings)

    @property
    def study_id(self) -> str:
        return str(self.settings.get("study", {}).get("id", self.folder.name))

    def steps(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == "step"]

    def attention_failures(self) -> dict[str, list[str]]:
        """Participant -> the attention items they answered other than instructed."""
        failed: dict[str, list[str]] = {}
        for event in self.steps():
            for item, ok in (event.get("attention") or {}).items():
                if not ok:
                    failed.setdefault(event["participant"], []).append(item)
        return failed

    def vote_rules(self) -> VoteRules:
        """The study's [checks], with the raters its attention items exclude."""
        checks = self.settings.get("checks", {})
        excluded = {}
        if checks.get("attention", True):
            excluded = {pid: "failed an attention item" for pid in self.attention_failures()}
        return VoteRules(float(checks.get("min_gold_accuracy", 1.0)), float(checks.get("max_repeat_flips", 0.5)),
                         float(checks.get("min_seconds", 0.0)), excluded)


def _matches(folder: Path) -> list[dict[str, Any]]:
    """The study's matches, each record with its transcript (the log while it is served, the archive
    once the server has stopped)."""
    records = load_records(folder)
    transcripts = load_transcripts(folder) if records else {}
    return [record | {"transcript": transcripts.get(mid, [])} for mid, record in records.items()]


def vote_rules_for(votes_file: Path) -> VoteRules | None:
    """The checks of the study whose folder holds ``votes_file`` (None for votes outside a study)."""
    folder = votes_file.parent if votes_file.name == VOTES else votes_file
    if not (folder / STUDY_COPY).is_file():
        return None
    return StudyData.read(folder).vote_rules()

