"""A study's durable record: one folder holding the study file it runs, an append-only event log
(consent, every finished step with its times and answers), the matches (a run directory: the same
folder), the votes, and the withdrawals. Each participant's progress is rebuilt from the log, so a
returning participant, or a restarted server, resumes where they left off."""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from agents.llm import ConfigError
from arena.study import assign
from arena.study.spec import StudySpec

EVENTS = "events.jsonl"
STUDY_COPY = "study.toml"
SALT = "salt.txt"
WITHDRAWALS = "withdrawals.jsonl"
ID_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


@dataclass
class Participant:
    """One participant's place in the study (rebuilt from the events; times of first views kept in memory)."""

    id: str
    index: int
    params: dict[str, str]
    consent_version: str
    consented: float
    done: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> its event
    attempts: int = 0
    stopped: bool = False
    entered: dict[str, float] = field(default_factory=dict)
    match_attempts: dict[str, int] = field(default_factory=dict)

    def started(self, step: str) -> float:
        """When this step's page was first shown (now, if this is the first time)."""
        return self.entered.setdefault(step, time.time())


def plan(study: StudySpec) -> list[str]:
    """Every step of a participant's way through the study, in order."""
    steps = ["instructions"]
    if study.practice is not None and study.kind == "negotiate":
        steps.append("practice")
    if study.comprehension:
        steps.append("check")
    after = [q.id for q in study.questionnaires if q.when == "after_match"]
    item = "match" if study.kind == "negotiate" else "vote"
    for slot in range(study.slots):
        steps.append(f"{item}:{slot}")
        if study.kind == "negotiate":
            steps += [f"q:{qid}:{slot}" for qid in after]
        if study.labels is not None:
            steps.append(f"labels:{slot}")
    steps += [f"q:{q.id}:end" for q in study.questionnaires if q.when == "end"]
    return steps + ["complete"]


def append_line(path: Path, entry: dict[str, Any]) -> None:
    """One JSON line appended and made durable before returning (one writer at a time)."""
    with open(path, "a", encoding="utf-8") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        log.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        log.flush()
        os.fsync(log.fileno())


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The complete JSON lines of a log (a line cut short by a kill is skipped)."""
    if not path.is_file():
        return
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def salt_of(folder: Path) -> bytes:
    """The study's secret salt for pseudonymous ids (made once, kept in the folder)."""
    path = folder / SALT
    if not path.is_file():
        path.write_text(secrets.token_hex(32), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip().encode()


def pseudonym(salt: bytes, participant: str) -> str:
    """A participant id that cannot be turned back into the recruitment id without the study's salt."""
    return hmac.new(salt, participant.encode(), hashlib.sha256).hexdigest()[:16]


class StudyStore:
    """The folder of one study and its participants (thread-safe; one server at a time)."""

    def __init__(self, folder: str | Path, study: StudySpec):
        self.folder, self.study = Path(folder), study
        self.folder.mkdir(parents=True, exist_ok=True)
        self._check_design()
        self.salt = salt_of(self.folder)
        self.lock = threading.RLock()
        self.steps = plan(study)
        self.participants: dict[str, Participant] = {}
        self.withdrawn = {entry["participant_hash"] for entry in read_lines(self.folder / WITHDRAWALS)}
        self.next_index = 1 + max((e.get("index", -1) for e in read_lines(self.folder / WITHDRAWALS)), default=-1)
        for event in read_lines(self.folder / EVENTS):
            self._apply(event)

    def _check_design(self) -> None:
        copy = self.folder / STUDY_COPY
        marker = f"# arena study design {self.study.digest}\n"
        if copy.is_file():
            first = copy.read_text(encoding="utf-8").split("\n", 1)[0] + "\n"
            if first != marker:
                raise ConfigError(f"{self.folder} holds a study with another design (conditions, order, matches or "
                                  "seed); give this study file its own --out folder")
        copy.write_text(marker + self.study.text, encoding="utf-8")  # the newest wording, for the record

    def _apply(self, event: dict[str, Any]) -> None:
        kind, pid = event.get("event"), event.get("participant")
        if kind == "consent":
            self.participants[pid] = Participant(pid, event["index"], event.get("params", {}),
                                                 event["consent_version"], event["time"])
            self.next_index = max(self.next_index, event["index"] + 1)
            return
        p = self.participants.get(pid)
        if p is None:
            return
        if kind == "step":
            p.done[event["step"]] = event
        elif kind == "attempt":
            p.attempts += 1
        elif kind == "stop":
            p.stopped = True
        elif kind == "match" and event.get("ended_by") == "abandoned":
            p.match_attempts[event["step"]] = p.match_attempts.get(event["step"], 0) + 1

    def log(self, event: dict[str, Any]) -> dict[str, Any]:
        """Append an event (study id and time added) and apply it."""
        event = {"study": self.study.id, "time": time.time()} | event
        with self.lock:
            append_line(self.folder / EVENTS, event)
            self._apply(event)
        return event

    def is_withdrawn(self, participant: str) -> bool:
        return pseudonym(self.salt, participant) in self.withdrawn

    def get(self, participant: str) -> Participant | None:
        return self.participants.get(participant)

    def enrol(self, participant: str, params: dict[str, str]) -> Participant:
        """Record consent and assign the next arrival index (the balanced assignment follows from it)."""
        with self.lock:
            known = self.participants.get(participant)
            if known is not None:
                return known
            self.log({"event": "consent", "participant": participant, "index": self.next_index, "params": params,
                      "consent_version": self.study.consent_version, "design": self.study.digest})
            return self.participants[participant]

    def slots(self, p: Participant) -> list[assign.Slot]:
        return assign.slots(self.study, p.index)

    def next_step(self, p: Participant) -> str:
        if p.stopped:
            return "stopped"
        return next((step for step in self.steps if step not in p.done), "complete")

    def complete(self, p: Participant, step: str, **data: Any) -> None:
        """Mark ``step`` done (once) with its data and the times it was shown and finished."""
        with self.lock:
            if step in p.done:
                return
            self.log({"event": "step", "participant": p.id, "step": step, "started": p.started(step),
                      "finished": time.time(), "consent_version": p.consent_version} | data)

    def attempt(self, p: Participant, answers: dict[str, str], wrong: list[str]) -> None:
        self.log({"event": "attempt", "participant": p.id, "step": "check", "answers": answers, "wrong": wrong,
                  "started": p.started("check")})
        if not wrong:
            self.complete(p, "check", attempts=p.attempts)

    def screened_out(self, p: Participant) -> bool:
        return self.study.max_attempts is not None and p.attempts >= self.study.max_attempts and "check" not in p.done

    def stop(self, p: Participant) -> None:
        self.log({"event": "stop", "participant": p.id, "step": self.next_step(p)})
