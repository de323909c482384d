"""Messages say what the record says: accepts name the accepted value, guard corrections restate it."""
from __future__ import annotations

import re

from agents import Agent, AgentSpec, Guard, Observation, ScenarioView, make_agent
from envs import COUNTERPART, FOCAL, Action, load_scenarios
from helpers import play_pair


class Overreacher(Agent):
    """Offers far past its own reservation, always naming the number it (wrongly) offers."""

    name = "overreacher"

    def act(self, obs: Observation) -> Action:
        view = self.view
        bad = view.domain.clamp(view.reservation + (view.reservation - view.target))
        return Action.offer(bad, "neutral", f"Let us meet halfway: {bad} {view.domain.unit}.")


def test_scripted_accepts_name_the_accepted_value():
    for scenario in load_scenarios("credit")[:6]:
        _, transcript, _ = play_pair(AgentSpec("conceder"), AgentSpec("conceder"), scenario)
        for i, move in enumerate(transcript):
            if move["move"] == "accept":
                accepted = transcript[i - 1]["value"]
                assert "None" not in move["message"] and str(accepted) in move["message"], move


def test_clamped_offers_restate_the_recorded_value():
    scenario = next(s for s in load_scenarios("credit") if s.reservation[FOCAL] != s.target[FOCAL])
    agents = {FOCAL: Overreacher(), COUNTERPART: make_agent(AgentSpec("vanilla-counterpart"))}
    _, transcript, _ = play_pair(AgentSpec("vanilla"), AgentSpec("vanilla-counterpart"), scenario, agents=agents)
    offers = [m for m in transcript if m["role"] == "focal" and m["move"] == "offer"]
    assert offers
    for move in offers:
        numbers = [int(n) for n in re.findall(r"\d+", move["message"])]
        assert numbers == [move["value"]], move  # also at the reservation: the offer reveals that value anyway


def test_a_blocked_accept_says_it_is_an_offer():
    scenario = load_scenarios("credit")[0]
    view = ScenarioView.of(scenario, FOCAL, 30, "ekman-7")
    guard = Guard(view)
    worse = view.domain.clamp(view.reservation + (view.reservation - view.target) + 1)
    obs = Observation(turn=3, messages_left=20, their_offer=worse, my_offer=view.target, last_message="")
    action = guard.apply(Action.accept("joy", "Deal, fine by me."), obs)
    assert action.move == "offer" and action.value == view.target
    assert "cannot accept" in action.message and str(view.target) in action.message
    assert guard.stats.blocked_accepts == 1
