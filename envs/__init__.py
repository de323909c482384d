"""The world: domains, scenarios, the PettingZoo negotiation environment, outcomes and metrics."""
from __future__ import annotations

from envs.actions import MAX_MESSAGE_CHARS, MESSAGE_CHARSET, MOVES, Action, sanitize_message
from envs.domains import COUNTERPART, DOMAINS, FOCAL, ROLE_KINDS, Domain, get_domain
from envs.emomas import CSVImportError, load_emomas_csv
from envs.emotions import DEFAULT_TAXONOMY, EKMAN_7, GOEMOTIONS_28, TAXONOMIES, get_taxonomy
from envs.negotiation import DEFAULT_MAX_MESSAGES, NegotiationEnv
from envs.outcome import Outcome, Violation, distance_to_nash, make_outcome, nash_point, savings, utility
from envs.scenarios import SPLITS, Scenario, get_scenario, load_scenarios


def make_env(domain: str, scenario: Scenario | int | str | None = None, **options) -> NegotiationEnv:
    """Build the environment for one scenario of a domain.

    ``scenario`` is a Scenario, an index into the domain's 100 built-in scenarios, a scenario
    id, or None for the first test scenario. Options go to :class:`NegotiationEnv`.
    """
    get_domain(domain)
    if scenario is None:
        scenario = load_scenarios(domain, "test")[0]
    elif isinstance(scenario, int):
        scenario = load_scenarios(domain, "all")[scenario]
    elif isinstance(scenario, str):
        scenario = get_scenario(domain, scenario)
    if scenario.domain != domain:
        raise ValueError(f"scenario {scenario.id} belongs to {scenario.domain}, not {domain}")
    return NegotiationEnv(scenario, **options)


__all__ = [
    "Action", "CSVImportError", "COUNTERPART", "DEFAULT_MAX_MESSAGES", "DEFAULT_TAXONOMY", "DOMAINS",
    "Domain", "EKMAN_7", "FOCAL", "GOEMOTIONS_28", "MAX_MESSAGE_CHARS", "MESSAGE_CHARSET", "MOVES",
    "NegotiationEnv", "Outcome", "ROLE_KINDS", "SPLITS", "Scenario", "TAXONOMIES", "Violation",
    "distance_to_nash", "get_domain", "get_scenario", "get_taxonomy", "load_emomas_csv", "load_scenarios", "make_env",
    "make_outcome", "nash_point", "sanitize_message", "savings", "utility",
]
