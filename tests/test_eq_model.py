"""EQ-Negotiator's disposition HMM: the forward filter's evidence, when it re-estimates, and how.

These are this project's documented choices (README "EQ-Negotiator in detail",
docs/papers/eq-negotiator.md), not the paper's: the published filter let the sensed emotion cancel.
"""
from __future__ import annotations

import numpy as np
import pytest
from hmmlearn import hmm as hmmlearn

from agents import AgentSpec, make_agent
from agents.eq_model import DispositionHMM
from agents.texts import load_data
from envs import EKMAN_7

CFG = load_data("eq_negotiator.toml")


def test_the_documented_refit_settings():
    assert CFG["states"] == ["cooperative", "confrontational", "distressed", "deceptive"]
    assert (CFG["prior_weight"], CFG["min_sequences_to_refit"], CFG["min_observations_to_refit"],
            CFG["max_sequences_kept"]) == (0.2, 3, 80, 50)
    for table in ("transition", "emission"):
        np.testing.assert_allclose(np.sum(CFG[table], axis=1), 1.0)


def test_labels_missing_from_the_sensed_distribution_count_as_zero():
    partial, full = DispositionHMM(), DispositionHMM()
    partial.update({"anger": 0.6, "disgust": 0.4})
    full.update({e: {"anger": 0.6, "disgust": 0.4}.get(e, 0.0) for e in EKMAN_7})
    np.testing.assert_allclose(partial.belief, full.belief)
    assert partial.observed == [EKMAN_7.index("anger")]


def _ended(hmm: DispositionHMM, lengths: list[int], seed: int = 3) -> list[list[int]]:
    """End one negotiation per length, each with a random sensed sequence; returns the sequences."""
    rng = np.random.default_rng(seed)
    sequences = [[int(x) for x in rng.integers(0, len(EKMAN_7), n)] for n in lengths]
    for sequence in sequences:
        hmm.observed = list(sequence)
        hmm.end_negotiation()
    return sequences


def test_sequences_shorter_than_two_are_not_kept():
    hmm = DispositionHMM()
    _ended(hmm, [1, 2])
    assert [len(s) for s in hmm.sequences] == [2]
    assert hmm.observed == [] and np.array_equal(hmm.belief, hmm.start)  # reset for the next negotiation


@pytest.mark.parametrize("lengths,refits", [([40, 40], False), ([30, 30, 19], False), ([30, 30, 20], True),
                                            ([40, 40, 1], False)])
def test_a_refit_needs_three_sequences_and_eighty_observations(lengths, refits):
    hmm = DispositionHMM()
    _ended(hmm, lengths)
    assert (not np.allclose(hmm.transition, hmm.prior["transition"])) == refits


def test_only_the_last_fifty_sequences_are_kept():
    hmm = DispositionHMM()
    hmm.min_observations = 10**6  # no re-fits: only the bookkeeping is under test
    sequences = _ended(hmm, [2] * 52)
    assert hmm.sequences == sequences[-50:]


def test_the_refit_reestimates_start_and_transition_with_fixed_emissions_and_blends_the_prior():
    hmm = DispositionHMM()
    sequences = _ended(hmm, [30, 25, 35])
    reference = hmmlearn.CategoricalHMM(n_components=4, n_features=len(EKMAN_7), n_iter=10, init_params="",
                                        params="st")
    reference.startprob_, reference.transmat_ = hmm.prior["start"], hmm.prior["transition"]
    reference.emissionprob_ = hmm.prior["emission"]
    reference.fit(np.concatenate(sequences).reshape(-1, 1), [len(s) for s in sequences])
    np.testing.assert_allclose(hmm.transition, 0.8 * reference.transmat_ + 0.2 * hmm.prior["transition"])
    np.testing.assert_allclose(hmm.start, 0.8 * reference.startprob_ + 0.2 * hmm.prior["start"])
    np.testing.assert_array_equal(hmm.emission, hmm.prior["emission"])


def test_a_refit_works_when_some_emotion_was_never_sensed():
    hmm = DispositionHMM()
    rng = np.random.default_rng(0)
    for _ in range(3):  # never neutral, the last label
        hmm.observed = [int(x) for x in rng.integers(0, len(EKMAN_7) - 1, 30)]
        hmm.end_negotiation()
    assert not np.allclose(hmm.transition, hmm.prior["transition"])


def test_the_seed_parameter_reaches_the_model():
    assert make_agent(AgentSpec("eq-negotiator", {"seed": 5})).hmm.seed == 5
    assert make_agent(AgentSpec("eq-negotiator")).hmm.seed == 0 and DispositionHMM().seed == 0
