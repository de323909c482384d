"""``arena study export``: one table per kind (participants, matches with transcripts, moves,
questionnaire answers, checks, votes, emotion labels, timings), each as Parquet and CSV, with a data
dictionary. Participant ids are pseudonyms unless asked for (``--with-ids``)."""
from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import pandas as pd

import leaderboards
from arena.study.data import StudyData
from arena.study.store import pseudonym, salt_of

TABLES = ("participants", "matches", "moves", "answers", "checks", "votes", "labels", "timings")


def dictionary() -> dict[str, dict[str, str]]:
    return tomllib.loads(resources.files("arena.study").joinpath("data/dictionary.toml").read_text(encoding="utf-8"))


def _status(steps: dict[str, dict], stopped: bool, attempts: int, max_attempts: int | None) -> str:
    if "complete" in steps:
        return "completed"
    if stopped:
        return "stopped"
    if max_attempts is not None and attempts >= max_attempts and "check" not in steps:
        return "screened out"
    return "in progress"


def participants(data: StudyData, name: Callable[[str], str]) -> pd.DataFrame:
    rows, max_attempts = [], data.settings.get("study", {}).get("max_attempts")
    failed = data.attention_failures()
    for consent in (e for e in data.events if e.get("event") == "consent"):
        pid = consent["participant"]
        mine = [e for e in data.events if e.get("participant") == pid]
        steps = {e["step"]: e for e in mine if e.get("event") == "step"}
        attempts = sum(e.get("event") == "attempt" for e in mine)
        order = [steps[s]["condition"] for s in sorted((s for s in steps if s.startswith("match:")),
                                                       key=lambda s: int(s.split(":")[1]))]
        rows.append({"participant": name(pid), "index": consent["index"],
                     "params": json.dumps({k: name(v) for k, v in consent.get("params", {}).items()}),
                     "consent_version": consent["consent_version"], "consented_at": consent["time"],
                     "conditions": ";".join(order),
                     "status": _status(steps, any(e.get("event") == "stop" for e in mine), attempts, max_attempts),
                     "comprehension_attempts": attempts, "attention_failed": len(failed.get(pid, [])),
                     "finished_at": steps.get("complete", {}).get("finished")})
    return pd.DataFrame(rows, columns=list(dictionary()["participants"])[1:])


def matches(data: StudyData, name: Callable[[str], str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, moves = [], []
    for record in data.matches:
        pid = record.get("participant") or record.get("person")
        row = {k: v for k, v in record.items() if k != "transcript"} | {
            "participant": name(pid), "person": name(pid), "session_id": f"people/{name(pid)}",
            "transcript": json.dumps(record["transcript"], ensure_ascii=False)}
        rows.append(row)
        human = "focal" if record.get("focal_backend") == "person" else "counterpart"
        for number, move in enumerate(record["transcript"], 1):
            moves.append({"match_id": record["match_id"], "participant": name(pid), "phase": record.get("phase"),
                          "slot": record.get("slot"), "condition": record.get("condition"), "number": number,
                          "role": move["role"], "by": "participant" if move["role"] == human else "agent",
                          "agent": record.get(f"{move['role']}_agent"), "move": move["move"], "value": move["value"],
                          "emotion": move["emotion"], "sensed": move.get("sensed"), "message": move["message"],
                          "mentions_reservation": move.get("mentions_reservation"), "latency_s": move.get("latency_s")})
    return pd.DataFrame(rows), pd.DataFrame(moves, columns=list(dictionary()["moves"])[1:])


def answers_and_checks(data: StudyData, name: Callable[[str], str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    answers, checks, attempts = [], [], {}
    conditions = {(e["participant"], e["step"].split(":")[1]): e.get("condition") for e in data.steps()
                  if e["step"].startswith("match:")}
    for event in data.events:
        pid = event.get("participant")
        if event.get("event") == "attempt":
            attempts[pid] = attempts.get(pid, 0) + 1
            checks.append({"participant": name(pid), "check": "comprehension", "attempt": attempts[pid],
                           "passed": not event["wrong"], "detail": ";".join(event["wrong"])})
        if event.get("event") != "step" or "questionnaire" not in event:
            continue
        attention = event.get("attention") or {}
        for item, answer in event["answers"].items():
            answers.append({"participant": name(pid), "questionnaire": event["questionnaire"], "slot": event["slot"],
                            "condition": conditions.get((pid, str(event["slot"]))), "item": item,
                            "kind": "attention" if item in attention else None, "answer": answer,
                            "attention_passed": attention.get(item), "consent_version": event.get("consent_version")})
            if item in attention:
                checks.append({"participant": name(pid), "check": f"attention:{item}", "attempt": None,
                               "passed": attention[item], "detail": event["questionnaire"]})
    return (pd.DataFrame(answers, columns=list(dictionary()["answers"])[1:]),
            pd.DataFrame(checks, columns=list(dictionary()["checks"])[1:]))


def _kinds(data: StudyData) -> dict[tuple[str, str], str]:
    """(questionnaire, item) -> the item's kind, from the study file."""
    return {(q["id"], item["id"]): item["kind"] for q in data.settings.get("questionnaires", [])
            for item in q.get("items", [])}


def votes(data: StudyData, name: Callable[[str], str]) -> pd.DataFrame:
    frame = pd.DataFrame(data.votes)
    if frame.empty:
        return pd.DataFrame(columns=list(dictionary()["votes"])[1:])
    reasons = leaderboards.drop_reasons(frame, data.vote_rules())
    gold = frame["item"] == "gold" if "item" in frame else pd.Series(False, index=frame.index)
    frame = frame.assign(rated=reasons == "", dropped_because=reasons,
                         correct=(frame["outcome"] == frame.get("gold_answer")).where(gold))
    for column in ("participant", "person"):
        if column in frame:
            frame[column] = frame[column].map(lambda v: name(v) if isinstance(v, str) else v)
    return frame


def labels(data: StudyData, name: Callable[[str], str]) -> pd.DataFrame:
    rows = [label | {"participant": name(e["participant"]), "slot": e.get("slot"), "taxonomy": e.get("taxonomy")}
            for e in data.steps() for label in e.get("labels", [])]
    return pd.DataFrame(rows, columns=list(dictionary()["labels"])[1:])


def timings(data: StudyData, name: Callable[[str], str]) -> pd.DataFrame:
    rows = [{"participant": name(e["participant"]), "step": e["step"], "started": e["started"],
             "finished": e["finished"], "seconds": round(e["finished"] - e["started"], 3)} for e in data.steps()]
    return pd.DataFrame(rows, columns=list(dictionary()["timings"])[1:])


def export(folder: str | Path, out: str | Path | None = None, with_ids: bool = False) -> dict[str, int]:
    """Write every table as OUT/TABLE.parquet and OUT/TABLE.csv, and OUT/data_dictionary.{md,csv};
    returns the rows per table."""
    data = StudyData.read(folder)
    out = Path(out) if out else Path(folder) / "export"
    out.mkdir(parents=True, exist_ok=True)
    salt = salt_of(Path(folder))
    name = (lambda pid: pid) if with_ids else (lambda pid: pseudonym(salt, pid) if isinstance(pid, str) else pid)
    match_table, move_table = matches(data, name)
    answer_table, check_table = answers_and_checks(data, name)
    kinds = _kinds(data)
    answer_table["kind"] = [kinds.get((q, i)) for q, i in zip(answer_table["questionnaire"], answer_table["item"])]
    tables = {"participants": participants(data, name), "matches": match_table, "moves": move_table,
              "answers": answer_table, "checks": check_table, "votes": votes(data, name), "labels": labels(data, name),
              "timings": timings(data, name)}
    for table, frame in tables.items():
        frame.to_parquet(out / f"{table}.parquet", index=False)
        frame.to_csv(out / f"{table}.csv", index=False)
    write_dictionary(out, tables, data, with_ids)
    return {table: len(frame) for table, frame in tables.items()}


def _meaning(entries: dict[str, str], column: str) -> str:
    if column in entries:
        return entries[column]
    for role in ("focal", "counterpart"):
        if column.startswith(role + "_") and "{role}" + column[len(role):] in entries:
            return entries["{role}" + column[len(role):]]
        if column.startswith(role + "_"):
            return f"A per-role column of the arena's match table for the {role} role (model use and guard counters)."
    return "A column of the arena's match table (see docs/guides/human-study.md)."


def write_dictionary(out: Path, tables: dict[str, pd.DataFrame], data: StudyData, with_ids: bool) -> None:
    described = dictionary()
    rows: list[dict[str, Any]] = []
    lines = [f"# Data dictionary: study {data.study_id}", "",
             "Participant ids are " + ("the ids from the entry URL." if with_ids else
                                       "pseudonyms (HMAC-SHA256 under the study's secret salt)."), ""]
    for table, frame in tables.items():
        entries = described[table]
        lines += [f"## {table} ({len(frame)} rows)", "", entries["about"], "", "| column | type | meaning |",
                  "|---|---|---|"]
        for column in frame.columns:
            meaning = _meaning(entries, column)
            rows.append({"table": table, "column": column, "type": str(frame[column].dtype), "meaning": meaning})
            lines.append(f"| {column} | {frame[column].dtype} | {meaning} |")
        lines.append("")
    pd.DataFrame(rows).to_csv(out / "data_dictionary.csv", index=False)
    (out / "data_dictionary.md").write_text("\n".join(lines), encoding="utf-8")
