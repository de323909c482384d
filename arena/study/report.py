"""The researcher's overview of a running study: where each participant is and how full each condition is."""
from __future__ import annotations

import time
from typing import Any

import pandas as pd

from arena.study.store import Participant, StudyStore, pseudonym


def _status(store: StudyStore, p: Participant) -> str:
    step = store.next_step(p)
    if step == "stopped":
        return "stopped"
    if "complete" in p.done:
        return "completed"
    if store.screened_out(p):
        return "screened out"
    return f"at {step}"


def attention_failures(p: Participant) -> list[str]:
    """The attention items a participant answered other than instructed."""
    return [item for event in p.done.values() for item, ok in (event.get("attention") or {}).items() if not ok]


def overview(store: StudyStore) -> dict[str, Any]:
    """Counts and one row per participant (pseudonymous ids) for the researcher's page."""
    study = store.study
    rows = []
    for p in sorted(store.participants.values(), key=lambda p: p.index):
        counted = [s for s in p.done if s.startswith(("match:", "vote:"))]
        rows.append({"participant": pseudonym(store.salt, p.id), "index": p.index, "status": _status(store, p),
                     "counted done": f"{len(counted)} of {study.slots}", "steps done": len(p.done),
                     "attention failed": len(attention_failures(p)), "comprehension attempts": p.attempts,
                     "consented": time.strftime("%Y-%m-%d %H:%M", time.localtime(p.consented))})
    table = pd.DataFrame(rows, columns=["participant", "index", "status", "counted done", "steps done",
                                        "attention failed", "comprehension attempts", "consented"])
    conditions = []
    for condition in study.conditions:
        assigned = finished = 0
        for p in store.participants.values():
            for slot in store.slots(p):
                if slot.condition == condition.id:
                    assigned += 1
                    finished += f"match:{slot.index}" in p.done
        conditions.append({"condition": condition.id, "opponent": condition.agent.display_name,
                           "backend": condition.agent.resolved_backend.kind, "domain": condition.domain,
                           "participant role": condition.role, "matches assigned": assigned, "matches finished": finished})
    counts = table["status"].map(lambda s: s if not s.startswith("at ") else "in progress").value_counts().to_dict()
    return {"participants": table, "conditions": pd.DataFrame(conditions), "counts": counts, "folder": store.folder.name}
