"""The role-balanced round robin: sessions of matches with deterministic ids and seeds."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from agents import AgentSpec, get_entry
from arena.spec import TournamentSpec
from envs import COUNTERPART, FOCAL, Scenario, load_scenarios


# Bumped whenever the way seeds are derived changes, so a run made under another scheme is not resumed.
SEED_SCHEME = "crn-1"


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from the tournament seed and a match's coordinates."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def common_seed(seed: int, domain: str, scenario_id: str, repeat: int) -> int:
    """The match's shared seed: its coordinates only, never an agent's name (common random numbers)."""
    return derive_seed(seed, domain, scenario_id, repeat)


def agent_seed(seed: int, domain: str, scenario_id: str, repeat: int, kind: str, agent_name: str) -> int:
    """An agent's own stream: the match's coordinates, its role and its own registry name, never the
    opponent's, so an agent draws the same numbers against every opponent and under any label."""
    return derive_seed(seed, domain, scenario_id, repeat, kind, agent_name)


@dataclass(frozen=True)
class MatchSpec:
    """One negotiation: a scenario, two agents in their roles, a repeat and its seeds.

    ``seed`` is shared by every match on the same coordinates (domain, scenario, repeat); each
    agent's own seed adds its role and registry name (see :func:`agent_seed`).
    """

    match_id: str
    session_id: str
    domain: str
    scenario_id: str
    split: str
    repeat: int
    seed: int
    focal: AgentSpec
    counterpart: AgentSpec
    focal_seed: int = 0
    counterpart_seed: int = 0

    @classmethod
    def at(cls, match_id: str, session_id: str, scenario: Scenario, repeat: int, tournament_seed: int,
           focal: AgentSpec, counterpart: AgentSpec) -> "MatchSpec":
        """A match with its seeds derived from the tournament seed and its coordinates."""
        coords = (tournament_seed, scenario.domain, scenario.id, repeat)
        return cls(match_id, session_id, scenario.domain, scenario.id, scenario.split, repeat,
                   common_seed(*coords), focal, counterpart,
                   agent_seed(*coords, FOCAL, focal.name), agent_seed(*coords, COUNTERPART, counterpart.name))

    def agent_seed(self, kind: str) -> int:
        return self.focal_seed if kind == FOCAL else self.counterpart_seed


@dataclass(frozen=True)
class Session:
    """The matches one pair of agents plays on one domain and repeat, in scenario order.

    Agent instances live through a session, so agents that learn across negotiations learn
    from the same sequence every time: results do not depend on workers or on resuming.
    """

    session_id: str
    domain: str
    focal: AgentSpec
    counterpart: AgentSpec
    repeat: int
    matches: tuple[MatchSpec, ...]


def build_sessions(spec: TournamentSpec) -> list[Session]:
    """Every focal-capable agent against every counterpart-capable agent, on every scenario and repeat."""
    sessions = []
    for domain in spec.domains:
        scenarios = load_scenarios(domain, spec.split)[: spec.scenarios]
        focals = [a for a in spec.agents if get_entry(a.name).agent_class.can_play(domain, FOCAL)]
        counters = [a for a in spec.agents if get_entry(a.name).agent_class.can_play(domain, COUNTERPART)]
        for focal in focals:
            for counter in counters:
                for repeat in range(spec.repeats):
                    session_id = f"{domain}/{focal.display_name}__{counter.display_name}/r{repeat}"
                    matches = tuple(
                        MatchSpec.at(f"{domain}/{s.id}/{focal.display_name}__{counter.display_name}/r{repeat}",
                                     session_id, s, repeat, spec.seed, focal, counter)
                        for s in scenarios)
                    sessions.append(Session(session_id, domain, focal, counter, repeat, matches))
    return sessions
