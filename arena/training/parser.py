"""The ``arena train`` command line (argparse only: cheap to import)."""
from __future__ import annotations

import argparse

STAGES = ("sweep", "iql", "export", "all")


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
    p.add_argument("--ollama-host")
    p.add_argument("--top-fraction", type=float, default=0.25, help="SFT filter: keep this share by q")
    p.add_argument("--base-model", default="qwen2.5:7b-instruct", help="FROM line of the generated Modelfile")
    p.add_argument("--adapter-dir", default="./adapter", help="ADAPTER line of the generated Modelfile")
    p.add_argument("--out", help="output folder (default runs/emodistill/DOMAIN)")
    p.add_argument("--install", action="store_true", help="copy the trained selector into the package (ships it)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--beta", type=float, default=10.0, help="IQL inverse temperature of the policy extraction "
                                                           "(default 10; the paper used 3)")
    p.add_argument("--reward-scaling", choices=["standardise", "shaping-std", "max"], default="standardise")
    p.add_argument("--no-evaluate", dest="evaluate", action="store_false",
                   help="skip the paired test-split comparison after training")
