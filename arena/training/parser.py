"""The ``arena train`` command line (argparse only: cheap to import)."""
from __future__ import annotations

import argparse

STAGES = ("sweep", "judge", "iql", "export", "sft", "jpo", "all")
ALL_STAGES = ("sweep", "judge", "iql", "export")  # what --stage all runs (sft and jpo need the train extra)


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="offline training pipelines (EmoDistill)")
    p.add_argument("pipeline", choices=["emodistill"])
    p.add_argument("--domain", default="credit", help="a domain name or 'all'")
    p.add_argument("--stage", choices=STAGES, default="all")
    p.add_argument("--rollouts", type=int, default=100, help="sweep episodes per training scenario (default 100)")
    p.add_argument("--steps", type=int, default=20_000, help="IQL gradient steps (default 20,000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--backend", choices=["scripted", "llama-cpp", "ollama"], default="scripted")
    p.add_argument("--model", help="model for the sweep's agents (llama-cpp path or ollama name)")
    p.add_argument("--ollama-host", help="Ollama server of the sweep's or the judge's model")
    p.add_argument("--base-url", help="OpenAI-compatible server of the judge's model")
    p.add_argument("--judge-backend", choices=["scripted", "llama-cpp", "ollama", "openai"], default="scripted",
                   help="judge stage: scripted = the deterministic rubric scorer, else a model judge")
    p.add_argument("--judge-model", help="the judge's model (llama-cpp path, ollama or served name)")
    p.add_argument("--top-fraction", type=float, default=0.25, help="SFT filter: keep this share by q")
    p.add_argument("--base-model", default="smollm2:135m",
                   help="FROM line of the generated Modelfile: the Ollama model of the base the adapter is tuned on")
    p.add_argument("--adapter-dir", default="./jpo/adapter",
                   help="ADAPTER line of the generated Modelfile (default: the JPO stage's adapter folder)")
    p.add_argument("--out", help="output folder (default runs/emodistill/DOMAIN)")
    p.add_argument("--install", action="store_true", help="copy the trained selector into the package (ships it)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--beta", type=float, default=10.0, help="IQL inverse temperature of the policy extraction "
                                                           "(default 10; the paper used 3)")
    lora = p.add_argument_group("expression policy (--stage sft / jpo; the train extra)")
    lora.add_argument("--lora-base", help="base model: a GGUF file or a Hugging Face folder (default smollm2-135m)")
    lora.add_argument("--lora-rank", type=int, default=16)
    lora.add_argument("--lora-alpha", type=int, default=32)
    lora.add_argument("--lora-targets", default="q_proj,k_proj,v_proj,o_proj")
    lora.add_argument("--lr", type=float, help="learning rate (default 2e-4 for SFT, 5e-6 for JPO)")
    lora.add_argument("--batch-size", type=int, default=2)
    lora.add_argument("--grad-accum", type=int, default=8)
    lora.add_argument("--epochs", type=float, default=1.0)
    lora.add_argument("--train-steps", type=int, help="optimiser steps (default: --epochs over the data)")
    lora.add_argument("--max-seq-len", type=int, default=1024)
    lora.add_argument("--save-every", type=int, default=20, help="checkpoint every N optimiser steps (resumable)")
    lora.add_argument("--epsilon", type=float, default=0.2, help="JPO clip range")
    lora.add_argument("--kl-beta", type=float, default=0.04, help="JPO weight of the K3 KL anchor")
    lora.add_argument("--kappa", type=float, default=1.0, help="JPO weight of negative advantages, in [0, 1]")
    p.add_argument("--reward-scaling", choices=["standardise", "shaping-std", "max"], default="standardise")
    p.add_argument("--no-evaluate", dest="evaluate", action="store_false",
                   help="skip the paired test-split comparison after training")
