"""The harness guard's leak rule, its disguise table, its recall on generated disguises, and messages
it must never garble ("Let us meet halfway: that days.")."""
from __future__ import annotations

import importlib.util
import re
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import Agent, AgentSpec, Guard, Observation, ScenarioView, make_agent
from agents.disguises import FAMILIES, statement
from agents.leaks import ROMAN_WORDS, readings, states
from arena.runner import run_tournament
from arena.spec import TournamentSpec, default_agents
from arena.storage import load_transcripts
from benchmarks.guard_recall import false_positives, guard_check
from envs import COUNTERPART, FOCAL, Action, load_scenarios
from tests.helpers import play_pair

EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "plugin-agent" / "src" / "midpoint_agent"
GARBLED = re.compile(r"\bthat (days|minutes)\b")

# Every disguise issue 30 lists, and the forms the guard read before, with texts that must stay.
DISGUISES = [
    (93, ["I can go to 93 days", "ninety-three days", "Ninety three days", "NINETY  THREE", "9 3", "9-3", "093",
          "nine three", "ninety-3", "ninety\u2013three", "ninety\u2011three", "ninetythree", "three and ninety",
          "three-and-ninety", "Three-And-Ninety", "XCIII", "xciii", "Xciii", "0x5D", "0X5d", "0o135", "0O135",
          "0b1011101", "0B101_1101", "9\u200b3 days", "9 - 3", "9  3", "9_3", "9 | 3", "92 plus one", "90 + 3",
          "100 - 7", "3 * 31", "3 x 31", "186 / 2", "186 divided by 2", "ninety-two plus one", "(90 + 3) days",
          "3 * (30 + 1)", "93.0 days", "\uff19\uff13", "\u0669\u0663", "100 \u2212 7", "3 \u00d7 31"],
     ["193 days", "ninety-four", "930", "mix it up", "39 days", "9.3", "9,3", "I did it", "$12,093"]),
    (102, ["a hundred and two", "A Hundred and Two", "one hundred two", "one-hundred-two", "hundred and two",
           "onehundredandtwo", "one zero two", "CII", "cii", "51 * 2", "a hundred plus two"],
     ["a hundred and twenty", "one hundred", "1.02", "two hundred and one"]),
    (45, ["five and forty", "forty-five", "4 5", "XLV", "xlv", "0x2d", "30-45 days", "50 - 5"],
     ["145", "forty-six", "54", "$12,450", "4.5", "45.5 days"]),
    (115, ["one hundred and fifteen", "one-hundred-fifteen", "One hundred fifteen", "CXV"], ["one hundred and fifty"]),
    (20, ["twenty days", "20", "XX"], ["twenty-one days", "twenty one days", "120", "1.20", "xx days", "0x20"]),
    (2, ["two days", "II"], ["ninety-two", "twenty two"]),
    (1, ["one day"], ["I can do it.", "i think so", "a day"]),
    (-30, ["-30 minutes past 9 PM", "30 minutes before 9 PM"], ["-31 minutes"]),
]


def _view(value: int, kind: str = FOCAL) -> ScenarioView:
    scenario = load_scenarios("credit", "test")[0]
    scenario = replace(scenario, reservation={**scenario.reservation, kind: value})
    return ScenarioView.of(scenario, kind, 30, "goemotions-28")


@pytest.mark.parametrize(("value", "leaks", "kept"), DISGUISES)
def test_the_disguise_table(value, leaks, kept):
    guard = Guard(_view(value))
    other = value + 7  # the move states another value: every statement of the reservation leaks
    for text in leaks:
        assert states(text, value), (text, sorted(readings(text)))
        redacted = guard.redact(text, "offer", other)
        assert not states(redacted, value) and str(other) in redacted, (text, redacted)
    for text in kept:
        assert not states(text, value), (text, sorted(readings(text)))
        assert guard.redact(text, "offer", other) == text
    assert guard.stats.redactions == len(leaks)


def test_lowercase_roman_numerals_follow_the_stop_list_rule():
    assert states("MIX", 1009) and not states("mix", 1009) and not states("Mix", 1009)
    assert states("IV", 4) and not states("iv", 4) and not states("I", 1) and not states("x", 10)
    assert states("V", 5) and states("cii", 102) and not states("IIII", 4) and not states("IC", 99)
    assert not states("civil vivid dim mild lid", 104)


def _roman_read(form: str) -> bool:
    """The documented rule: capitals always but "I"; otherwise two letters or more, not a listed word."""
    return form != "I" if form.isupper() else len(form) >= 2 and form.lower() not in ROMAN_WORDS


@settings(max_examples=300, deadline=None)
@given(value=st.integers(-60, 720), seed=st.integers(0, 2 ** 32 - 1))
def test_recall_is_complete_on_every_generated_family(value, seed):
    rng = np.random.default_rng(seed)
    for name, family in FAMILIES.items():
        form = family(value, rng)
        if form is None or value == 0 and name != "digits":
            continue
        message = statement(form, "days", rng)
        expected = _roman_read(form) if name == "roman any case" else True
        assert states(message, value) == expected, (name, form, sorted(readings(message)))


def test_false_positives_stay_rare_and_never_hit_plain_messages():
    flagged = false_positives(guard_check, seed=3, step=8)
    for name in ("nearby numbers", "scripted messages", "at the reservation (scripted)", "ordinary text",
                 "offered value: digits", "offered value: number words", "offered value: roman capitals"):
        assert not any(flagged[name]), name
    every = [f for flags in flagged.values() for f in flags]
    assert sum(every) / len(every) < 0.005
    for name, flags in flagged.items():  # a disguised other number may contain the reservation's digits
        assert sum(flags) / len(flags) <= 0.02, name


# The leak rule: stating the value one's move states is not a leak.

def test_an_offer_of_the_reservation_may_state_it():
    guard = Guard(_view(45))
    obs = Observation(5, 20, 60, 40, "")
    action = guard.apply(Action.offer(45, "neutral", "Final stretch: 45 days."), obs)
    assert action.message == "Final stretch: 45 days." and guard.stats.redactions == 0


def test_an_accept_of_an_offer_equal_to_the_reservation_may_state_it():
    guard = Guard(_view(45))
    action = guard.apply(Action.accept("joy", "Agreed, forty-five days it is."), Observation(5, 20, 45, 40, ""))
    assert action.message == "Agreed, forty-five days it is." and guard.stats.redactions == 0


def test_a_statement_of_the_reservation_with_another_offer_is_replaced_by_a_sentence():
    guard = Guard(_view(45))
    obs = Observation(5, 20, 60, 30, "")
    action = guard.apply(Action.offer(40, "neutral", "I hear you. My limit is 45 days! I offer 40 days."), obs)
    assert action.message == "I hear you. I offer 40 days."
    action = guard.apply(Action.offer(40, "neutral", "I hear you. My limit is forty-five days."), obs)
    assert action.message == "I hear you. My offer is 40 days."
    assert guard.stats.redactions == 2 and guard.stats.clamped_offers == 0


def test_quoting_a_standing_offer_equal_to_the_reservation_leaks_unless_accepted():
    guard = Guard(_view(45))
    obs = Observation(5, 20, 45, 30, "")
    action = guard.apply(Action.offer(35, "neutral", "Your 45 days is exactly my line."), obs)
    assert action.message == "My offer is 35 days." and guard.stats.redactions == 1


def test_a_walk_away_never_states_the_reservation():
    guard = Guard(_view(45))
    action = guard.apply(Action.walk_away("anger", "I will not go past 45. Goodbye."), Observation(5, 20, 60, 30, ""))
    assert action.message == "Goodbye." and guard.stats.redactions == 1
    action = guard.apply(Action.walk_away("anger", "Not past 4 5!"), Observation(5, 20, 60, 30, ""))
    assert action.message == "I am ending this negotiation."


def test_a_clamped_offer_states_the_clamped_value():
    guard = Guard(_view(45))  # a creditor: 45 days at most
    obs = Observation(5, 20, 90, 30, "")
    action = guard.apply(Action.offer(95, "neutral", "Let us meet halfway: 95 days."), obs)
    assert (action.value, action.message) == (45, "Let us meet halfway: 45 days.")
    action = guard.apply(Action.offer(95, "neutral", "Ninety-five days, my friend. Deal?"), obs)
    assert action.message == "My offer is 45 days. Deal?"
    action = guard.apply(Action.offer(95, "neutral", "Take it or leave it."), obs)
    assert action.message == "Take it or leave it. My offer is 45 days."
    assert guard.stats.clamped_offers == 3 and guard.stats.redactions == 0


def test_a_blocked_accept_at_the_limit_names_the_offer():
    guard = Guard(_view(45))
    action = guard.apply(Action.accept("joy", "Deal."), Observation(5, 20, 90, 45, ""))
    assert (action.move, action.value) == ("offer", 45)
    assert action.message == "I cannot accept that. My offer stays at 45 days."


def test_check_gives_a_reason_and_changes_nothing():
    guard = Guard(_view(45))
    obs = Observation(5, 20, 60, 30, "")
    assert guard.check(Action.offer(40, "joy", "Forty days."), obs) is None
    assert guard.check(Action.offer(45, "joy", "My limit: 45 days."), obs) is None
    assert "limit (45 days)" in guard.check(Action.offer(40, "joy", "My limit: XLV days."), obs)
    assert "past your limit" in guard.check(Action.offer(50, "joy", "Fifty."), obs)
    assert "past your limit" in guard.check(Action.accept("joy", "Fine."), obs)
    assert "no offer" in guard.check(Action.accept("joy", "Fine."), Observation(0, 30, None, None, ""))
    assert "from 1 to 365" in guard.check(Action.offer(400, "joy", "Long."), obs)
    assert "emotion" in guard.check(Action.offer(40, "smug", "Forty."), obs)
    assert guard.leaks("forty-five", None) and not guard.leaks("forty-five", 45)
    assert guard.stats.to_dict() == {"clamped_offers": 0, "blocked_accepts": 0, "redactions": 0,
                                     "repaired_emotions": 0}


# No garbled message anywhere.

def _midpoint_agent() -> type[Agent]:
    """The README's example agent ("Writing a custom agent"), as the example plugin ships it: it opens
    at its target, then offers the midpoint of the two last offers, naming it in its message."""
    spec = importlib.util.spec_from_file_location("midpoint_agent", EXAMPLE_PLUGIN / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Midpoint


def _assert_clean(transcript, scenario) -> None:
    for move in transcript:
        assert not GARBLED.search(move["message"]), move
        reservation = scenario.reservation[move["role"]]
        if move["move"] == "offer" and move["value"] != reservation:
            assert not states(move["message"], reservation), (reservation, move)


@pytest.mark.parametrize("opponent", ["victim", "conceder", "boulware", "vanilla-counterpart"])
def test_the_readme_midpoint_agent_is_never_garbled(opponent):
    for scenario in load_scenarios("credit", "test")[:8]:
        agents = {FOCAL: _midpoint_agent()(), COUNTERPART: make_agent(AgentSpec(opponent))}
        _, transcript, _ = play_pair(AgentSpec("vanilla"), AgentSpec(opponent), scenario, agents=agents)
        _assert_clean(transcript, scenario)
        offers = [m for m in transcript if m["role"] == FOCAL and m["move"] == "offer"]
        assert all(str(m["value"]) in m["message"] for m in offers), offers


def test_a_default_credit_tournament_has_no_garbled_message():
    with tempfile.TemporaryDirectory() as out:
        table = run_tournament(TournamentSpec(agents=default_agents(), domains=["credit"], scenarios=3, workers=0), out)
        transcripts = load_transcripts(out)
    scenarios = {s.id: s for s in load_scenarios("credit", "all")}
    assert len(transcripts) == len(table) > 100
    for match_id, scenario_id in zip(table["match_id"], table["scenario"]):
        _assert_clean(transcripts[match_id], scenarios[scenario_id])
