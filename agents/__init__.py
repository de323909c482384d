"""Who acts and how they speak: the agent contract, backends, emotion sensing and built-in agents."""
from agents.base import Agent, Observation, ScenarioView, Turn
from agents.guards import Guard, GuardStats
from agents.registry import REGISTRY, AgentSpec, get_entry, load_plugins, make_agent, register
from agents import builtin  # noqa: F401  (registers the built-in agents)
from agents.builtin.common import Negotiator, TimeDependent
from agents import human  # noqa: F401  (registers the person-at-a-browser agent)

__all__ = ["Agent", "AgentSpec", "Guard", "GuardStats", "Negotiator", "Observation", "REGISTRY", "ScenarioView",
           "TimeDependent", "Turn", "get_entry", "load_plugins", "make_agent", "register"]
