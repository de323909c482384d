"""The EmoDistill selector against its paper (/work/shared/research/seeds-emomas-emodistill.md §6-7):
the state features, the per-turn return, the policy network and how the agent samples from it.

Values are computed by hand on offers that are exact binary fractions of the gap, so every
comparison is exact; sections of the fact sheet are named in comments.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from agents import AgentSpec, make_agent
from agents.base import Observation, ScenarioView, Turn
from agents.emodistill import GapFrame, SelectorPolicy, episode_rewards, observable_frame, state_features
from agents.emodistill.features import FEATURE_NAMES, STATE_DIM
from agents.llm import ConfigError
from agents.llm.llama_loading import default_model_path
from envs import FOCAL, GOEMOTIONS_28, load_scenarios

F = {name: i for i, name in enumerate(FEATURE_NAMES)}
N = len(GOEMOTIONS_28)


# ---- state features (§7; made direction-aware in gap coordinates, see features.py)

def test_features_on_a_hand_computed_dialogue():
    frame = GapFrame(0, 8)
    moves = [("focal", "offer", 0), ("counterpart", "offer", 8), ("focal", "offer", 1), ("counterpart", "offer", 6),
             ("focal", "offer", 2), ("counterpart", "offer", 5), ("focal", "offer", 3), ("counterpart", "offer", 1)]
    x = state_features(frame, moves, 8, 32, None)
    # counterpart positions 1, .75, .625, .125: concessions 0, .25, .125, .5; focal now at .375
    expected = {"counterpart_concession": 0.5, "spread": -0.25, "progress": 0.25, "counterpart_position": 0.125,
                "focal_drift": 0.375, "recent_concession_mean": (0.25 + 0.125 + 0.5) / 3, "stalemate": 0.0,
                "deal_proximity": 0.75, "breakdown_risk": 0.25 * 0.25}
    assert {k: float(x[F[k]]) for k in expected} == pytest.approx(expected, abs=1e-7)
    assert x.dtype == np.float32 and x.shape == (STATE_DIM,) and not x[9:].any()


def test_features_are_clipped_where_the_paper_clips_them():
    frame = GapFrame(0, 8)
    far = [("focal", "offer", -12), ("counterpart", "offer", 20)]  # focal at -1.5, counterpart at 2.5
    x = state_features(frame, far, 40, 30, "anger")
    assert x[F["spread"]] == 2.0 and x[F["counterpart_position"]] == 2.0 and x[F["focal_drift"]] == -1.0
    assert x[F["progress"]] == 1.0 and x[F["deal_proximity"]] == 0.0 and x[F["breakdown_risk"]] == 1.0
    assert x[F["counterpart_concession"]] == -1.5
    past = [("focal", "offer", 0), ("counterpart", "offer", -12)]  # the counterpart jumps past our target
    x = state_features(frame, past, 2, 30, None)
    assert x[F["counterpart_concession"]] == 2.0 and x[F["counterpart_position"]] == -1.0
    assert x[F["recent_concession_mean"]] == 2.0
    beyond = [("focal", "offer", 24), ("counterpart", "offer", 8)]  # we offered three gaps past our target
    assert state_features(frame, beyond, 2, 30, None)[F["focal_drift"]] == 2.0
    opening = state_features(frame, [], 0, 30, None)  # nothing offered yet: no concession, no mean
    assert opening[F["counterpart_concession"]] == 0.0 and opening[F["recent_concession_mean"]] == 0.0


def test_a_step_of_one_unit_ends_a_stalemate_and_smaller_ones_extend_it():
    frame = GapFrame(0, 4)
    still = [("counterpart", "offer", 4)] * 4
    assert state_features(frame, still, 8, 30, None)[F["stalemate"]] == pytest.approx(0.4)
    moved = still + [("counterpart", "offer", 3)]  # exactly one unit
    assert state_features(frame, moved, 9, 30, None)[F["stalemate"]] == 0.0
    assert state_features(frame, still * 4, 30, 30, None)[F["stalemate"]] == 1.0  # capped at 10 steps


def test_the_frame_before_the_counterpart_has_offered_is_a_unit_frame():
    frame = observable_frame(10, [("focal", "offer", 10)])
    assert (frame.focal_target, frame.counterpart_target) == (10, 11)
    frame = observable_frame(10, [("focal", "offer", 10), ("counterpart", "offer", 50), ("counterpart", "offer", 40)])
    assert frame.counterpart_target == 50  # its first offer stands in for its private target


# ---- the return R(tau) = sum_t w(t) [dctp_t - dfoc_t] + R_term (§6, v4)

def test_each_focal_concession_is_measured_from_its_previous_offer():
    frame = GapFrame(0, 8)
    moves = [("focal", "offer", 0), ("counterpart", "offer", 8), ("focal", "offer", 2), ("counterpart", "offer", 8),
             ("focal", "offer", 4), ("counterpart", "offer", 8)]
    rewards = episode_rewards(frame, moves, agreement=False, max_messages=8)  # T = 4 focal turns
    w = [1 - t / 4 for t in (1, 2, 3)]
    assert rewards.step_rewards == pytest.approx([w[0] * 0.0, w[1] * -0.25, w[2] * -0.25 - 2.0])


def test_per_turn_terms_are_clipped_at_plus_two():
    moves = [("focal", "offer", 0), ("counterpart", "offer", -24)]  # the counterpart concedes 4 gaps at once
    assert episode_rewards(GapFrame(0, 8), moves, True, 30).step_rewards == pytest.approx([14 / 15 * 2.0 + 2.0])


# ---- the policy network (§7: Linear -> ReLU -> LayerNorm, twice, then the logits)

def _weights(rng, hidden: int = 6, norms: bool = True) -> dict[str, np.ndarray]:
    w = {"l0.weight": rng.normal(size=(hidden, STATE_DIM)), "l0.bias": rng.normal(size=hidden),
         "l1.weight": rng.normal(size=(hidden, hidden)), "l1.bias": rng.normal(size=hidden),
         "out.weight": rng.normal(size=(N, hidden)), "out.bias": rng.normal(size=N)}
    if norms:
        for i in (0, 1):
            w[f"n{i}.weight"], w[f"n{i}.bias"] = rng.normal(size=hidden), rng.normal(size=hidden)
    return w


def _reference_logits(w: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    for i in (0, 1):
        h = [max(0.0, float(row @ x) + b) for row, b in zip(w[f"l{i}.weight"], w[f"l{i}.bias"])]
        mean = sum(h) / len(h)
        var = sum((v - mean) ** 2 for v in h) / len(h)
        gain, bias = w.get(f"n{i}.weight", np.ones(len(h))), w.get(f"n{i}.bias", np.zeros(len(h)))
        x = np.array([(v - mean) / np.sqrt(var + 1e-5) * g + b for v, g, b in zip(h, gain, bias)])
    return w["out.weight"] @ x + w["out.bias"]


@pytest.mark.parametrize("norms", [True, False])
def test_logits_are_the_documented_network(norms):
    rng = np.random.default_rng(4)
    w = _weights(rng, norms=norms)
    policy = SelectorPolicy(w, {"format": 1, "state_dim": STATE_DIM})
    for _ in range(3):
        x = rng.normal(size=STATE_DIM).astype(np.float32)
        np.testing.assert_allclose(policy.logits(x), _reference_logits(w, x.astype(np.float64)), rtol=1e-10)


def test_a_batch_of_states_gets_the_logits_of_each_state():
    rng = np.random.default_rng(5)
    policy = SelectorPolicy(_weights(rng), {"format": 1, "state_dim": STATE_DIM})
    batch = rng.normal(size=(4, STATE_DIM))
    np.testing.assert_allclose(policy.logits(batch), np.stack([policy.logits(x) for x in batch]), rtol=1e-12)


def test_a_selector_file_with_pickled_objects_is_refused(tmp_path):
    np.savez(tmp_path / "bad.npz", __meta__=np.array(json.dumps({"format": 1, "state_dim": STATE_DIM})),
             payload=np.array([{"not": "weights"}], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        SelectorPolicy.load(tmp_path / "bad.npz")


def _fixed_logits(logits: np.ndarray, meta: dict | None = None) -> SelectorPolicy:
    """A selector whose logits are ``logits`` whatever the state."""
    w = {"l0.weight": np.zeros((2, STATE_DIM)), "l0.bias": np.zeros(2), "l1.weight": np.zeros((2, 2)),
         "l1.bias": np.zeros(2), "out.weight": np.zeros((len(logits), 2)), "out.bias": np.asarray(logits, float)}
    return SelectorPolicy(w, {"format": 1, "state_dim": STATE_DIM} | (meta or {}))


def test_greedy_by_default_and_sampling_from_softmax_over_temperature():
    logits = np.zeros(N)
    logits[3], logits[7] = np.log(8.0), np.log(4.0)
    policy, state, rng = _fixed_logits(logits), np.zeros(STATE_DIM), np.random.default_rng(0)
    assert {policy.choose(state, rng) for _ in range(20)} == {GOEMOTIONS_28[3]}
    for temperature, expected in ((1.0, 8 / (8 + 4 + 26)), (2.0, 8 ** 0.5 / (8 ** 0.5 + 2 + 26))):
        picks = [policy.choose(state, rng, temperature) for _ in range(3000)]
        share = picks.count(GOEMOTIONS_28[3]) / len(picks)
        assert share == pytest.approx(expected, abs=0.03), temperature
        assert len(set(picks)) >= 20


def test_sampling_is_stable_for_large_logits():
    logits = np.full(N, 900.0)
    logits[5] = 1000.0
    rng = np.random.default_rng(1)
    assert {_fixed_logits(logits).choose(np.zeros(STATE_DIM), rng, 1.0) for _ in range(50)} == {GOEMOTIONS_28[5]}


def test_the_labels_come_from_the_file_and_a_mismatch_says_so():
    policy = _fixed_logits([0.0, 1.0, 0.0], {"labels": ["calm", "firm", "warm"]})
    assert policy.choose(np.zeros(STATE_DIM), np.random.default_rng(0)) == "firm"
    with pytest.raises(ValueError, match=f"selector format 2 / state_dim {STATE_DIM} does not match"):
        SelectorPolicy({}, {"format": 2, "state_dim": STATE_DIM})


# ---- the agent: feeds back its previous emotion, samples at temperature 1 (§7 "Deployment"), seeded

def _cycle_selector(path) -> str:
    """A selector whose greedy pick is the label after the previous one (the first label at the start)."""
    w = {"l0.weight": np.zeros((N, STATE_DIM)), "l0.bias": np.zeros(N), "l1.weight": np.eye(N), "l1.bias": np.zeros(N),
         "out.weight": np.roll(np.eye(N), 1, axis=0), "out.bias": np.eye(N)[0] * 1e-3}
    w["l0.weight"][:, 9:] = np.eye(N)  # hidden unit k reads previous_<label k>
    SelectorPolicy(w, {"format": 1, "state_dim": STATE_DIM, "domain": "credit"}).save(path)
    return str(path)


def _observation(turn: int) -> Observation:
    return Observation(turn, 30 - turn, None, None, "", (Turn("counterpart", "offer", 100, ""),))


def _agent(seed: int = 3, **params):
    agent = make_agent(AgentSpec("emodistill", params))
    agent.reset(ScenarioView.of(load_scenarios("credit")[0], FOCAL, 30, "goemotions-28"), FOCAL, seed)
    return agent


def test_the_agent_feeds_its_previous_emotion_back(tmp_path):
    agent = _agent(selector=_cycle_selector(tmp_path / "cycle.npz"), temperature_emotion=0)
    assert [agent.pick_emotion(_observation(t)) for t in range(4)] == list(GOEMOTIONS_28[:4])


def test_the_agent_samples_at_temperature_one_by_default_and_is_seeded(tmp_path):
    logits = np.zeros(N)
    logits[3] = np.log(8.0)
    _fixed_logits(logits, {"domain": "credit"}).save(tmp_path / "fixed.npz")
    path = str(tmp_path / "fixed.npz")
    picks = [_agent(seed, selector=path).pick_emotion(_observation(0)) for seed in range(600)]
    assert picks.count(GOEMOTIONS_28[3]) / 600 == pytest.approx(8 / 35, abs=0.05)  # 0.095 at temperature 2
    greedy = {_agent(seed, selector=path, temperature_emotion=0).pick_emotion(_observation(0)) for seed in range(20)}
    assert greedy == {GOEMOTIONS_28[3]}
    runs = [[a.pick_emotion(_observation(t)) for t in range(8)] for a in (_agent(5, selector=path), _agent(5, selector=path))]
    assert runs[0] == runs[1]


def test_a_selector_for_another_domain_is_refused(tmp_path):
    _fixed_logits(np.zeros(N), {"domain": "sleep"}).save(tmp_path / "sleep.npz")
    with pytest.raises(ConfigError, match=r"selector .*sleep\.npz was trained for sleep, not credit"):
        _agent(selector=str(tmp_path / "sleep.npz"))


def test_the_expression_backend_follows_the_parameters(tmp_path):
    ollama = _agent(expression_model="tuned", ollama_host="http://127.0.0.1:9").backend
    assert (ollama.kind, ollama.model, ollama.inner.host) == ("ollama", "tuned", "http://127.0.0.1:9")
    adapter = tmp_path / "lora.gguf"
    adapter.write_bytes(b"GGUF")
    local = _agent(expression_adapter=str(adapter), expression_base=str(default_model_path())).backend
    assert (local.kind, local.inner.lora_path, local.inner.model) == ("llama-cpp", str(adapter), str(default_model_path()))
