"""Trained adapters that play: a GGUF LoRA exported from peft loads in llama.cpp beside the SmolLM2
GGUF and moves its logits the way the same adapter moves transformers' logits; emodistill plays a
tournament with it; the response cache keys on the adapter."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.llm

TEXT = "The debtor offers 120 days. The creditor answers firmly that payment is due within 30 days."


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    """A random LoRA (r 8 on q, k, v, o) on the real SmolLM2 weights, exported both ways, with
    transformers' logits of TEXT with and without it."""
    from arena.training.adapters import export_gguf_lora
    from arena.training.lora import LoraSettings, load_base, with_lora

    base, tokenizer = load_base(None)  # the SmolLM2 GGUF through transformers
    torch.manual_seed(0)
    model = with_lora(base, LoraSettings(rank=8, alpha=16, dropout=0.0))
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "lora_B" in name:
                weight.normal_(0.0, 0.2)  # peft starts B at zero; a large change stands out of llama.cpp's
                # activation rounding (a small one correlates only ~0.6 with transformers' even when right)
    model.eval()
    ids = tokenizer(TEXT, return_tensors="pt").input_ids
    with torch.no_grad():
        tuned = model(input_ids=ids).logits[0].numpy()
        with model.disable_adapter():
            plain = model(input_ids=ids).logits[0].numpy()
    folder = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(folder / "peft")
    return {"gguf": export_gguf_lora(model, folder / "adapter.gguf"), "peft": folder / "peft",
            "ids": ids[0].tolist(), "delta": tuned - plain}


def _llama_logits(ids: list[int], lora: str | None) -> np.ndarray:
    from agents.llm.llama_loading import default_model_path, load_llama

    kwargs = {"lora_path": lora} if lora else {}
    llm = load_llama(model_path=str(default_model_path()), n_ctx=256, n_threads=2, logits_all=True, verbose=False, **kwargs)
    llm.eval(ids)
    logits = np.array(llm.scores[: len(ids)])
    llm.close()
    return logits


def test_the_gguf_lora_loads_in_llama_cpp_and_changes_the_logits_as_transformers_does(adapter):
    plain = _llama_logits(adapter["ids"], None)
    tuned = _llama_logits(adapter["ids"], str(adapter["gguf"]))
    delta = tuned - plain
    assert np.abs(delta).max() > 0.5  # the adapter is applied
    # the change agrees with transformers' (base weights differ by Q4_1 quantisation only): a q/k
    # adapter written without GGUF's rotary row order would scramble the attention change
    corr = np.corrcoef(delta[4:].ravel(), adapter["delta"][4:].ravel())[0, 1]
    assert corr > 0.9, corr
    assert (adapter["peft"] / "adapter_model.safetensors").exists() and (adapter["peft"] / "adapter_config.json").exists()


def test_emodistill_plays_a_tournament_through_its_adapter(adapter, tmp_path):
    from agents import AgentSpec
    from agents.llm import BackendSpec, ConfigError, make_backend
    from arena.runner import run_tournament
    from arena.spec import TournamentSpec

    spec = TournamentSpec(agents=[AgentSpec("emodistill", {"expression_adapter": str(adapter["gguf"]), "max_tokens": 160}),
                                  AgentSpec("victim")], domains=["credit"], scenarios=1, max_messages=4,
                          workers=0).validate()
    table = run_tournament(spec, tmp_path / "run")
    assert len(table) == 1 and table["error"].isna().all() and table["focal_requests"].sum() > 0
    with_adapter = make_backend(BackendSpec("llama-cpp", lora_path=str(adapter["gguf"])))
    assert with_adapter.inner.identity != make_backend(BackendSpec("llama-cpp")).inner.identity  # the cache keys on it
    with pytest.raises(ConfigError, match="not both"):
        run_tournament(TournamentSpec(agents=[AgentSpec("emodistill", {"expression_adapter": str(adapter["gguf"]),
                                                                       "expression_model": "x"}), AgentSpec("victim")],
                                      domains=["credit"], scenarios=1, workers=0).validate(), tmp_path / "both")
