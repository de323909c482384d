"""The role-balanced round robin: sessions of matches with deterministic ids and seeds."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from agents import AgentSpec, get_entry
from arena.spec import TournamentSpec
from envs import COUNTERPART, FOCAL, load_scenarios


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from the tournament seed and a match's coordinates."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class MatchSpec:
    """One negotiation: a scenario, two agents in their roles, a repeat and a seed."""

    match_id: str
    session_id: str
    domain: str
    scenario_id: str
    split: str
    repeat: int
    seed: int
    focal: AgentSpec
    counterpart: AgentSpec


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
                        MatchSpec(f"{domain}/{s.id}/{focal.display_name}__{counter.display_name}/r{repeat}",
                                  session_id, domain, s.id, s.split, repeat,
                                  derive_seed(spec.seed, domain, s.id, focal.display_name, counter.display_name, repeat),
                                  focal, counter)
                        for s in scenarios)
                    sessions.append(Session(session_id, domain, focal, counter, repeat, matches))
    return sessions
