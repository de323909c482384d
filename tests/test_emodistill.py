"""EmoDistill: direction-aware features and rewards, IQL learning, exports, shipped selectors, CLI."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from agents import AgentSpec
from agents.emodistill import GapFrame, SelectorPolicy, episode_rewards, observable_frame, state_features
from agents.emodistill.features import FEATURE_NAMES, STATE_DIM
from arena.cli import main
from arena.training.iql import IQLConfig, train_iql
from envs import DOMAINS, GOEMOTIONS_28, load_scenarios
from tests.helpers import play_pair

F = {name: i for i, name in enumerate(FEATURE_NAMES)}


def _toward(a: float, b: float, share: float) -> int:
    return round(a + (b - a) * share)


@pytest.mark.parametrize("domain", list(DOMAINS))
def test_features_have_the_same_signs_in_every_domain(domain):
    s = load_scenarios(domain, "test")[0]
    f0, b0 = s.target["focal"], s.target["counterpart"]
    moves = [("focal", "offer", f0), ("counterpart", "offer", b0), ("focal", "offer", _toward(f0, b0, 0.2)),
             ("counterpart", "offer", _toward(b0, f0, 0.3))]
    frame = observable_frame(f0, moves)
    x = state_features(frame, moves, 4, 30, "anger")
    assert x.shape == (STATE_DIM,)
    assert x[F["counterpart_concession"]] == pytest.approx(0.3, abs=0.02)   # the counterpart moved our way
    assert x[F["focal_drift"]] == pytest.approx(0.2, abs=0.02)              # we moved theirs
    assert x[F["spread"]] == pytest.approx(0.5, abs=0.03)
    assert x[F["counterpart_position"]] == pytest.approx(0.7, abs=0.02)
    assert x[F["previous_anger"]] == 1.0 and x[F["progress"]] == pytest.approx(4 / 30)
    hardening = moves[:3] + [("counterpart", "offer", _toward(b0, f0, -0.2))]
    assert state_features(frame, hardening, 4, 30, None)[F["counterpart_concession"]] < 0


def test_first_turn_state_and_stalemate():
    x = state_features(GapFrame(10, 11), [], 0, 30, None)
    assert x[F["spread"]] == 1.0 and x[F["counterpart_concession"]] == 0.0 and x[9:].sum() == 0
    frame = GapFrame(10, 110)
    moves = [("focal", "offer", 10), ("counterpart", "offer", 110)] + [("focal", "offer", 10), ("counterpart", "offer", 110)] * 3
    assert state_features(frame, moves, 8, 30, "neutral")[F["stalemate"]] == pytest.approx(0.4)


def test_rewards_on_a_hand_computed_episode_in_both_directions():
    credit = [("focal", "offer", 10), ("counterpart", "offer", 100), ("focal", "offer", 20),
              ("counterpart", "offer", 90), ("focal", "accept", None)]
    rescue = [(k, m, None if v is None else 120 - v) for k, m, v in credit]  # the mirror image
    expected = [14 / 15 * 0.1, 13 / 15 * (0.1 - 0.1), 2.0]
    for frame, moves in ((GapFrame(10, 110), credit), (GapFrame(110, 10), rescue)):
        rewards = episode_rewards(frame, moves, agreement=True, max_messages=30)
        assert rewards.step_rewards == pytest.approx(expected)
        assert rewards.total == pytest.approx(sum(expected))
    broke = episode_rewards(GapFrame(10, 110), credit[:4], agreement=False, max_messages=30)
    assert broke.step_rewards[-1] == pytest.approx(13 / 15 * 0.0 - 2.0)


def test_concessions_are_clipped_to_two():
    moves = [("focal", "offer", 10), ("counterpart", "offer", 500)]
    assert episode_rewards(GapFrame(10, 20), moves, False, 30).step_rewards[0] == pytest.approx(14 / 15 * -2 - 2)


def test_iql_learns_the_clearly_best_emotion():
    pytest.importorskip("torch", reason="the IQL trainer needs the 'train' extra")
    from arena.training.iql import IQLConfig, train_iql

    rng = np.random.default_rng(0)
    n, best = 6000, GOEMOTIONS_28.index("gratitude")
    prototypes = rng.normal(size=(10, STATE_DIM)).astype(np.float32)  # recurring states, as in real play
    states = prototypes[rng.integers(0, len(prototypes), n)]
    actions = rng.integers(0, len(GOEMOTIONS_28), n)
    data = {"states": states, "actions": actions, "rewards": (actions == best).astype(np.float32),
            "next_states": np.zeros_like(states), "dones": np.ones(n, np.float32), "terminals": np.zeros(n, np.float32)}
    policy = train_iql(data, IQLConfig(steps=800, hidden=64, batch=128, seed=1), "credit")
    chosen = [policy.choose(x, rng) for x in prototypes]
    probs = np.exp(policy.logits(prototypes[0]) - policy.logits(prototypes[0]).max())
    assert probs.argmax() == best and probs[best] / probs.sum() > 0.2  # AWR leans on the best
    assert chosen == ["gratitude"] * len(prototypes)


def _episodes(edge: float, n_episodes: int = 2000, length: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Multi-turn episodes on 12 recurring scenarios: each turn pays noise (sd 0.014, the real
    per-turn spread) plus ``edge`` for "gratitude"; the last turn adds +2 or -2 by scenario (whether
    it has a zone of agreement), whatever the emotions. The state carries the scenario and progress."""
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(size=(12, STATE_DIM)).astype(np.float32)
    scenario = rng.integers(0, len(prototypes), n_episodes)
    states = np.repeat(prototypes[scenario][:, None, :], length, axis=1)
    states[:, :, 0] = np.arange(length) / length  # progress
    actions = rng.integers(0, len(GOEMOTIONS_28), (n_episodes, length))
    shaping = rng.normal(0, 0.014, (n_episodes, length)) + edge * (actions == GOEMOTIONS_28.index("gratitude"))
    terminals = np.zeros((n_episodes, length))
    terminals[:, -1] = np.where(scenario % 3 == 0, -2.0, 2.0)
    dones = np.zeros((n_episodes, length))
    dones[:, -1] = 1
    next_states = np.concatenate([states[:, 1:], np.zeros_like(states[:, :1])], axis=1)
    flat = lambda x, dtype=np.float32: x.reshape(n_episodes * length, *x.shape[2:]).astype(dtype)  # noqa: E731
    return {"states": flat(states), "actions": flat(actions, np.int64), "rewards": flat(shaping + terminals),
            "next_states": flat(next_states), "dones": flat(dones), "terminals": flat(terminals)}, flat(states)[:400]


def _mean_policy(policy, states: np.ndarray) -> np.ndarray:
    logits = np.array([policy.logits(x) for x in states])
    p = np.exp(logits - logits.max(1, keepdims=True))
    return (p / p.sum(1, keepdims=True)).mean(0)


@pytest.mark.slow
def test_iql_finds_a_small_per_turn_edge_beside_a_large_terminal_bonus():
    pytest.importorskip("torch", reason="IQL needs the 'train' extra")
    data, prototypes = _episodes(edge=0.02)
    config = IQLConfig(steps=1500, hidden=64, batch=256, seed=2)
    learned = _mean_policy(train_iql(data, config, "credit"), prototypes)
    best = GOEMOTIONS_28.index("gratitude")
    assert learned.argmax() == best and learned[best] > 0.5  # most of the probability on the paying emotion
    # dividing by the largest reward (the +-2 bonus) shrinks the edge below what beta can see
    scaled_by_max = _mean_policy(train_iql(data, replace(config, reward_scaling="max"), "credit"), prototypes)
    assert scaled_by_max[best] < 0.1
    # with nothing to learn the selector stays near uniform
    flat, _ = _episodes(edge=0.0, seed=1)
    uniform = _mean_policy(train_iql(flat, config, "credit"), prototypes)
    entropy = -(uniform * np.log(uniform)).sum()
    assert entropy > 0.95 * np.log(len(GOEMOTIONS_28)) and uniform.max() < 0.1


def test_stacked_members_are_independent_networks_and_export_exactly():
    torch = pytest.importorskip("torch", reason="the stacked networks need the 'train' extra")
    from arena.training.stacked import MLPShape, StackedMLP

    torch.manual_seed(0)
    nets = StackedMLP(3, MLPShape(STATE_DIM, 16, len(GOEMOTIONS_28)))
    x = torch.randn(5, STATE_DIM)
    together = nets(x)
    for member in range(3):  # one member alone gives the same output as in the stack
        assert torch.allclose(nets(x, member)[0], together[member], atol=1e-6)
    policy = SelectorPolicy(nets.member_weights(2), {"format": 1, "state_dim": STATE_DIM})
    assert np.allclose(policy.logits(x.numpy()), together[2].detach().numpy(), atol=1e-5)
    together[0].sum().backward()  # a loss on member 0 leaves the other members' gradients at zero
    assert nets.flat.grad[1:].abs().max() == 0 and nets.flat.grad[0].abs().max() > 0


def test_written_out_backward_equals_autograd():
    torch = pytest.importorskip("torch", reason="the stacked networks need the 'train' extra")
    from arena.training.stacked import Activations, MLPShape, StackedMLP, backward, forward

    torch.manual_seed(1)
    shape = MLPShape(STATE_DIM, 24, 7)
    nets, x, weights = StackedMLP(3, shape), torch.randn(32, STATE_DIM), torch.randn(3, 32, 7)
    (nets(x) * weights).sum().backward()  # autograd's gradient of sum(weights * out)
    kept, written_out = Activations(), torch.full_like(nets.flat, float("nan"))
    with torch.no_grad():
        forward(shape.views(nets.flat.detach()), x, kept)
    backward(shape.views(nets.flat.detach()), shape.views(written_out), kept, weights)
    assert torch.allclose(written_out, nets.flat.grad, rtol=1e-4, atol=1e-5)  # every entry written, and right
    per_member_inputs = torch.randn(3, 32, STATE_DIM)  # members may also read different inputs
    nets.flat.grad = None
    (nets(per_member_inputs) * weights).sum().backward()
    kept = Activations()
    with torch.no_grad():
        forward(shape.views(nets.flat.detach()), per_member_inputs, kept)
    backward(shape.views(nets.flat.detach()), shape.views(written_out), kept, weights)
    assert torch.allclose(written_out, nets.flat.grad, rtol=1e-4, atol=1e-5)


def test_iql_trainer_gradient_is_the_gradient_of_the_iql_loss():
    torch = pytest.importorskip("torch", reason="the IQL trainer needs the 'train' extra")
    from arena.training.iql import IQLConfig
    from arena.training.iql_trainer import Q, Q_TARGET, V, IQLTrainer, iql_loss
    from arena.training.stacked import forward

    rng, n = np.random.default_rng(3), 500
    data = {"states": rng.normal(size=(n, STATE_DIM)).astype(np.float32), "actions": rng.integers(0, 28, n),
            "rewards": rng.normal(size=n).astype(np.float32), "dones": (rng.random(n) < 0.2).astype(np.float32),
            "next_states": rng.normal(size=(n, STATE_DIM)).astype(np.float32), "terminals": np.zeros(n, np.float32)}
    config = IQLConfig(hidden=32, batch=64, seed=4)
    trainer = IQLTrainer(data, config)
    for _ in range(5):  # let the target drift away from Q
        trainer.step()
    s, a, r, s2, done = batch = trainer.sample()
    gradient = trainer.gradient(*batch).clone()
    nets, target = trainer.nets, trainer.table[Q_TARGET:]
    with torch.no_grad():  # the targets straight from their definitions, the loss by autograd
        q_target = forward(nets.shape.views(target), s)[0].gather(1, a[:, None]).squeeze(1)
        td_target = r + config.gamma * (1 - done) * nets(s2, V)[0, :, 0]
    nets.flat.grad = None
    iql_loss(nets(s), a, q_target, td_target, config).backward()
    assert torch.allclose(gradient, nets.flat.grad, rtol=1e-4, atol=1e-6)
    assert not torch.equal(target[0], nets.flat.detach()[Q])  # the Polyak target trails Q
    assert nets.flat.data_ptr() == trainer.table.data_ptr()  # Adam trains the rows of the table


def test_iql_loss_on_hand_computed_values():
    torch = pytest.importorskip("torch", reason="the IQL trainer needs the 'train' extra")
    from arena.training.iql import IQLConfig
    from arena.training.iql_trainer import iql_loss

    out = torch.zeros(3, 2, 3)  # [Q, V, policy] x 2 transitions x 3 labels
    out[0, 0, 0], out[0, 1, 1] = 0.2, 0.4
    loss = iql_loss(out, torch.tensor([0, 1]), q_target=torch.tensor([1.0, -1.0]), td_target=torch.tensor([0.5, 0.0]),
                    config=IQLConfig(beta=3.0))
    td = ((0.2 - 0.5) ** 2 + 0.4 ** 2) / 2
    expectile = (0.7 * 1.0 ** 2 + 0.3 * (-1.0) ** 2) / 2  # V = 0 is below the first target, above the second
    awr = (math.exp(3.0) + math.exp(-3.0)) / 2 * math.log(3)  # uniform policy: -log pi = log 3
    assert float(loss) == pytest.approx(td + expectile + awr, rel=1e-6)


def test_gradients_are_clipped_per_member():
    torch = pytest.importorskip("torch", reason="the stacked networks need the 'train' extra")
    from arena.training.stacked import clip_rows_

    grad = torch.tensor([[300.0, 400.0, 0.0], [0.03, 0.04, 0.0]])
    clip_rows_(grad, 1.0)
    assert torch.linalg.vector_norm(grad[0]) == pytest.approx(1.0, rel=1e-5)  # the large member is scaled down
    assert torch.equal(grad[1], torch.tensor([0.03, 0.04, 0.0]))  # ... the small one is untouched


def test_selector_round_trips_through_npz(tmp_path):
    rng = np.random.default_rng(0)
    h = 8
    weights = {"l0.weight": rng.normal(size=(h, STATE_DIM)), "l0.bias": np.zeros(h), "n0.weight": np.ones(h),
               "n0.bias": np.zeros(h), "l1.weight": rng.normal(size=(h, h)), "l1.bias": np.zeros(h),
               "n1.weight": np.ones(h), "n1.bias": np.zeros(h), "out.weight": rng.normal(size=(28, h)),
               "out.bias": np.zeros(28)}
    policy = SelectorPolicy(weights, {"format": 1, "state_dim": STATE_DIM, "domain": "sleep"})
    policy.save(tmp_path / "p.npz")
    again = SelectorPolicy.load(tmp_path / "p.npz")
    x = rng.normal(size=STATE_DIM)
    assert np.allclose(policy.logits(x), again.logits(x)) and again.meta["domain"] == "sleep"
    with pytest.raises(ValueError, match="retrain"):
        SelectorPolicy(weights, {"format": 1, "state_dim": 10})


@pytest.mark.parametrize("domain", list(DOMAINS))
def test_shipped_selectors_load_and_play(domain):
    record, transcript, agents = play_pair(AgentSpec("emodistill"), AgentSpec("victim"), load_scenarios(domain, "test")[2])
    assert agents["focal"].selector.meta["domain"] == domain
    assert all(m["emotion"] in GOEMOTIONS_28 for m in transcript if m["role"] == "focal")
    sampled, _, _ = play_pair(AgentSpec("emodistill", {"temperature_emotion": 1.0}), AgentSpec("victim"),
                              load_scenarios(domain, "test")[2])
    assert sampled["rounds"] >= 1


def test_pipeline_end_to_end_on_a_small_sweep(tmp_path, capsys):
    pytest.importorskip("torch", reason="the IQL stage needs the 'train' extra")
    out = tmp_path / "ed"
    assert main(["train", "emodistill", "--domain", "sleep", "--stage", "all", "--rollouts", "4", "--steps", "30",
                 "--workers", "0", "--quiet", "--out", str(out)]) == 0
    with np.load(out / "transitions.npz") as data:
        assert data["states"].shape[1] == STATE_DIM and len(data["actions"]) == len(data["rewards"])
        episodes = data["episode_ids"]
        assert len(set(episodes.tolist())) == 80 * 4 and data["dones"].sum() == 80 * 4
    meta = json.loads((out / "transitions.meta.json").read_text())
    assert meta["labels"] == list(GOEMOTIONS_28) and meta["state_dim"] == STATE_DIM
    assert SelectorPolicy.load(out / "selector.npz").meta["domain"] == "sleep"
    sft = [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]
    jpo = [json.loads(line) for line in (out / "jpo.jsonl").read_text().splitlines()]
    assert 0.2 <= len(sft) / len(jpo) <= 0.3
    first = sft[0]
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert f"Express {first['emotion']}" in first["messages"][1]["content"]
    assert min(r["q"] for r in sft) >= np.quantile([r["q"] for r in sft], 0.0)
    by_scenario: dict[str, list[float]] = {}
    for r in jpo:
        by_scenario.setdefault(r["scenario"], []).append(r["advantage"])
    for values in by_scenario.values():
        assert abs(np.mean(values)) < 1e-6 and (len(values) < 2 or abs(np.std(values, ddof=1) - 1) < 1e-6)
    modelfile = (out / "Modelfile").read_text()
    assert "FROM smollm2:135m" in modelfile and "ADAPTER ./jpo/adapter" in modelfile


def test_train_errors_exit_2(tmp_path, capsys):
    assert main(["train", "emodistill", "--domain", "mars", "--out", str(tmp_path)]) == 2
    assert "unknown domain 'mars'" in capsys.readouterr().err
    assert main(["train", "emodistill", "--stage", "iql", "--out", str(tmp_path / "none")]) == 2
    assert "run the sweep stage first" in capsys.readouterr().err


def test_missing_torch_gives_a_clear_message(tmp_path):
    (tmp_path / "transitions.npz").write_bytes(b"")
    code = ("import sys, importlib.abc\n"
            "class NoTorch(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path, target=None):\n"
            "        if name.split('.')[0] == 'torch':\n"
            "            raise ModuleNotFoundError(\"No module named 'torch'\")\n"
            "sys.meta_path.insert(0, NoTorch())\n"
            "from arena.cli import main\n"
            f"sys.exit(main(['train', 'emodistill', '--stage', 'iql', '--out', {str(tmp_path)!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "pip install 'eq-arena[train]'" in result.stderr
