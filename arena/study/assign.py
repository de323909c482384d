"""Who meets what, in which order: balanced, seeded assignment by order of arrival.

Within a study (``design = "within"``) participant *i* plays the first ``matches`` conditions of one
row of a Williams design (every condition equally often in every position, and each condition
followed by every other equally often); rows are handed out in blocks, the rows of each block in an
order drawn from the study's seed, so after each complete block every condition has been filled
equally. Between participants (``design = "between"``) each participant stays in one condition, the
conditions handed out in permuted blocks. Scenarios go round block by block (see ``slots``). Everything
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


def block_size(study: StudySpec) -> int:
    """Participants per block: the rows of the Williams design (within), the conditions (between)."""
    n = len(study.conditions)
    return n if study.design == "between" else len(williams(n))


def condition_order(study: StudySpec, index: int) -> list[int]:
    """The indices of the conditions participant ``index`` meets, in order (one per counted match)."""
    block, position = divmod(index, block_size(study))
    order = _block_order(study.seed, block, block_size(study))
    if study.design == "between":
        return [order[position]] * study.matches
    return williams(len(study.conditions))[order[position]][: study.matches]


def slots(study: StudySpec, index: int) -> list[Slot]:
    """Participant ``index``'s counted matches: the conditions in order, the j-th on scenario number
    ``(block * matches + j) mod S`` of its condition's S scenarios. Everyone in a block plays the same
    scenarios in the same positions, and a block puts every condition in every position equally often,
    so each complete block gives every condition each of its scenarios equally often; the next block
    moves on to the next scenarios. A participant meets a scenario twice only if S < matches."""
    block = index // block_size(study)
    out = []
    for position, c in enumerate(condition_order(study, index)):
        condition = study.conditions[c]
        turn = (block * study.matches + position) % len(condition.scenarios)
        out.append(Slot(position, condition.id, condition.scenarios[turn]))
    return out
