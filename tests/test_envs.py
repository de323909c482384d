"""The negotiation environment: PettingZoo conformance, scenarios, utilities, rules."""
from __future__ import annotations

import pytest
from pettingzoo.test import api_test, seed_test

import envs
from envs import COUNTERPART, DOMAINS, FOCAL, Action, load_scenarios, make_env

DOMAIN_NAMES = list(DOMAINS)


@pytest.mark.parametrize("domain", DOMAIN_NAMES)
def test_pettingzoo_api(domain):
    api_test(make_env(domain), num_cycles=300)


@pytest.mark.parametrize("domain", DOMAIN_NAMES)
def test_pettingzoo_seed(domain):
    seed_test(lambda: make_env(domain, 3), num_cycles=300)


@pytest.mark.parametrize("domain", DOMAIN_NAMES)
def test_scenario_counts_splits_and_stability(domain):
    train, test, every = (load_scenarios(domain, s) for s in ("train", "test", "all"))
    assert (len(train), len(test), len(every)) == (80, 20, 100)
    assert {s.id for s in train} | {s.id for s in test} == {s.id for s in every}
    assert not {s.id for s in train} & {s.id for s in test}
    assert [s.id for s in test] == [f"{domain}-{i:03d}" for i in range(80, 100)]
    again = envs.scenarios.generate_scenario(domain, 42)
    assert again == every[42]


@pytest.mark.parametrize("domain", DOMAIN_NAMES)
def test_reservations_lie_beyond_targets_and_most_have_a_zopa(domain):
    dom = DOMAINS[domain]
    scenarios = load_scenarios(domain, "all")
    for s in scenarios:
        for kind in (FOCAL, COUNTERPART):
            assert dom.better(kind, s.target[kind], s.reservation[kind]), (s.id, kind)
            assert dom.low <= s.reservation[kind] <= dom.high
    with_zopa = sum(s.has_zopa for s in scenarios)
    assert 60 <= with_zopa < 100


def test_generated_ranges_follow_emomas_facts():
    credit = load_scenarios("credit", "all")
    assert all(5 <= s.target[FOCAL] <= 20 and 32 <= s.target[COUNTERPART] <= 179 for s in credit)
    rescue = load_scenarios("rescue", "all")
    assert all(10 <= s.target[COUNTERPART] <= 300 and 35 <= s.target[FOCAL] <= 600 for s in rescue)
    sleep = load_scenarios("sleep", "all")
    assert all(-15 <= s.target[FOCAL] <= 120 and 90 <= s.target[COUNTERPART] <= 360 for s in sleep)


@pytest.mark.parametrize("domain", DOMAIN_NAMES)
def test_focal_utility_rises_as_value_moves_its_way(domain):
    dom = DOMAINS[domain]
    s = next(x for x in load_scenarios(domain, "all") if x.has_zopa)
    lo, hi = sorted((s.reservation[FOCAL], s.reservation[COUNTERPART]))
    values = list(range(lo, hi + 1))
    focal_u = [envs.utility(s, FOCAL, v) for v in values]
    counter_u = [envs.utility(s, COUNTERPART, v) for v in values]
    rising = all(b > a for a, b in zip(focal_u, focal_u[1:]))
    falling = all(b < a for a, b in zip(focal_u, focal_u[1:]))
    assert (falling if dom.focal_prefers == "low" else rising)
    counter_rising = all(b > a for a, b in zip(counter_u, counter_u[1:]))
    assert counter_rising == (dom.focal_prefers == "low")
    assert envs.utility(s, FOCAL, s.reservation[FOCAL]) == 0.0
    assert envs.utility(s, FOCAL, s.target[FOCAL]) == 1.0
    assert envs.utility(s, FOCAL, None) == 0.0
    worse = s.reservation[FOCAL] + dom.concession_sign(FOCAL) * 5
    assert envs.utility(s, FOCAL, worse) < 0


@pytest.mark.parametrize("domain", DOMAIN_NAMES)
def test_savings_direction(domain):
    s = load_scenarios(domain, "test")[0]
    assert envs.savings(s, FOCAL, s.target[FOCAL]) == 1.0
    assert envs.savings(s, FOCAL, s.target[COUNTERPART]) == 0.0
    mid = (s.target[FOCAL] + s.target[COUNTERPART]) / 2
    assert envs.savings(s, FOCAL, mid) == pytest.approx(0.5)
    assert envs.savings(s, COUNTERPART, mid) == pytest.approx(0.5)
    assert envs.savings(s, FOCAL, None) is None


def _play(env, actions):
    env.reset(seed=0)
    for action in actions:
        env.step(action)
    return env.outcome


def test_offer_and_accept_reaches_agreement_with_utilities_as_rewards():
    env = make_env("credit", 80)
    s = env.scenario
    outcome = _play(env, [Action.offer(s.target[FOCAL]), Action.offer(40), Action.accept(message="Deal.")])
    assert outcome.agreement and outcome.value == 40 and outcome.ended_by == "accept" and outcome.rounds == 3
    assert env.rewards[FOCAL] == pytest.approx(envs.utility(s, FOCAL, 40))
    assert env.infos[COUNTERPART]["outcome"]["value"] == 40
    assert outcome.social_welfare == pytest.approx(sum(outcome.utility.values()))


def test_message_limit_is_a_breakdown():
    env = make_env("sleep", 0, max_messages=4)
    outcome = _play(env, [Action.offer(10), Action.offer(300), Action.offer(20), Action.offer(290)])
    assert not outcome.agreement and outcome.ended_by == "message_limit"
    assert all(env.truncations.values()) and outcome.utility == {FOCAL: 0.0, COUNTERPART: 0.0}


def test_walk_away_ends_without_deal():
    outcome = _play(make_env("rescue", 0), [Action.offer(200), Action.walk_away(emotion="anger")])
    assert outcome.ended_by == "walk_away" and outcome.value is None


def test_convergence_rule_is_off_by_default_and_settles_at_midpoint():
    plain = _play(make_env("credit", 0), [Action.offer(50), Action.offer(53)])
    assert plain is None
    converged = _play(make_env("credit", 0, converge_within=5), [Action.offer(50), Action.offer(53)])
    assert converged.ended_by == "converged" and converged.value == 52


@pytest.mark.parametrize("action, field", [
    (Action.offer(10_000), "value"),
    (Action.accept(), "move"),
    (Action.offer(30, emotion="smugness"), "emotion"),
    (Action.offer(30, message="x" * 501), "message"),
    (Action("haggle", 30), "move"),
    ({"move": 0, "value": 30, "emotion": 0}, "message"),
])
def test_invalid_actions_end_the_match_naming_the_field(action, field):
    env = make_env("credit", 0)
    outcome = _play(env, [action])
    assert outcome.ended_by == "violation" and not outcome.agreement
    assert outcome.violation.field == field and outcome.violation.agent == FOCAL
    assert outcome.utility == {FOCAL: 0.0, COUNTERPART: 0.0}


def test_observation_hides_private_values_and_emotion_labels():
    env = make_env("credit", 0)
    env.reset()
    env.step(Action.offer(20, emotion="anger", message="Pay within 20 days."))
    obs = env.observe(COUNTERPART)
    assert obs["last_message"] == "Pay within 20 days." and obs["last_offer"][0] == 20
    assert obs["target"][0] == env.scenario.target[COUNTERPART]
    flat = repr(obs)
    assert "anger" not in flat and str(float(env.scenario.reservation[FOCAL])) not in flat


def test_render_ansi_lists_the_transcript():
    env = make_env("hospital", 0, render_mode="ansi")
    _play(env, [Action.offer(90, message="Ninety days."), Action.walk_away()])
    text = env.render()
    assert "hospital scheduler" in text and "Ninety days." in text and "walk_away" in text


def test_nash_point_on_the_reservation_midpoint():
    s = next(x for x in load_scenarios("credit", "all") if x.has_zopa)
    u_f, u_c = envs.nash_point(s)
    assert 0 < u_f < 1 and 0 < u_c < 1
    assert envs.distance_to_nash(s, (u_f, u_c)) == 0.0


def test_make_env_rejects_unknown_domain():
    with pytest.raises(KeyError, match="unknown domain 'mars'"):
        make_env("mars")
