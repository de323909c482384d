"""EQ-Negotiator behaves as its papers say: the published best responses, the HMM gate with a
belief-dependent choice, bounded payoff learning, fixed disposition labels, and the v1 variant. The
published constants and rules, lose-shift included, are pinned in test_eq_published*.py."""
from __future__ import annotations

import numpy as np
import pytest

from agents import AgentSpec, make_agent
from agents.builtin.eq_negotiator_v1 import EQNegotiatorV1
from envs import COUNTERPART, EKMAN_7, FOCAL, load_scenarios
from eq_helpers import AGREED, BROKE, evidence as _evidence, feed as _feed, make as _agent
from helpers import play_pair

PUBLISHED = {"joy": "joy", "sadness": "sadness", "anger": "surprise", "fear": "neutral", "surprise": "surprise",
             "disgust": "joy", "neutral": "joy"}


@pytest.mark.parametrize("sensed,expected", sorted(PUBLISHED.items()))
def test_best_response_to_each_sensed_emotion_is_the_published_one(sensed, expected):
    agent = _agent()
    assert EKMAN_7[agent.best_response(EKMAN_7.index(sensed))] == expected


def test_opening_answers_neutral_and_a_different_sensed_emotion_changes_the_choice():
    assert _feed(_agent(), [])[0] == "joy"  # neutral -> joy, the published first turn
    choices = {label: _feed(_agent(), [label])[-1] for label in EKMAN_7}
    assert len(set(choices.values())) >= 3
    assert choices["anger"] != choices["joy"]


def test_a_run_of_angry_messages_opens_the_gate_and_leads_to_a_non_neutral_choice():
    agent = _agent()
    chosen = _feed(agent, ["anger"] * 6)
    assert agent.gate_open()
    assert chosen[-1] != "neutral" and chosen[-2] != "neutral"
    # the HMM-guided choice depends on the belief: distress and confrontation get different answers
    angry, sad = _agent(), _agent()
    _feed(angry, ["anger"] * 6), _feed(sad, ["sadness", "fear"] * 3)
    assert angry.gate_open() and sad.gate_open()
    assert int(np.argmax(angry.hmm_scores())) != int(np.argmax(sad.hmm_scores()))


def test_beliefs_depend_on_the_sensed_emotion():
    beliefs = {}
    for label in EKMAN_7:
        agent = _agent()
        agent.hmm.update(_evidence(label))
        beliefs[label] = agent.hmm.belief.copy()
    assert len({tuple(np.round(b, 6)) for b in beliefs.values()}) >= 5
    states = _agent().hmm.states
    assert states[int(np.argmax(beliefs["anger"]))] == "confrontational"
    assert states[int(np.argmax(beliefs["sadness"]))] == "distressed"


def test_payoff_learning_is_the_published_step_and_stays_within_the_bound():
    agent = _agent()
    _feed(agent, ["sadness"] * 3)
    before = agent.payoff.copy()
    agent.on_outcome(AGREED)
    changed = np.argwhere(agent.payoff != before)
    assert len(changed) >= 1 and np.allclose((agent.payoff - before)[tuple(changed.T)] > 0, True)
    # one step of 0.05 per turn: three (sadness, sadness) turns and the opening (neutral, joy)
    assert agent.payoff[EKMAN_7.index("sadness"), EKMAN_7.index("sadness")] == pytest.approx(3.0 + 3 * 0.05)
    assert agent.payoff[EKMAN_7.index("neutral"), EKMAN_7.index("joy")] == pytest.approx(3.0 + 0.05)
    for _ in range(200):  # many agreements, then many breakdowns: entries stay within [0, 4]
        agent.pairs = [(1, 1), (2, 4)]
        agent.on_outcome(AGREED)
    assert agent.payoff.max() <= 4.0
    for _ in range(400):
        agent.pairs = [(1, 1)]
        agent.on_outcome(BROKE)
    assert agent.payoff.min() >= 0.0 and agent.payoff[1, 1] == 0.0


def test_disposition_labels_keep_their_meaning_across_refits():
    scenarios = load_scenarios("credit", "train")[:12]
    agents = {FOCAL: make_agent(AgentSpec("eq-negotiator")), COUNTERPART: make_agent(AgentSpec("victim"))}
    emission, transition = agents[FOCAL].hmm.emission.copy(), agents[FOCAL].hmm.transition.copy()
    for scenario in scenarios:
        play_pair(AgentSpec("eq-negotiator"), AgentSpec("victim"), scenario, agents=agents)
    hmm = agents[FOCAL].hmm
    assert not np.allclose(transition, hmm.transition)  # re-estimated ...
    np.testing.assert_array_equal(emission, hmm.emission)  # ... with the emissions fixed
    cooperative = hmm.states.index("cooperative")
    assert EKMAN_7[int(np.argmax(hmm.emission[cooperative]))] in ("joy", "neutral")


def test_stance_is_an_explicit_parameter_off_by_default():
    plain, stanced = _agent(), _agent(stance_weight=1.0)
    assert not plain.stance.any() and stanced.stance.any()
    _feed(plain, ["sadness"] * 6), _feed(stanced, ["sadness"] * 6)
    assert not np.allclose(plain.hmm_scores(), stanced.hmm_scores())


def test_v1_answers_persistent_negativity_with_measured_anger():
    agent = _agent(EQNegotiatorV1)
    chosen = _feed(agent, ["anger"] * 7)
    assert chosen[-3:] == ["anger"] * 3
    assert chosen[1] in ("surprise", "neutral")  # before the gate: the payoff best response (ties at random)
    calm = _feed(_agent(EQNegotiatorV1), ["joy"] * 7)
    assert "anger" not in calm and calm[-1] == "joy"
    # the published per-turn counting locks onto its own first pick instead
    locked = _feed(_agent(EQNegotiatorV1, update_timing="turn"), ["anger"] * 7)
    assert locked[-1] != "anger"
