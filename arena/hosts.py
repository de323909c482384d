"""Several servers for one model: sessions pinned to a host in turn, hosts that fail left out."""
from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Callable

from agents import AgentSpec
from agents.llm import BackendSpec, ConfigError, make_backend
from agents.llm.factory import on_host, servers_of
from arena.schedule import Session
from arena.spec import TournamentSpec


class HostPlan:
    """Which host each session's served backends use. A backend that lists several hosts has its
    sessions dealt out over the live ones in turn; a lost host gets no further sessions."""

    def __init__(self, spec: TournamentSpec, note: Callable[[str], None] = lambda text: None):
        self.note = note
        self.listed: dict[tuple[str, ...], list[str]] = {}  # hosts as listed -> the live ones
        for agent in spec.agents:
            hosts = servers_of(agent.resolved_backend)
            if len(hosts) > 1:
                self.listed.setdefault(hosts, list(hosts))
        self.turn = {hosts: itertools.count() for hosts in self.listed}
        self.lost: dict[str, str] = {}  # host -> why

    @property
    def every_host(self) -> set[str]:
        return {h for hosts in self.listed for h in hosts}

    def preflight(self, spec: TournamentSpec) -> None:
        """Check every backend on every host: a failing host is named and left out; a backend with no
        working host is a ConfigError."""
        seen: set[BackendSpec] = set()
        for agent in spec.agents:
            backend = agent.resolved_backend
            if backend.kind == "scripted" or backend in seen:
                continue
            seen.add(backend)
            hosts = servers_of(backend)
            if len(hosts) <= 1:
                make_backend(backend).preflight()
                continue
            for host in hosts:
                try:
                    make_backend(on_host(backend, host)).preflight()
                except ConfigError as exc:
                    self.note(f"leaving out {host}: {exc}")
                    self.lose(host, str(exc))

    def lose(self, host: str, why: str) -> None:
        """Give ``host`` no more sessions; a ConfigError if a model is left without a host."""
        if host in self.lost:
            return
        self.lost[host] = why
        if host not in self.every_host:
            raise ConfigError(f"{why}; finished matches are kept: run the same command again to resume")
        for hosts, live in self.listed.items():
            if host in live:
                live.remove(host)
            if host in hosts and live:
                self.note(f"{why}; its sessions move to {', '.join(live)}")
            if not live:
                reasons = "; ".join(f"{h}: {self.lost.get(h, 'unavailable')}" for h in hosts)
                raise ConfigError(f"no server left for a backend listing {', '.join(hosts)} ({reasons}); "
                                  "finished matches are kept: run the same command again to resume")

    def pin(self, session: Session) -> Session:
        """The session with each multi-host backend pinned to the next live host (one host per list
        and session, so two agents sharing a backend share its host)."""
        chosen: dict[tuple[str, ...], str] = {}

        def pinned(agent: AgentSpec) -> AgentSpec:
            hosts = servers_of(agent.resolved_backend)
            if hosts not in self.listed:
                return agent
            if hosts not in chosen:
                live = self.listed[hosts]
                chosen[hosts] = live[next(self.turn[hosts]) % len(live)]
            return replace(agent, backend=on_host(agent.resolved_backend, chosen[hosts]))

        return replace(session, focal=pinned(session.focal), counterpart=pinned(session.counterpart))
