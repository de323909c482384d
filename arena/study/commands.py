"""What ``arena study check|export|withdraw`` do."""
from __future__ import annotations

import argparse

import pandas as pd


def check(path: str, participants: int) -> int:
    from arena.study import assign
    from arena.study.spec import load_study

    study = load_study(path)
    print(f"study {study.id!r} ({study.kind}, {study.design}): {study.slots} counted "
          f"{'matches' if study.kind == 'negotiate' else 'judgments'} per participant, seed {study.seed}, "
          f"consent version {study.consent_version!r}")
    if study.kind == "judge":
        print(f"judging {study.judge.run}: {study.judge.pairs} pairs, {study.judge.repeats} repeated, "
              f"{study.judge.gold} gold per participant")
        return 0
    rows = [{"condition": c.id, "opponent": c.agent.display_name, "backend": c.agent.resolved_backend.kind,
             "domain": c.domain, "participant role": c.role, "scenarios": ", ".join(c.scenarios)}
            for c in study.conditions]
    print(pd.DataFrame(rows).to_string(index=False))
    print("\nassignments by order of arrival:")
    for index in range(participants):
        print(f"  participant {index}: " + "; ".join(f"{s.condition} on {s.scenario}" for s in assign.slots(study, index)))
    return 0


def export(folder: str, out: str | None, with_ids: bool) -> int:
    from arena.study.export import export as write

    counts = write(folder, out, with_ids)
    print(f"wrote {', '.join(f'{name} ({n} rows)' for name, n in counts.items())} as Parquet and CSV, and "
          f"data_dictionary.md/.csv, to {out or f'{folder}/export'}")
    return 0


def withdraw(folder: str, participant: str) -> int:
    from arena.study.withdraw import withdraw as remove

    removed = remove(folder, participant)
    print(f"removed {participant!r}: {removed['events']} events, {removed['matches']} matches, {removed['votes']} votes; "
          f"recorded in {folder}/withdrawals.jsonl under a pseudonym. Exports written before still hold the data: "
          "delete them or export again.")
    return 0


def run_study(args: argparse.Namespace) -> int:
    if args.study_command == "check":
        return check(args.file, args.participants)
    if args.study_command == "export":
        return export(args.folder, args.out, args.with_ids)
    return withdraw(args.folder, args.participant)
