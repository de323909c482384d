"""EQ-Negotiator (arXiv 2511.03370) against its published constants and rules, through the agent.

Every published value below is written out again from the fact sheet
(/work/shared/research/seeds-eq-emodebt.md, section named in each comment), so a change to the
data file or the code that departs from the paper fails here. Choices are checked through
``choose()``, the method ``propose`` calls each turn.
"""
from __future__ import annotations

import numpy as np
import pytest

from agents import AgentSpec, make_agent
from agents.builtin.eq_negotiator import EQNegotiator
from agents.builtin.eq_negotiator_v1 import EQNegotiatorV1
from agents.llm import BackendSpec, make_backend
from agents.sensing import NEGATIVE, LexiconSensor, LLMSensor
from agents.texts import emotion_style, load_data
from envs import EKMAN_7, Action, load_scenarios
from eq_helpers import AGREED, BROKE, evidence, feed, index, make
from helpers import play_pair

CFG = load_data("eq_negotiator.toml")

# §3.1 "Table 5", agent side of each (client, agent) cell; rows = counterpart emotion, cols = own emotion.
TABLE_5_AGENT = [[4, 3, 2, 1, 3, 2, 3], [2, 3, 2, 1, 2, 1, 3], [1, 1, 1, 0, 2, 1, 2], [2, 2, 1, 2, 2, 1, 3],
                 [3, 2, 1, 1, 4, 2, 3], [2, 1, 0, 0, 1, 2, 2], [3, 3, 1, 2, 3, 2, 3]]
# §2.3 emission E ("Table 4b"): agent emotion (row) -> client emotion (column).
TABLE_4B = [[.60, .05, .05, .05, .10, .05, .10], [.05, .50, .20, .10, .05, .05, .05],
            [.05, .20, .50, .10, .05, .05, .05], [.05, .20, .10, .50, .05, .05, .05],
            [.10, .05, .05, .05, .60, .05, .10], [.05, .10, .20, .10, .05, .50, .05],
            [.10, .10, .10, .10, .10, .10, .40]]


def test_the_label_order_and_the_published_tables():
    assert EKMAN_7 == ("joy", "sadness", "anger", "fear", "surprise", "disgust", "neutral")  # §2.1 index order
    np.testing.assert_array_equal(CFG["payoff"], TABLE_5_AGENT)
    np.testing.assert_array_equal(EQNegotiator().payoff, TABLE_5_AGENT)
    np.testing.assert_allclose(CFG["influence"], TABLE_4B)
    np.testing.assert_allclose(CFG["start"], [0.4, 0.2, 0.2, 0.2])  # §2.4 initial belief


def test_the_published_scalar_constants():
    # §2.4 / §3.2: k = 4 negatives within n = 5 turns, WSLS threshold tau = 2.0; §2.4 learning step 0.05
    assert (CFG["gate_window"], CFG["gate_negatives"]) == (5, 4)
    assert CFG["lose_threshold"] == 2.0
    assert CFG["payoff_learning_rate"] == 0.05
    assert CFG["first_input"] == "neutral"  # §2.2: on the first turn the input is "Neutral"
    agent = make()
    assert (agent.gate_window, agent.gate_negatives) == (5, 4)


def test_the_negative_emotions_are_the_published_four():
    assert NEGATIVE == {"sadness", "anger", "fear", "disgust"}  # §2.1; surprise and neutral are not negative


# ---- the gate: the HMM takes over when at least 4 of the last 5 sensed emotions are negative (§2.4)

def test_four_negatives_open_the_gate_and_choose_follows_the_hmm():
    agent = make()
    chosen = feed(agent, ["disgust"] * 4)
    # three disgusts: the best response (disgust -> joy); the fourth opens the gate and the HMM answers surprise
    assert chosen == ["joy", "joy", "joy", "joy", "surprise"]
    assert agent.gate_open()
    assert EKMAN_7[agent.best_response(index("disgust"))] == "joy"  # not what the gate chose


def test_the_window_is_five_sensed_emotions():
    agent = make()
    chosen = feed(agent, ["disgust"] * 4 + ["joy", "surprise"])
    # last five: disgust x3, joy, surprise -> 3 negatives, closed: the best response to surprise
    assert not agent.gate_open() and chosen[-1] == "surprise"
    gates = []
    agent = make()
    for label in ["anger", "joy", "anger", "anger", "anger", "joy", "joy"]:
        agent.choose(evidence(label))
        gates.append(agent.gate_open())
    assert gates == [False, False, False, False, True, False, False]  # window 8 would keep it open


def test_surprise_does_not_count_towards_the_gate():
    agent = make()
    chosen = feed(agent, ["disgust"] * 3 + ["surprise"])
    assert not agent.gate_open() and chosen[-1] == "surprise"  # best response, not the HMM's joy
    assert not make().gate_open()
    agent = make()
    feed(agent, ["surprise", "neutral", "surprise", "neutral", "surprise"])
    assert not agent.gate_open()


# ---- the HMM-guided choice: argmax_e sum_s p(s) sum_j P(j | s, e) payoff(j, e)

def expected_scores(agent) -> np.ndarray:
    """The documented score, written out with loops from the agent's tables and belief."""
    hmm = agent.hmm
    predicted = [sum(hmm.transition[r, s] * hmm.belief[r] for r in range(len(hmm.states))) for s in range(len(hmm.states))]
    scores = np.zeros(len(EKMAN_7))
    for e in range(len(EKMAN_7)):
        for s, p in enumerate(predicted):
            weights = [hmm.emission[s, j] * agent.influence[e, j] for j in range(len(EKMAN_7))]
            scores[e] += p * sum(w / sum(weights) * agent.payoff[j, e] for j, w in enumerate(weights))
    return scores


@pytest.mark.parametrize("labels,expected", [(["disgust"] * 5, "surprise"), (["sadness"] * 5, "joy"),
                                             (["sadness", "fear"] * 3, "neutral"), (["anger"] * 6, "surprise")])
def test_choose_with_the_gate_open_is_the_argmax_of_the_expected_payoff(labels, expected):
    agent = make()
    chosen = feed(agent, labels)
    assert agent.gate_open()
    np.testing.assert_allclose(agent.hmm_scores(), expected_scores(agent), rtol=1e-9)
    assert chosen[-1] == EKMAN_7[int(np.argmax(expected_scores(agent)))] == expected


def test_the_hmm_choice_is_not_the_most_likely_reply_emotion():
    agent = make()
    chosen = feed(agent, ["disgust"] * 5)
    assert EKMAN_7[int(np.argmax(agent.hmm.predict_emotion()))] == "anger"
    assert chosen[-1] == "surprise"


def test_the_hmm_choice_reads_the_learned_payoff_table():
    agent = make()
    agent.payoff[:, index("surprise")] = 0.0  # surprise never pays any more
    assert feed(agent, ["disgust"] * 5)[-1] == "joy"


# ---- the belief: a forward filter with the sensed distribution as soft evidence

def test_the_belief_update_uses_the_whole_sensed_distribution():
    agent = make()
    hmm = agent.hmm
    mixed = {e: 0.0 for e in EKMAN_7} | {"sadness": 0.5, "anger": 0.5}
    first = hmm.start * (hmm.emission @ np.array([mixed[e] for e in EKMAN_7]))
    np.testing.assert_allclose(hmm.update(mixed), first / first.sum())
    second = (hmm.transition.T @ hmm.belief) * (hmm.emission @ np.array([mixed[e] for e in EKMAN_7]))
    np.testing.assert_allclose(hmm.update(mixed), second / second.sum())
    hard = make().hmm
    hard.update(evidence("sadness", 1.0))
    assert not np.allclose(hard.belief, first / first.sum())
    assert hmm.observed == [index("sadness"), index("sadness")]  # ties go to the first label


def test_a_belief_with_no_support_falls_back_to_the_prediction():
    hmm = make().hmm
    hmm.update(evidence("joy"))
    predicted = hmm.transition.T @ hmm.belief
    hmm.update({e: 0.0 for e in EKMAN_7})
    np.testing.assert_allclose(hmm.belief, predicted)


# ---- lose-shift (§3.2): second best when the previous pick lost, i.e. its payoff was below tau = 2.0

def test_with_the_initial_table_the_published_lose_shift_never_fires():
    for first in EKMAN_7:
        for second in EKMAN_7:
            agent = make()
            feed(agent, [first, second])
            assert agent.shift_counts["shifted"] == 0


def test_the_published_reading_compares_the_picks_own_payoff_with_tau():
    agent = make()
    agent.payoff[index("anger")] = [1, 1, 1, 0, 1.9, 1, 1.8]  # as after some breakdowns
    chosen = feed(agent, ["anger", "anger", "anger"])
    # surprise pays 1.9 < 2.0 on its own row: lost, so the second best (neutral) follows, and it lost too
    assert chosen == ["joy", "surprise", "neutral", "neutral"]
    assert agent.shift_counts == {"best_response": 4, "shifted": 2}
    agent = make()
    agent.payoff[index("anger")] = [1, 1, 1, 0, 2.0, 1, 1.8]  # exactly tau is not a loss
    assert feed(agent, ["anger", "anger"]) == ["joy", "surprise", "surprise"]


def test_the_published_reading_ignores_the_reply():
    agent = make()  # joy pays 4 on the joy row; against the angry reply it would pay 1
    assert feed(agent, ["joy", "anger"]) == ["joy", "joy", "surprise"]
    reply = make(lose_shift="reply-payoff")
    assert feed(reply, ["joy", "anger"]) == ["joy", "joy", "neutral"]  # 1 < 2: second best after surprise


def test_the_reply_reading_is_the_previous_picks_payoff_against_the_sensed_reply():
    agent = make(lose_shift="reply-payoff")
    agent.expressed = ["joy"]  # joy against an angry reply pays 1 < 2: lost
    assert EKMAN_7[agent.best_response(index("anger"))] == "neutral"
    agent.expressed = ["neutral"]  # neutral against anger pays 2: not lost
    assert EKMAN_7[agent.best_response(index("anger"))] == "surprise"
    agent = make(lose_shift="reply-payoff")
    agent.payoff[index("anger"), index("neutral")] = 1.9
    agent.expressed = ["neutral"]
    assert EKMAN_7[agent.best_response(index("anger"))] == "neutral"  # second best, tied at 1.9 ... 1
    assert agent.shift_counts["shifted"] == 1


def test_hmm_turns_leave_the_last_best_response_payoff_alone():
    agent = make()
    agent.payoff[index("disgust")] = [1.9, 1, 0, 0, 1, 1.8, 1.7]
    feed(agent, ["disgust"] * 5)  # three best responses (joy at 1.9, then shifts), then two HMM turns
    assert agent.shift_counts["best_response"] == 4
    assert agent.pick_payoff == pytest.approx(1.8)


def test_second_best_breaks_ties_by_the_first_index():
    agent = make(lose_shift="reply-payoff")
    agent.expressed = ["fear"]  # fear against a neutral reply pays 2: not lost -> joy
    assert EKMAN_7[agent.best_response(index("neutral"))] == "joy"
    agent.expressed = ["anger"]  # anger against neutral pays 1: lost -> sadness, the next of four tied at 3
    assert EKMAN_7[agent.best_response(index("neutral"))] == "sadness"


def test_the_lose_shift_reading_is_checked_and_defaults_to_the_published_one():
    assert make().lose_shift == "own-payoff"
    assert "lose_shift" in EQNegotiator.declared_parameters()
    with pytest.raises(ValueError, match="lose_shift must be one of own-payoff, reply-payoff"):
        make_agent(AgentSpec("eq-negotiator", {"lose_shift": "sensed"}))


# ---- learning across negotiations (§2.4): the (sensed, own) payoff entries move by 0.05 x (+1 | -0.5)

def test_a_breakdown_moves_each_used_entry_by_minus_half_a_step():
    agent = make()
    feed(agent, ["anger", "sadness"])  # pairs: (neutral, joy), (anger, surprise), (sadness, sadness)
    before = agent.payoff.copy()
    agent.on_outcome(BROKE)
    delta = agent.payoff - before
    expected = np.zeros_like(delta)
    for sensed, own in (("neutral", "joy"), ("anger", "surprise"), ("sadness", "sadness")):
        expected[index(sensed), index(own)] = -0.025
    np.testing.assert_allclose(delta, expected)
    agent.on_outcome(AGREED)  # the pairs stay until the next reset: +0.05 each
    np.testing.assert_allclose(agent.payoff - before, expected * -1.0)


def test_learning_is_bounded_by_the_tables_range():
    agent = make()
    agent.pairs = [(index("joy"), index("joy"))]  # joy/joy starts at the top of the range, 4
    agent.on_outcome(AGREED)
    assert agent.payoff[0, 0] == 4.0
    agent.pairs = [(index("anger"), index("fear"))]  # anger/fear starts at the bottom, 0
    agent.on_outcome(BROKE)
    assert agent.payoff[2, 3] == 0.0
    np.testing.assert_array_equal(CFG["payoff_bounds"], [0.0, 4.0])


def test_a_new_negotiation_forgets_the_turns_but_keeps_the_learned_table():
    agent = make()
    agent.payoff[index("anger")] = [1, 1, 1, 0, 1.9, 1, 1.8]
    feed(agent, ["anger", "anger"])
    learned = agent.payoff.copy()
    agent.on_outcome(AGREED)
    agent.reset(agent.view, "focal", 2)
    assert agent.pairs == [] and agent.pick_payoff is None and agent.sensed == [] and agent.expressed == []
    assert not np.array_equal(agent.payoff, load_data("eq_negotiator.toml")["payoff"])
    assert (agent.payoff >= learned).all()


# ---- plumbing: the chosen emotion is what the agent expresses, sensing as configured

def test_the_stance_bonus_adds_the_predicted_dispositions_stance():
    plain, stanced = make(), make(stance_weight=0.5)
    feed(plain, ["sadness"] * 5), feed(stanced, ["sadness"] * 5)
    bonus = plain.hmm.predict_state() @ (0.5 * np.array(CFG["stance"]))
    np.testing.assert_allclose(stanced.hmm_scores() - plain.hmm_scores(), bonus)


def test_every_expressed_emotion_is_the_chosen_one():
    _, transcript, agents = play_pair(AgentSpec("eq-negotiator"), AgentSpec("threatening"),
                                      load_scenarios("credit", "test")[0])
    focal = [m["emotion"] for m in transcript if m["role"] == "focal"]
    assert focal == agents["focal"].expressed and len(set(focal)) >= 2
    agent = agents["focal"]
    assert agent.guidance(None, Action.offer(10, "anger")) == f"Express anger: {emotion_style('anger')}"
    assert agent.model_emotions(Action.offer(10, "fear")) == ("fear",)


def test_the_sensor_follows_the_parameter_and_the_backend():
    model = make_backend(BackendSpec("openai", "m", base_url="http://127.0.0.1:9/v1"))  # never called here
    cases = (({}, None, LexiconSensor), ({}, model, LLMSensor), ({"sensor": "auto"}, model, LLMSensor),
             ({"sensor": "llm"}, None, LLMSensor), ({"sensor": "lexicon"}, model, LexiconSensor))
    for cls in (EQNegotiator, EQNegotiatorV1):
        for params, backend, kind in cases:
            agent = cls(backend=backend, **params)
            assert agent.backend is backend or backend is None
            agent.reset(make().view, "focal", 1)
            assert type(agent.sensor) is kind, (cls, params, backend)
            if kind is LLMSensor:
                assert agent.sensor.speaker is agent.speaker  # it asks through the agent's own backend
