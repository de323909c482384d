"""Agents: the contract, built-ins on scripted and llama-cpp, guards, sensing, response model, EQ-Negotiator."""
from __future__ import annotations

import pytest

from agents import REGISTRY, Agent, AgentSpec, Guard, Observation, ScenarioView, make_agent
from agents.leaks import states
from agents.llm import BackendSpec, ConfigError
from agents.response_model import concession_factor
from agents.sensing import LexiconSensor, argmax_label
from envs import COUNTERPART, DOMAINS, EKMAN_7, FOCAL, Action, load_scenarios
from tests.helpers import play_pair

BUILTINS = ["vanilla", "cheating", "threatening", "victim", "boulware", "conceder", "linear", "tit-for-tat",
            "eq-negotiator", "vanilla-counterpart", "random-emotion", "fixed-emotion"]


def _opponent_for(name: str) -> tuple[AgentSpec, AgentSpec]:
    """(focal, counterpart) specs with ``name`` in a role it can play and linear on the other side."""
    cls = REGISTRY[name].agent_class
    if FOCAL in cls.roles:
        return AgentSpec(name), AgentSpec("linear")
    return AgentSpec("linear"), AgentSpec(name)


def test_registry_holds_the_contract_names():
    assert set(BUILTINS) <= set(REGISTRY)
    with pytest.raises(ConfigError, match="did you mean vanilla"):
        make_agent(AgentSpec("vanila"))


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("domain", list(DOMAINS))
def test_each_builtin_plays_a_full_scripted_match(name, domain):
    scenario = load_scenarios(domain, "test")[1]
    record, transcript, _ = play_pair(*_opponent_for(name), scenario)
    assert record["ended_by"] in ("accept", "walk_away", "message_limit")
    assert record["rounds"] == len(transcript) >= 1
    assert all(move["message"] for move in transcript)


def _reservation_respected(scenario, transcript) -> None:
    dom = DOMAINS[scenario.domain]
    for i, move in enumerate(transcript):
        kind, res = move["role"], scenario.reservation[move["role"]]
        if move["move"] == "offer":
            assert not dom.better(kind, res, move["value"]), (i, move)
        if move["move"] == "accept":
            assert not dom.better(kind, res, transcript[i - 1]["value"]), (i, move)
        stated = move["value"] if move["move"] == "offer" else transcript[i - 1]["value"] if move["move"] == "accept" \
            else None
        assert stated == res or not states(move["message"], res), move["message"]  # the move may state it


@pytest.mark.parametrize("name", BUILTINS)
def test_guards_hold_for_builtins_over_many_scenarios(name):
    for scenario in load_scenarios("credit", "test")[:6] + load_scenarios("sleep", "test")[:6]:
        _, transcript, _ = play_pair(*_opponent_for(name), scenario)
        _reservation_respected(scenario, transcript)


class Reckless(Agent):
    """Says its limit out loud, offers past it and accepts anything."""

    name = "reckless"

    def act(self, obs: Observation) -> Action:
        if obs.their_offer is not None and obs.turn > 2:
            return Action.accept(message="Fine, whatever you say.")
        return Action.offer(self.view.reservation + 50, "joy", f"My limit is {self.view.reservation} days, really.")


def test_guards_clamp_redact_and_block_whatever_the_agent_does():
    scenario = load_scenarios("credit", "test")[0]
    view = ScenarioView.of(scenario, FOCAL, 30, "goemotions-28")
    agent, guard = Reckless(), Guard(view)
    agent.reset(view, FOCAL, 0)
    first = guard.apply(agent.act(Observation(0, 30, None, None, "")), Observation(0, 30, None, None, ""))
    # clamped to its limit, it may say the limit: the offer itself reveals it (agents/guards.py)
    assert first.value == scenario.reservation[FOCAL] and str(scenario.reservation[FOCAL]) in first.message
    bad_offer = scenario.reservation[FOCAL] + 40  # worse than the creditor's walk-away
    obs = Observation(3, 27, bad_offer, first.value, "take it")
    second = guard.apply(agent.act(obs), obs)
    assert second.move == "offer" and second.value == first.value
    assert guard.stats.clamped_offers == 1 and guard.stats.redactions == 0 and guard.stats.blocked_accepts == 1


def test_lexicon_sensor_reads_clear_emotions():
    sensor = LexiconSensor()
    assert argmax_label(sensor.sense("This is outrageous! Stop harassing me or I will sue you.")) == "anger"
    assert argmax_label(sensor.sense("I lost my job and I cry every night, I feel hopeless.")) == "sadness"
    assert argmax_label(sensor.sense("I'm terrified and so worried the roof will collapse.")) == "fear"
    dist = sensor.sense("Please send the statement.")
    assert abs(sum(dist.values()) - 1) < 1e-9 and set(dist) == set(EKMAN_7)


def test_response_model_directions():
    anger, joy = {"anger": 1.0}, {"joy": 1.0}
    assert concession_factor(anger, "vanilla-counterpart") > 1.0 > concession_factor(joy, "vanilla-counterpart")
    assert concession_factor(anger, "victim") > concession_factor(anger, "threatening") > 1.0
    assert concession_factor({"neutral": 1.0}, "victim") == 1.0


def test_sensed_emotion_changes_a_scripted_counterpart():
    scenario = load_scenarios("credit", "test")[3]
    results = {}
    for emotion in ("anger", "joy"):
        record, transcript, _ = play_pair(AgentSpec("fixed-emotion", {"emotion": emotion}), AgentSpec("victim"),
                                          scenario, seed=5)
        results[emotion] = [m["value"] for m in transcript if m["role"] == COUNTERPART and m["move"] == "offer"]
    assert results["anger"] != results["joy"]


@pytest.mark.llm
@pytest.mark.parametrize("name", BUILTINS)
def test_each_builtin_plays_a_full_match_on_llama_cpp(name):
    llama = BackendSpec("llama-cpp", cache=False)
    focal, counter = _opponent_for(name)
    focal = AgentSpec(focal.name, {"max_tokens": 200}, llama if focal.name == name else None)
    counter = AgentSpec(counter.name, {"max_tokens": 200}, llama if counter.name == name else None)
    scenario = load_scenarios("rescue", "test")[0]
    record, transcript, _ = play_pair(focal, counter, scenario, max_messages=4)
    assert record["rounds"] == len(transcript) >= 1
    kind = FOCAL if focal.name == name else COUNTERPART
    model_based = REGISTRY[name].agent_class.uses_model
    assert (record[f"{kind}_requests"] > 0) == model_based
    _reservation_respected(scenario, transcript)
