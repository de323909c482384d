"""Who meets what, in which order: balanced, seeded assignment by order of arrival.

Within a study (``design = "within"``) participant *i* plays the first ``matches`` conditions of one
row of a Williams design (every condition equally often in every position, and each condition
followed by every other equally often); rows are handed out in blocks, the rows of each block in an
order drawn from the study's seed, so after each complete block every condition has been filled
equally. Between participants (``design = "between"``) each participant stays in one condition, the
conditions handed out in permuted blocks. A condition's scenarios are used in turn. Everything
follows from the seed and the arrival index, both recorded with the participant.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arena.schedule import derive_seed
from arena.study.spec import StudySpec


@dataclass(frozen=True)
class Slot:
    """One counted match of a participant: its position, the condition and the scenario."""

    index: int
    condition: str
    scenario: str


def williams(n: int) -> list[list[int]]:
    """A Williams design for ``n`` treatments: n rows (n even) or 2n rows (n odd), each a sequence in
    which every treatment appears once; over the rows every treatment appears equally often in every
    position and immediately follows every other treatment equally often."""
    if n == 1:
        return [[0]]
    first = [0]
    low, high = 1, n - 1
    for k in range(1, n):
        if k % 2:
            first.append(low)
            low += 1
        else:
            first.append(high)
            high -= 1
    rows = [[(x + r) % n for x in first] for r in range(n)]
    if n % 2:
        rows += [row[::-1] for row in rows]
    return rows


def _block_order(seed: int, block: int, size: int) -> list[int]:
    """The order in which block ``block`` hands out its ``size`` rows (drawn from the seed)."""
    return list(np.random.default_rng(derive_seed(seed, "assignment-block", block)).permutation(size))


def condition_order(study: StudySpec, index: int) -> list[int]:
    """The indices of the conditions participant ``index`` meets, in order (one per counted match)."""
    n = len(study.conditions)
    if study.design == "between":
        block, position = divmod(index, n)
        return [_block_order(study.seed, block, n)[position]] * study.matches
    rows = williams(n)
    block, position = divmod(index, len(rows))
    return rows[_block_order(study.seed, block, len(rows))[position]][: study.matches]


def slots(study: StudySpec, index: int) -> list[Slot]:
    """Participant ``index``'s counted matches: conditions in order, each condition's scenarios in turn
    (a condition's k-th match over all participants, by arrival, plays its scenario k mod their number)."""
    used = [0] * len(study.conditions)
    for earlier in range(index):
        for c in condition_order(study, earlier):
            used[c] += 1
    out = []
    for position, c in enumerate(condition_order(study, index)):
        condition = study.conditions[c]
        out.append(Slot(position, condition.id, condition.scenarios[used[c] % len(condition.scenarios)]))
        used[c] += 1
    return out
