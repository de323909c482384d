"""``arena train emodistill``: sweep, IQL, export, or all of them, for one domain or all four."""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from tqdm import tqdm

from agents.builtin.emodistill_agent import shipped_selector_path
from agents.llm import BackendSpec, ConfigError
from arena.training import dataset, expression
from arena.training.evaluate import evaluate_selector
from envs import DOMAINS

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


def _export(domain: str, out: Path, args: argparse.Namespace) -> None:
    if not (out / "sweep" / "transcripts.jsonl").exists():
        raise ConfigError(f"no sweep in {out}: run the sweep stage first (--stage sweep)")
    turns = list(expression.focal_turns(out / "sweep", domain))
    kept = expression.export_sft(turns, out / "sft.jsonl", args.top_fraction)
    count = expression.export_jpo(turns, out / "jpo.jsonl")
    (out / "Modelfile").write_text(expression.modelfile(args.base_model, args.adapter_dir))
    print(f"{domain}: SFT {kept} of {len(turns)} turns (top {args.top_fraction:.0%} by q), JPO {count} turns, "
          f"Modelfile -> {out}")


def run_train(args: argparse.Namespace) -> int:
    domains = list(DOMAINS) if args.domain == "all" else [args.domain]
    for domain in domains:
        if domain not in DOMAINS:
            raise ConfigError(f"unknown domain {domain!r}; known domains: {', '.join(DOMAINS)} or all")
    if args.rollouts < 1 or args.steps < 1 or not 0 < args.top_fraction <= 1:
        raise ConfigError("--rollouts and --steps must be at least 1 and --top-fraction in (0, 1]")
    for domain in domains:
        out = Path(args.out) / domain if args.out and len(domains) > 1 else Path(args.out or f"runs/emodistill/{domain}")
        out.mkdir(parents=True, exist_ok=True)
        for stage, run in (("sweep", _sweep), ("iql", _iql), ("export", _export)):
            if args.stage in (stage, "all"):
                run(domain, out, args)
    return 0

