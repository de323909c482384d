"""Recall and false positives of the harness guard's leak check, by disguise family, and its cost.

Every reservation of the built-in scenarios (4 domains x 100 scenarios x 2 roles = 800) is stated
once per disguise family (agents/disguises.py, seeded) in a message that goes with an offer of
another value: recall is the share the guard flags. False positives are the share it flags among
messages that do not leak: the offered value written in every family's form, numbers near the
reservation, the scripted backend's messages, ordinary text (every emotion phrase and sentences with
numeral-like words, with a walk-away) and the reservation stated with an offer *of* the reservation
(not a leak: the offer reveals it). Last, what the guard costs: scripted matches (the classic
baselines) timed with the guard and with a pass-through in its place, in the same run.

    python benchmarks/guard_recall.py [--seed 0] [--matches 400]
"""
from __future__ import annotations

import argparse
import itertools
import time
from typing import Callable, Iterator

import numpy as np
from num2words import num2words

import arena.match
from agents import AgentSpec, Guard, GuardStats, ScenarioView, make_agent
from agents.disguises import FAMILIES, statement
from agents.leaks import clear_cache, normalise
from agents.llm.scripted import realise_message
from agents.texts import load_data, templates
from arena.schedule import MatchSpec
from envs import COUNTERPART, DOMAINS, FOCAL, NegotiationEnv, load_scenarios, sanitize_message

# (view, message, value the move states) -> does the guard treat the message as a leak?
Check = Callable[[ScenarioView, str, "int | None"], bool]
ORDINARY = ("I did it my way, and I am civil about it.", "Mix the options and let us see.", "Dim the lights, please.",
            "The IV drip is in, the CD is playing.", "I will be vivid: this is mild.", "Do I look like a mill?",
            "We did our best; I mean it.", "Vi and Li will call you later.", "Please, I beg you.")
BASELINES = ("boulware", "conceder", "linear", "tit-for-tat")


def guard_check(view: ScenarioView, message: str, stated: int | None) -> bool:
    """The guard as it runs: the message normalised and sanitised, then its leak rule."""
    return Guard(view).leaks(sanitize_message(normalise(message)), stated)


def cases(step: int = 1) -> Iterator[ScenarioView]:
    """Every role of every built-in scenario (every ``step``-th one)."""
    views = (ScenarioView.of(scenario, kind, 30, "goemotions-28") for domain in DOMAINS
             for scenario in load_scenarios(domain, "all") for kind in (FOCAL, COUNTERPART))
    yield from itertools.islice(views, 0, None, step)


def other_value(view: ScenarioView, rng: np.random.Generator) -> int:
    """A value in the domain's range other than the reservation."""
    while (value := int(rng.integers(view.domain.low, view.domain.high + 1))) == view.reservation:
        pass
    return value


def recall(check: Check, seed: int, step: int = 1) -> dict[str, list[bool]]:
    """Per family, whether each disguised statement of a reservation was flagged."""
    rng, found = np.random.default_rng(seed), {name: [] for name in FAMILIES}
    for view in cases(step):
        for name, family in FAMILIES.items():
            form = family(view.reservation, rng)
            if form is not None:
                found[name].append(check(view, statement(form, view.domain.unit, rng), other_value(view, rng)))
    return found


def false_positives(check: Check, seed: int, step: int = 1) -> dict[str, list[bool]]:
    """Per kind of message that does not leak, whether each was flagged."""
    rng = np.random.default_rng(seed + 1)
    flagged: dict[str, list[bool]] = {f"offered value: {name}": [] for name in FAMILIES}
    flagged |= {"nearby numbers": [], "scripted messages": [], "at the reservation (scripted)": [], "ordinary text": []}
    ordinary = [p for table in load_data("emotions.toml").values() for p in table["phrases"]] + list(ORDINARY)
    for view in cases(step):
        unit, r = view.domain.unit, view.reservation
        for name, family in FAMILIES.items():
            value = other_value(view, rng)
            if (form := family(value, rng)) is not None:
                flagged[f"offered value: {name}"].append(
                    check(view, f"I can offer {form} {unit}.", value))
        for near in {r - 1, r + 1, r - 10, r + 10, r * 10, r + 100, int(str(abs(r))[::-1])} - {r, -r}:
            for form in (str(near), num2words(near)):
                flagged["nearby numbers"].append(check(view, f"How about {form} {unit}?", near))
        for move in ("offer", "accept"):
            value = other_value(view, rng)
            flagged["scripted messages"].append(check(view, _scripted(view, move, value, rng), value))
            flagged["at the reservation (scripted)"].append(check(view, _scripted(view, move, r, rng), r))
        for text in ordinary + templates(view.domain.name, view.kind, "walk_away"):
            flagged["ordinary text"].append(check(view, text, None))
    return flagged


def _scripted(view: ScenarioView, move: str, value: int, rng: np.random.Generator) -> str:
    labels = list(load_data("emotions.toml"))
    hints = {"domain": view.domain.name, "kind": view.kind, "move": move, "value": value,
             "emotion": labels[int(rng.integers(len(labels)))], "unit": view.domain.unit,
             "turn": int(rng.integers(30)), "context": view.context}
    return realise_message(hints, int(rng.integers(2 ** 31)))


def table(title: str, results: dict[str, list[bool]]) -> None:
    print(f"\n{title}\n{'family':38s} {'messages':>8s} {'flagged':>8s} {'rate':>8s}")
    for name, flags in results.items():
        print(f"{name:38s} {len(flags):8d} {sum(flags):8d} {sum(flags) / len(flags):8.1%}")
    total = [f for flags in results.values() for f in flags]
    print(f"{'all':38s} {len(total):8d} {sum(total):8d} {sum(total) / len(total):8.1%}")


class PassGuard:
    """A guard that changes nothing: the baseline for the guard's cost."""

    def __init__(self, view: ScenarioView, *args):
        self.stats = GuardStats()

    def apply(self, action, obs):
        return action


def match_seconds(matches: int) -> float:
    """Seconds to play ``matches`` scripted matches between the classic baselines."""
    scenarios = [s for domain in DOMAINS for s in load_scenarios(domain, "all")]
    start = time.perf_counter()
    for i in range(matches):
        scenario = scenarios[i % len(scenarios)]
        focal, counterpart = (AgentSpec(BASELINES[i % 4]), AgentSpec(BASELINES[(i // 4) % 4]))
        agents = {FOCAL: make_agent(focal), COUNTERPART: make_agent(counterpart)}
        spec = MatchSpec.at(f"{scenario.id}/b{i}", "b", scenario, 0, i, focal, counterpart)
        arena.match.play(spec, scenario, agents, NegotiationEnv(scenario, max_messages=30), timeout_s=600)
    return time.perf_counter() - start


def cost(matches: int, rounds: int = 3) -> None:
    """Best of ``rounds`` interleaved timings with the guard and with a pass-through (the machine may be busy)."""
    match_seconds(20)  # warm-up: imports, data files
    clear_cache()  # the first round reads every sentence afresh
    real, times = arena.match.Guard, {"guard": [], "pass-through": []}
    try:
        for _ in range(rounds):
            for name, guard in (("guard", real), ("pass-through", PassGuard)):
                arena.match.Guard = guard
                times[name].append(match_seconds(matches))
    finally:
        arena.match.Guard = real
    guarded, bare = min(times["guard"]), min(times["pass-through"])
    print(f"\nscripted matches ({matches}, baselines, best of {rounds}): {matches / guarded:7.1f} matches/s with the "
          f"guard, {matches / bare:7.1f} with a pass-through; the guard costs {guarded / bare - 1:+.1%} of match time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated disguises")
    parser.add_argument("--matches", type=int, default=400, help="scripted matches to time (0: skip)")
    args = parser.parse_args()
    table("recall: the reservation stated in a message with an offer of another value", recall(guard_check, args.seed))
    table("false positives: messages that do not leak", false_positives(guard_check, args.seed))
    if args.matches:
        cost(args.matches)


if __name__ == "__main__":
    main()
