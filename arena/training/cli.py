"""``arena train emodistill``: sweep, IQL, export, or all of them, for one domain or all four."""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from agents.builtin.emodistill_agent import shipped_selector_path
from agents.llm import BackendSpec, ConfigError, make_backend
from arena.training import dataset, expression
from arena.training.evaluate import evaluate_selector
from arena.training.judge import LLMJudge, RubricJudge, TurnJudge
from arena.training.parser import ALL_STAGES
from envs import DOMAINS

if TYPE_CHECKING:
    from arena.training.lora import LoraSettings

def _sweep(domain: str, out: Path, args: argparse.Namespace) -> None:
    backend = BackendSpec(args.backend, args.model, args.ollama_host)
    bar = None if args.quiet else tqdm(unit="episode", desc=f"{domain} sweep", dynamic_ncols=True)

    def start(total: int, already: int) -> None:
        if bar is not None:
            bar.reset(total=total)
            bar.update(already)

    began = time.perf_counter()
    dataset.run_sweep(domain, out / "sweep", args.rollouts, args.seed, args.workers, backend,
                      on_result=(lambda r: bar.update(1)) if bar else None, on_start=start)
    if bar is not None:
        bar.close()
    data = dataset.build_transitions(out / "sweep", domain)
    meta = dataset.save_transitions(data, out / "transitions.npz", domain)
    print(f"{domain}: {meta['episodes']} episodes, {meta['transitions']} transitions, mean return "
          f"{meta['mean_return']:.3f} ({time.perf_counter() - began:.1f} s) -> {out / 'transitions.npz'}")


def _iql(domain: str, out: Path, args: argparse.Namespace) -> None:
    from arena.training.iql import IQLConfig, require_torch, train_iql

    require_torch()
    path = out / "transitions.npz"
    if not path.exists():
        raise ConfigError(f"{path} not found: run the sweep stage first (--stage sweep)")
    data = dataset.load_transitions(path)
    bar = None if args.quiet else tqdm(total=args.steps, unit="step", desc=f"{domain} IQL", dynamic_ncols=True)
    began = time.perf_counter()
    policy = train_iql(data, IQLConfig(steps=args.steps, seed=args.seed, beta=args.beta,
                                                 reward_scaling=args.reward_scaling), domain,
                       progress=(lambda step: bar.update(1)) if bar else None)
    if bar is not None:
        bar.close()
    policy.save(out / "selector.npz")
    print(f"{domain}: IQL {args.steps} steps in {time.perf_counter() - began:.1f} s -> {out / 'selector.npz'}")
    report = policy.meta["report"]
    print(f"{domain}: policy entropy {report['entropy']:.3f} nats (uniform {report['uniform_entropy']:.3f}); top: "
          + ", ".join(f"{t['emotion']} p={t['probability']:.3f} A={t['mean_advantage']:+.4f}" for t in report["top"]))
    if args.install:
        shutil.copyfile(out / "selector.npz", shipped_selector_path(domain))
        print(f"installed as {shipped_selector_path(domain)}")
    if args.evaluate:
        print(evaluate_selector(domain, out / "selector.npz", args.workers).to_string(index=False))


def _sweep_turns(domain: str, out: Path) -> list[dict]:
    if not (out / "sweep" / "matches.parquet").exists():
        raise ConfigError(f"no sweep in {out}: run the sweep stage first (--stage sweep)")
    return list(expression.focal_turns(out / "sweep", domain))


def make_judge(args: argparse.Namespace) -> TurnJudge:
    """The rubric scorer for the scripted backend, else a model judge through the named backend."""
    if args.judge_backend == "scripted":
        return RubricJudge()
    spec = BackendSpec(args.judge_backend, args.judge_model, ollama_host=args.ollama_host, base_url=args.base_url)
    backend = make_backend(spec)
    backend.preflight()
    return LLMJudge(backend)


def _judge(domain: str, out: Path, args: argparse.Namespace) -> None:
    turns = _sweep_turns(domain, out)
    judge = make_judge(args)
    bar = None if args.quiet else tqdm(total=len(turns), unit="turn", desc=f"{domain} judge", dynamic_ncols=True)
    scores = expression.judge_turns(turns, domain, judge, out / "judged.jsonl", (lambda: bar.update(1)) if bar else None)
    if bar is not None:
        bar.close()
    stats = getattr(judge, "stats", None)
    counted = (f"; {stats.requests} model calls, {stats.malformed} malformed, {stats.fallbacks} fallbacks"
               if stats else " (a heuristic: numbers, moves and word lists)")
    values = [scores[expression.turn_key(t)] for t in turns]
    print(f"{domain}: judged {len(values)} focal turns with {judge.name}, mean score "
          f"{sum(values) / max(1, len(values)):.2f}{counted} -> {out / 'judged.jsonl'}")


def _export(domain: str, out: Path, args: argparse.Namespace) -> None:
    turns, source = expression.with_turn_scores(_sweep_turns(domain, out), expression.load_judged(out / "judged.jsonl"))
    kept = expression.export_sft(turns, out / "sft.jsonl", args.top_fraction)
    count = expression.export_jpo(turns, out / "jpo.jsonl")
    (out / "Modelfile").write_text(expression.modelfile(args.base_model, args.adapter_dir))
    print(f"{domain}: r_t = {source}; SFT {kept} of {len(turns)} turns (top {args.top_fraction:.0%} by "
          f"q = r_t + 0.5 R), JPO {count} turns, Modelfile -> {out}")


def lora_settings(args: argparse.Namespace, lr: float) -> LoraSettings:
    from arena.training.lora import LoraSettings

    return LoraSettings(rank=args.lora_rank, alpha=args.lora_alpha, targets=tuple(args.lora_targets.split(",")),
                        lr=args.lr or lr, batch_size=args.batch_size, grad_accum=args.grad_accum, epochs=args.epochs,
                        max_steps=args.train_steps, max_seq_len=args.max_seq_len, seed=args.seed,
                        save_every=args.save_every)


def _progress(stage: str, domain: str, quiet: bool):
    if quiet:
        return None
    return lambda step, loss: print(f"{domain} {stage}: step {step} loss {loss:.4f}", flush=True)


def _sft(domain: str, out: Path, args: argparse.Namespace) -> None:
    from arena.training.lora import train_sft

    began = time.perf_counter()
    adapter = train_sft(out / "sft.jsonl", out, args.lora_base, lora_settings(args, 2e-4), _progress("SFT", domain, args.quiet))
    print(f"{domain}: SFT adapter in {time.perf_counter() - began:.1f} s -> {adapter} and {out / 'sft' / 'adapter.gguf'}")


def _jpo(domain: str, out: Path, args: argparse.Namespace) -> None:
    from arena.training.jpo import JPOSettings, train_jpo

    began = time.perf_counter()
    jpo = JPOSettings(epsilon=args.epsilon, beta=args.kl_beta, kappa=args.kappa)
    adapter, against = train_jpo(out / "jpo.jsonl", out, args.lora_base, lora_settings(args, 5e-6), jpo,
                                 _progress("JPO", domain, args.quiet))
    print(f"{domain}: JPO adapter in {time.perf_counter() - began:.1f} s (ratio against the {against} policy) -> "
          f"{adapter} and {out / 'jpo' / 'adapter.gguf'}")


def run_train(args: argparse.Namespace) -> int:
    domains = list(DOMAINS) if args.domain == "all" else [args.domain]
    for domain in domains:
        if domain not in DOMAINS:
            raise ConfigError(f"unknown domain {domain!r}; known domains: {', '.join(DOMAINS)} or all")
    if args.rollouts < 1 or args.steps < 1 or not 0 < args.top_fraction <= 1:
        raise ConfigError("--rollouts and --steps must be at least 1 and --top-fraction in (0, 1]")
    if min(args.batch_size, args.grad_accum, args.lora_rank, args.max_seq_len, args.save_every) < 1 or args.epochs <= 0 \
            or (args.train_steps is not None and args.train_steps < 1):
        raise ConfigError("--batch-size, --grad-accum, --lora-rank, --max-seq-len, --save-every and --train-steps "
                          "must be at least 1 and --epochs above 0")
    for domain in domains:
        out = Path(args.out) / domain if args.out and len(domains) > 1 else Path(args.out or f"runs/emodistill/{domain}")
        out.mkdir(parents=True, exist_ok=True)
        for stage, run in (("sweep", _sweep), ("judge", _judge), ("iql", _iql), ("export", _export),
                           ("sft", _sft), ("jpo", _jpo)):
            if args.stage == stage or (args.stage == "all" and stage in ALL_STAGES):
                run(domain, out, args)
    return 0

