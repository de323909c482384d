"""EmoDistill's expression policy, stage two: Judge Policy Optimization (offline, from ``jpo.jsonl``).

The SFT adapter is frozen as the reference and trained further on every focal turn with its judge
advantage A (r_t standardised within the scenario). For a response y of n tokens with log-probs
under the policy (θ), the data's policy (b) and the reference (ref):

    ρ   = exp( (1/n) Σ_t [log πθ(y_t) − log πb(y_t)] )          importance ratio against the data
    Â   = A if A > 0 else κ·A                                   asymmetric advantage, κ ∈ [0, 1]
    L_pg = −min(ρ·Â, clip(ρ, 1 − ε, 1 + ε)·Â)
    KL  = (1/n) Σ_t [exp(Δ_t) − Δ_t − 1],  Δ_t = log πref(y_t) − log πθ(y_t)    (K3 estimator)
    L   = mean over responses of (L_pg + β·KL)

πb is the data's own per-token log-probs where ``jpo.jsonl`` records them (``behaviour_logprobs``);
a sweep on the scripted backend or a served model records none, and then the frozen reference
stands in for it (``ratio_against="reference"``, what the authors' code does). Defaults: ε = 0.2,
β = 0.04, κ = 1.0, lr 5e-6 (the paper's).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from agents.llm import ConfigError
from arena.training.lora import (LoraSettings, collate, device, encode_pair, finish, load_base, optimise,
                                 require_train_extra, used_examples)


@dataclass(frozen=True)
class JPOSettings:
    epsilon: float = 0.2
    beta: float = 0.04
    kappa: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.kappa <= 1.0 or self.epsilon <= 0 or self.beta < 0:
            raise ConfigError("JPO needs kappa in [0, 1], epsilon > 0 and beta >= 0")


def jpo_loss(logp: Any, logp_data: Any, logp_ref: Any, mask: Any, advantages: Any, settings: JPOSettings) -> Any:
    """The objective above for a batch: token log-prob tensors (batch × tokens), a 0/1 mask of the
    response tokens, and one advantage per response."""
    import torch

    count = mask.sum(dim=1).clamp(min=1)
    ratio = torch.exp(((logp - logp_data) * mask).sum(dim=1) / count)
    adv = torch.where(advantages > 0, advantages, settings.kappa * advantages)
    surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - settings.epsilon, 1 + settings.epsilon) * adv)
    delta = logp_ref - logp
    kl = ((torch.exp(delta) - delta - 1) * mask).sum(dim=1) / count
    return (-surrogate + settings.beta * kl).mean()


def token_logprobs(model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    """Log-probs of each next token and the response mask, aligned (batch × tokens − 1)."""
    import torch

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1].float()
    labels = batch["labels"][:, 1:]
    mask = (labels != -100).float()
    picked = torch.log_softmax(logits, dim=-1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return picked * mask, mask


def read_jpo(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise ConfigError(f"{path} not found: run the export stage first (--stage export)")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not records:
        raise ConfigError(f"{path} holds no turns")
    return records


def load_policy(base_model: str | None, sft_adapter: Path) -> tuple[Any, Any]:
    """The base model with the SFT adapter, trainable."""
    from peft import PeftModel

    if not (sft_adapter / "adapter_config.json").exists():
        raise ConfigError(f"no SFT adapter at {sft_adapter}: run the sft stage first (--stage sft)")
    base, tokenizer = load_base(base_model)
    return PeftModel.from_pretrained(base, str(sft_adapter), is_trainable=True), tokenizer


def reference_logprobs(model: Any, encoded: list, pad_id: int, batch_size: int, wanted: list[int]) -> dict[int, Any]:
    """Per-response token log-probs under the model as it is now (the frozen SFT reference), for
    the examples training will use."""
    import torch

    out = {}
    model.eval()
    with torch.no_grad():
        for start in range(0, len(wanted), batch_size):
            chunk = wanted[start:start + batch_size]
            batch = {k: v.to(device()) for k, v in collate([encoded[i] for i in chunk], pad_id).items()}
            logp, mask = token_logprobs(model, batch)
            out.update({i: row[m.bool()].cpu() for i, row, m in zip(chunk, logp, mask)})
    return out


def _aligned(rows: list[Any], mask: Any) -> Any:
    """Per-response token values placed at the response positions of a batch's mask."""
    import torch

    full = torch.zeros_like(mask)
    for i, row in enumerate(rows):
        full[i, mask[i].bool()] = row.to(mask.device, mask.dtype)[: int(mask[i].sum())]
    return full


def train_jpo(jpo_path: Path, out: Path, base_model: str | None, settings: LoraSettings, jpo: JPOSettings,
              on_step: Callable[[int, float], None] | None = None) -> tuple[Path, str]:
    """Train the JPO adapter into ``out/jpo`` from the SFT adapter in ``out/sft/adapter``; returns the
    adapter folder and what the importance ratio was taken against."""
    require_train_extra()
    import torch

    records = read_jpo(jpo_path)
    model, tokenizer = load_policy(base_model, out / "sft" / "adapter")
    encoded = [encode_pair(tokenizer, r["prompt"], r["response"], settings.max_seq_len) for r in records]
    reference = reference_logprobs(model, encoded, tokenizer.pad_token_id, settings.batch_size,
                                   used_examples(len(encoded), settings))
    recorded = all("behaviour_logprobs" in r for r in records)
    data = {i: torch.tensor(r["behaviour_logprobs"]) for i, r in enumerate(records)} if recorded else reference
    advantages = torch.tensor([float(r["advantage"]) for r in records])
    dev = device()

    def loss_of(m: Any, index: list[int]) -> Any:
        batch = {k: v.to(dev) for k, v in collate([encoded[i] for i in index], tokenizer.pad_token_id).items()}
        logp, mask = token_logprobs(m, batch)
        return jpo_loss(logp, _aligned([data[i] for i in index], mask), _aligned([reference[i] for i in index], mask),
                        mask, advantages[index].to(dev), jpo)

    folder = out / "jpo"
    log = optimise(model, len(encoded), loss_of, settings, folder, on_step)
    finish(model, folder, replace(settings, extra={"jpo": jpo.__dict__, "ratio_against": "data" if recorded else "reference"}),
           base_model, log)
    return folder / "adapter", "data" if recorded else "reference"
