"""EmoDistill's expression training: LoRA SFT on a tiny random Llama (seeded, resumable, lowers the
loss), the JPO objective against a hand-computed value, and a JPO run from the SFT adapter."""
from __future__ import annotations

import json
import math

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A two-layer random Llama with SmolLM2's tokenizer and chat template, saved as a model folder."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from agents.llm.llama_loading import default_model_path

    gguf = default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=True, initializer_range=0.3)  # logits wide enough to fit
    folder = tmp_path_factory.mktemp("tiny") / "model"
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def _demos(path, n=6):
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            action = {"move": "offer", "value": 30 + i, "emotion": "anger", "message": f"Pay within {30 + i} days."}
            f.write(json.dumps({"messages": [{"role": "system", "content": "You are the creditor."},
                                             {"role": "user", "content": f"The debtor offers {90 + i} days."},
                                             {"role": "assistant", "content": json.dumps(action)}]}) + "\n")
    return path


def _settings(**kw):
    from arena.training.lora import LoraSettings

    base = dict(rank=4, alpha=8, dropout=0.0, targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                       "down_proj"), lr=3e-2, batch_size=3,
                grad_accum=1, max_steps=6, max_seq_len=96, save_every=2, seed=3)
    return LoraSettings(**(base | kw))


def _fixed_batch_loss(adapter_or_none, base_folder, demos):
    from peft import PeftModel

    from arena.training.lora import collate, encode_pair, load_base, read_sft, response_token_loss

    model, tokenizer = load_base(base_folder)
    if adapter_or_none is not None:
        model = PeftModel.from_pretrained(model, str(adapter_or_none))
    model.eval()
    pairs = [encode_pair(tokenizer, p, r, 96) for p, r in read_sft(demos)]
    with torch.no_grad():
        return float(response_token_loss(model, collate(pairs, tokenizer.pad_token_id)))


def test_sft_masks_the_prompt_and_lowers_the_loss_on_a_fixed_batch(tiny_base, tmp_path):
    from arena.training.lora import collate, encode_pair, load_base, train_sft

    _, tokenizer = load_base(tiny_base)
    ids, start = encode_pair(tokenizer, [{"role": "user", "content": "Offer?"}], '{"move": "offer"}', 96)
    labels = collate([(ids, start)], tokenizer.pad_token_id)["labels"][0]
    assert (labels[:start] == -100).all() and tokenizer.decode(ids[start:]).startswith('{"move": "offer"}')
    demos = _demos(tmp_path / "sft.jsonl")
    before = _fixed_batch_loss(None, tiny_base, demos)
    adapter = train_sft(demos, tmp_path, tiny_base, _settings())
    after = _fixed_batch_loss(adapter, tiny_base, demos)
    assert after < before - 0.5, (before, after)
    assert (adapter / "adapter_model.safetensors").exists() and (adapter / "adapter_config.json").exists()
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 4
    assert (tmp_path / "sft" / "adapter.gguf").stat().st_size > 0


def test_sft_is_seeded_and_resumes_from_its_checkpoint(tiny_base, tmp_path):
    from safetensors.torch import load_file

    from arena.training.lora import train_sft

    demos = _demos(tmp_path / "sft.jsonl")
    whole = train_sft(demos, tmp_path / "whole", tiny_base, _settings())
    again = train_sft(demos, tmp_path / "again", tiny_base, _settings())

    def interrupt(step, loss):
        if step == 5:
            raise KeyboardInterrupt  # after the checkpoint of step 4, before that of step 6

    with pytest.raises(KeyboardInterrupt):
        train_sft(demos, tmp_path / "resumed", tiny_base, _settings(), on_step=interrupt)
    resumed = train_sft(demos, tmp_path / "resumed", tiny_base, _settings())
    log = json.loads((tmp_path / "resumed" / "sft" / "train_log.json").read_text())["log"]
    straight = json.loads((tmp_path / "whole" / "sft" / "train_log.json").read_text())["log"]
    assert [e["step"] for e in log] == [1, 2, 3, 4, 5, 6]
    assert [e["loss"] for e in log] == pytest.approx([e["loss"] for e in straight], abs=1e-5)
    weights = [load_file(str(a / "adapter_model.safetensors")) for a in (whole, again, resumed)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # same seed, same weights
    assert all(torch.allclose(weights[0][k], weights[2][k], atol=1e-6) for k in weights[0])  # resumed = straight


def test_the_jpo_loss_matches_a_hand_computed_value():
    from arena.training.jpo import JPOSettings, jpo_loss

    logp = torch.tensor([[-1.0, -2.0], [-0.5, 0.0]])
    logp_data = torch.tensor([[-1.5, -2.0], [-0.5, 0.0]])
    logp_ref = torch.tensor([[-1.1, -1.9], [-0.7, 0.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    advantages = torch.tensor([1.0, -2.0])
    # response 1: rho = exp(((-1 + 1.5) + 0) / 2) = exp(0.25) = 1.284 > 1 + eps, A > 0 -> min(1.284, 1.2) = 1.2
    #   K3 on delta = ref - logp = (-0.1, +0.1): ((e^-0.1 + 0.1 - 1) + (e^0.1 - 0.1 - 1)) / 2 = 0.0050042
    # response 2: one token, rho = 1, A = -2 -> kappa * A = -1 -> L_pg = 1; K3 on -0.2 = e^-0.2 + 0.2 - 1 = 0.0187308
    # L = ((-1.2 + 0.04 * 0.0050042) + (1 + 0.04 * 0.0187308)) / 2 = -0.0995253
    loss = jpo_loss(logp, logp_data, logp_ref, mask, advantages, JPOSettings(epsilon=0.2, beta=0.04, kappa=0.5))
    assert float(loss) == pytest.approx(-0.0995253015773242, abs=1e-6)
    unclipped = jpo_loss(logp, logp_data, logp_ref, mask, advantages, JPOSettings(epsilon=0.5, beta=0.04, kappa=0.5))
    # with eps = 0.5 the ratio 1.284 is inside the clip range: L_pg = -1.284
    assert float(unclipped) == pytest.approx(((-math.exp(0.25) + 0.04 * 0.0050042) + 1.000749) / 2, abs=1e-5)
    with pytest.raises(Exception, match="kappa in"):
        JPOSettings(kappa=1.5)


def test_jpo_trains_from_the_sft_adapter_with_the_reference_frozen(tiny_base, tmp_path):
    from arena.training.jpo import JPOSettings, train_jpo
    from arena.training.lora import train_sft

    demos = _demos(tmp_path / "sft.jsonl")
    train_sft(demos, tmp_path, tiny_base, _settings(max_steps=2))
    with open(tmp_path / "jpo.jsonl", "w", encoding="utf-8") as f:
        for i, line in enumerate(demos.read_text().splitlines()):
            messages = json.loads(line)["messages"]
            f.write(json.dumps({"prompt": messages[:-1], "response": messages[-1]["content"],
                                "advantage": [1.5, -1.0][i % 2], "scenario": "s"}) + "\n")
    adapter, against = train_jpo(tmp_path / "jpo.jsonl", tmp_path, tiny_base, _settings(max_steps=3, lr=1e-3),
                                 JPOSettings(kappa=0.5))
    assert against == "reference" and (adapter / "adapter_model.safetensors").exists()
    log = json.loads((tmp_path / "jpo" / "train_log.json").read_text())
    assert log["settings"]["extra"]["ratio_against"] == "reference" and len(log["log"]) == 3
    assert (tmp_path / "jpo" / "adapter.gguf").stat().st_size > 0
