"""EmoDistill's expression policy, stage one: LoRA supervised fine-tuning on the best demonstrations.

A causal language model (a Hugging Face directory, or a GGUF file through transformers' GGUF
loading; SmolLM2-135M by default) gets a LoRA adapter (peft) trained with token cross-entropy on
the utterance tokens only, conditioned on the emotion-conditioned prompt (``sft.jsonl``). Seeded,
on CUDA when present, and resumable from its last checkpoint. Needs the ``train`` extra.
"""
from __future__ import annotations

import importlib.util
import json
import math
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from agents.llm import ConfigError

DEFAULT_BASE = "smollm2-135m"


def require_train_extra() -> None:
    missing = [name for name in ("torch", "transformers", "peft", "gguf") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"LoRA training needs the 'train' extra ({', '.join(missing)} missing): "
                          "pip install 'eq-arena[train]'")


@dataclass(frozen=True)
class LoraSettings:
    """LoRA and optimiser settings; defaults are the paper's SFT recipe except where noted."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    lr: float = 2e-4
    batch_size: int = 2
    grad_accum: int = 8
    epochs: float = 1.0
    max_steps: int | None = None  # optimiser steps; None: epochs over the data
    max_seq_len: int = 1024
    warmup: float = 0.03
    save_every: int = 20
    seed: int = 42
    extra: dict[str, Any] = field(default_factory=dict)


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_base(model: str | None = None) -> tuple[Any, Any]:
    """The base model (float32 on CPU, bfloat16 on CUDA) and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.llm.llama_loading import default_model_path

    path = default_model_path() if model in (None, "", DEFAULT_BASE, "smollm2") else Path(model).expanduser()
    if not path.exists():
        raise ConfigError(f"base model {model!r} is neither {DEFAULT_BASE!r}, a model directory nor a GGUF file")
    import torch

    dtype = torch.bfloat16 if device() == "cuda" else torch.float32
    kwargs: dict[str, Any] = {"gguf_file": path.name} if path.suffix == ".gguf" else {}
    where = str(path.parent if path.suffix == ".gguf" else path)
    tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
    base = AutoModelForCausalLM.from_pretrained(where, dtype=dtype, **kwargs)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return base.to(device()), tokenizer


def encode_pair(tokenizer: Any, prompt: list[dict[str, str]], response: str, max_len: int) -> tuple[list[int], int]:
    """Token ids of prompt + response in the chat template, and where the response starts; a long
    prompt loses its oldest tokens, never the response."""
    head = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=False)
    full = tokenizer.apply_chat_template(prompt + [{"role": "assistant", "content": response}], tokenize=True,
                                         return_dict=False)
    if list(full[: len(head)]) != list(head):  # a template that rewrites the prompt: append the reply
        full = list(head) + tokenizer.encode(response, add_special_tokens=False) + [tokenizer.eos_token_id]
    head, tail = list(head), list(full[len(head):])
    tail = tail[:max_len - 1]
    head = head[-(max_len - len(tail)):] if len(head) + len(tail) > max_len else head
    return head + tail, len(head)


def collate(pairs: list[tuple[list[int], int]], pad_id: int) -> dict[str, Any]:
    """Right-padded ids, attention mask and labels (-100 on prompt and padding)."""
    import torch

    width = max(len(ids) for ids, _ in pairs)
    ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    labels = torch.full((len(pairs), width), -100, dtype=torch.long)
    mask = torch.zeros((len(pairs), width), dtype=torch.long)
    for row, (tokens, start) in enumerate(pairs):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
        labels[row, start: len(tokens)] = torch.tensor(tokens[start:])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def response_token_loss(model: Any, batch: dict[str, Any]) -> Any:
    """Mean cross-entropy over the response tokens of the batch."""
    import torch.nn.functional as F

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    labels = batch["labels"][:, 1:]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100)


def with_lora(base: Any, settings: LoraSettings) -> Any:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=list(settings.targets), bias="none", task_type="CAUSAL_LM")
    return get_peft_model(base, config)


def read_sft(path: Path) -> list[tuple[list[dict[str, str]], str]]:
    if not path.exists():
        raise ConfigError(f"{path} not found: run the export stage first (--stage export)")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not records:
        raise ConfigError(f"{path} holds no demonstrations")
    return [(r["messages"][:-1], r["messages"][-1]["content"]) for r in records]


def batches(n: int, settings: LoraSettings, epoch: int) -> list[list[int]]:
    """The example order of one epoch: shuffled from the seed and the epoch, so a resume replays it."""
    order = list(range(n))
    random.Random(settings.seed * 1000 + epoch).shuffle(order)
    return [order[i: i + settings.batch_size] for i in range(0, n, settings.batch_size)]


def used_examples(n: int, settings: LoraSettings) -> list[int]:
    """The examples the optimiser will see in ``total_steps`` steps (all of them once an epoch is done)."""
    first_epoch = batches(n, settings, 0)
    micro = total_steps(n, settings) * settings.grad_accum
    return sorted({i for batch in first_epoch[:micro] for i in batch})


def total_steps(n: int, settings: LoraSettings) -> int:
    per_epoch = math.ceil(math.ceil(n / settings.batch_size) / settings.grad_accum)
    return settings.max_steps or max(1, math.ceil(per_epoch * settings.epochs))


def schedule(optimizer: Any, steps: int, warmup: float) -> Any:
    """Linear warm-up, then cosine decay to zero."""
    import torch

    warm = max(1, int(steps * warmup))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm))))


def save_checkpoint(model: Any, optimizer: Any, scheduler: Any, step: int, folder: Path, log: list) -> None:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step,
                "log": log, "rng": torch.get_rng_state()}, folder / "trainer_state.pt")


def load_checkpoint(model: Any, optimizer: Any, scheduler: Any, folder: Path) -> tuple[int, list]:
    """Restore adapter weights and optimiser state; (0, []) without a checkpoint."""
    if not (folder / "trainer_state.pt").exists():
        return 0, []
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(folder / "adapter_model.safetensors")))
    state = torch.load(folder / "trainer_state.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    return int(state["step"]), list(state["log"])


StepLoss = Callable[[Any, list[int]], Any]  # (model, example indices) -> loss tensor


def optimise(model: Any, n: int, loss_of: StepLoss, settings: LoraSettings, folder: Path,
             on_step: Callable[[int, float], None] | None = None) -> list[dict[str, float]]:
    """The shared training loop of SFT and JPO: AdamW (0.9, 0.95), gradient clipping at 1.0, warm-up
    and cosine decay, gradient accumulation, checkpoints in ``folder/checkpoint`` (resumed from)."""
    import torch

    torch.manual_seed(settings.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.lr, betas=(0.9, 0.95), weight_decay=0.0)
    steps = total_steps(n, settings)
    scheduler = schedule(optimizer, steps, settings.warmup)
    step, log = load_checkpoint(model, optimizer, scheduler, folder / "checkpoint")
    model.train()
    per_epoch = math.ceil(n / settings.batch_size)
    current, order = -1, []  # the batches of the current epoch, shuffled once per epoch
    micro = step * settings.grad_accum  # micro-batches already consumed: a resume continues the same order
    while step < steps:
        epoch, position = divmod(micro, per_epoch)
        if epoch != current:
            current, order = epoch, batches(n, settings, epoch)
        loss = loss_of(model, order[position])
        (loss / settings.grad_accum).backward()
        micro += 1
        if micro % settings.grad_accum:
            continue
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        step += 1
        log.append({"step": step, "loss": float(loss.detach())})
        if on_step:
            on_step(step, float(loss.detach()))
        if step % settings.save_every == 0 or step == steps:
            save_checkpoint(model, optimizer, scheduler, step, folder / "checkpoint", log)
    return log


def train_sft(sft_path: Path, out: Path, base_model: str | None, settings: LoraSettings,
              on_step: Callable[[int, float], None] | None = None) -> Path:
    """Train the SFT adapter into ``out/sft``; returns the adapter folder."""
    require_train_extra()
    import torch

    examples = read_sft(sft_path)
    base, tokenizer = load_base(base_model)
    torch.manual_seed(settings.seed)  # the adapter's initial A matrices come from the seed too
    model = with_lora(base, settings)
    encoded = [encode_pair(tokenizer, p, r, settings.max_seq_len) for p, r in examples]
    dev = device()

    def loss_of(m: Any, index: list[int]) -> Any:
        batch = {k: v.to(dev) for k, v in collate([encoded[i] for i in index], tokenizer.pad_token_id).items()}
        return response_token_loss(m, batch)

    folder = out / "sft"
    log = optimise(model, len(encoded), loss_of, settings, folder, on_step)
    return finish(model, folder, settings, base_model, log)


def finish(model: Any, folder: Path, settings: LoraSettings, base_model: str | None, log: list) -> Path:
    """Write the adapter (safetensors + adapter_config.json), its GGUF LoRA and the training log."""
    from arena.training.adapters import export_gguf_lora

    adapter = folder / "adapter"
    model.save_pretrained(adapter)
    export_gguf_lora(model, folder / "adapter.gguf")
    (folder / "train_log.json").write_text(json.dumps({"settings": asdict(settings), "base_model": base_model or DEFAULT_BASE,
                                                       "log": log}, indent=1, default=str))
    return adapter
