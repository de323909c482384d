"""An example plugin agent: it splits the difference, warmly.

The entry point in pyproject.toml registers it under the name ``midpoint``; no ``@register`` is
needed (that decorator is for agents defined in your own script and run in-process).
"""
from agents import Agent, Observation
from envs import Action


class Midpoint(Agent):
    """Opens at its target, then offers the midpoint between its last offer and theirs."""

    name = "midpoint"
    description = "Example plugin: splits the difference between the two last offers."
    roles = frozenset({"focal", "counterpart"})  # the role kinds it can play (this is the default)

    def act(self, obs: Observation) -> Action:
        view = self.view
        if obs.their_offer is None or obs.my_offer is None:
            return Action.offer(view.target, "joy", f"Let us start at {view.target} {view.domain.unit}.")
        middle = round((obs.my_offer + obs.their_offer) / 2)
        if abs(middle - obs.their_offer) <= 2 and view.gain(obs.their_offer) >= 0:
            return Action.accept("joy", "That works for me, agreed.")
        return Action.offer(middle, "joy", f"Let us meet halfway: {middle} {view.domain.unit}.")
