"""Trained LoRA adapters in the two forms that play: peft's safetensors folder (for the Modelfile's
``ADAPTER``) and a GGUF LoRA that llama.cpp loads beside its base model (``lora_path``).

GGUF stores a Llama model's query and key projections with their rows permuted for its rotary
embedding (transformers undoes this when it loads a GGUF), so the B matrices of q and k adapters
are permuted the same way here; A matrices and the other projections are written as they are.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agents.llm import ConfigError

GGUF_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
              "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
              "mlp.down_proj": "ffn_down"}
LORA_KEY = re.compile(r"layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_([AB])\.")


def rotary_permute(rows: Any, heads: int) -> Any:
    """Reorder each head's rows from (pairs of halves) to interleaved, as GGUF stores q and k."""
    return rows.reshape(heads, 2, rows.shape[0] // heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def lora_tensors(model: Any) -> dict[str, Any]:
    """GGUF tensor name -> float32 numpy array for every LoRA A and B of a peft model."""
    from peft import get_peft_model_state_dict

    config = model.get_base_model().config
    heads, kv_heads = config.num_attention_heads, getattr(config, "num_key_value_heads", config.num_attention_heads)
    out = {}
    for key, tensor in get_peft_model_state_dict(model).items():
        found = LORA_KEY.search(key)
        if not found:
            raise ConfigError(f"cannot export the adapter weight {key} to GGUF (only Llama-style projections)")
        layer, module, part = found.groups()
        array = tensor.detach().float().cpu().numpy()
        if part == "B" and module == "self_attn.q_proj":
            array = rotary_permute(array, heads)
        elif part == "B" and module == "self_attn.k_proj":
            array = rotary_permute(array, kv_heads)
        out[f"blk.{layer}.{GGUF_NAMES[module]}.weight.lora_{part.lower()}"] = array
    return out


def export_gguf_lora(model: Any, path: Path) -> Path:
    """Write the adapter of a peft model as a GGUF LoRA for llama.cpp."""
    import gguf

    config = model.get_base_model().config
    if getattr(config, "model_type", "llama") != "llama":
        raise ConfigError(f"GGUF LoRA export supports Llama-architecture models, not {config.model_type!r}")
    lora = model.peft_config[model.active_adapter]
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string(gguf.Keys.General.TYPE, "adapter")
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(lora.lora_alpha))
    for name, array in lora_tensors(model).items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
