"""Accuracy, macro-F1 and per-label recall of the emotion sensors on two labelled sets.

    python benchmarks/sensing.py [--llm-limit N] [--no-llm]

Sets: ``sensing_eval.csv`` (140 utterances, written together with the cue lexicon, so the lexicon
sensor is tuned to it) and ``sensing_heldout.csv`` (147 negotiation utterances written and labelled
independently of the cue lexicon and before any tuning: the personas' own tactic lines and
transcript-style messages, covering threats, ultimatums, pleading, sarcasm and negation; the
``kind`` column says which). Sensors: the lexicon sensor (NRC + negotiation cues + VADER), the
same without the cue lexicon, and the LLM sensor on the embedded SmolLM2 model (needs 'local').
"""
from __future__ import annotations

import argparse
import csv
import time
from importlib import resources

from agents.base import ScenarioView
from agents.llm import BackendSpec, GenerationOptions, make_backend
from agents.sensing import LexiconSensor, LLMSensor, argmax_label
from agents.speaking import Speaker
from envs import EKMAN_7, FOCAL, load_scenarios


SETS = {"tuned with the cues (sensing_eval.csv)": "sensing_eval.csv",
        "held out (sensing_heldout.csv)": "sensing_heldout.csv"}


def load_eval(name: str = "sensing_eval.csv") -> list[dict[str, str]]:
    text = resources.files("agents").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def recall(truth: list[str], predicted: list[str]) -> dict[str, float]:
    """Per label: the share of its utterances the sensor labelled correctly."""
    return {label: sum(t == p == label for t, p in zip(truth, predicted)) / max(1, truth.count(label))
            for label in EKMAN_7}


def scores(truth: list[str], predicted: list[str]) -> tuple[float, float]:
    accuracy = sum(t == p for t, p in zip(truth, predicted)) / len(truth)
    f1s = []
    for label in EKMAN_7:
        tp = sum(t == label and p == label for t, p in zip(truth, predicted))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return accuracy, sum(f1s) / len(f1s)


def lexicon_report(rows: list[dict[str, str]]) -> None:
    truth = [r["label"] for r in rows]
    print(f"  {len(rows)} utterances, majority-class accuracy {max(truth.count(l) for l in EKMAN_7) / len(truth):.3f}")
    for name, sensor in (("lexicon (NRC + cues + VADER)", LexiconSensor()),
                         ("lexicon without cues (NRC + VADER)", LexiconSensor(use_cues=False))):
        start = time.perf_counter()
        predicted = [argmax_label(sensor.sense(r["text"])) for r in rows]
        accuracy, macro_f1 = scores(truth, predicted)
        per_label = ", ".join(f"{k} {v:.2f}" for k, v in recall(truth, predicted).items())
        print(f"  {name:36s} accuracy {accuracy:.3f}  macro-F1 {macro_f1:.3f}  "
              f"({1000 * (time.perf_counter() - start) / len(rows):.2f} ms/utterance)\n      recall: {per_label}")
        if "kind" in rows[0] and sensor.use_cues:
            kinds = sorted({r["kind"] for r in rows})
            print("      accuracy by kind: " + ", ".join(
                f"{k} {sum(p == r['label'] for p, r in zip(predicted, rows) if r['kind'] == k) / sum(r['kind'] == k for r in rows):.2f}"
                for k in kinds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-limit", type=int, default=None, help="score the LLM sensor on the first N rows only")
    parser.add_argument("--no-llm", action="store_true")
    args = parser.parse_args()
    for title, name in SETS.items():
        print(title)
        lexicon_report(load_eval(name))
    if args.no_llm:
        return
    view = ScenarioView.of(load_scenarios("credit")[0], FOCAL, 30, "goemotions-28")
    speaker = Speaker(make_backend(BackendSpec("llama-cpp", cache=False)), view, seed=0,
                      options=GenerationOptions(temperature=0.0, max_tokens=24))
    sensor = LLMSensor(speaker)
    for title, name in SETS.items():
        rows = load_eval(name)
        subset = rows[: args.llm_limit] if args.llm_limit else rows
        start = time.perf_counter()
        predicted = [argmax_label(sensor.sense(r["text"], turn=i)) for i, r in enumerate(subset)]
        accuracy, macro_f1 = scores([r["label"] for r in subset], predicted)
        print(f"LLM sensor (SmolLM2-135M) on {title}: accuracy {accuracy:.3f}  macro-F1 {macro_f1:.3f}  "
              f"({1000 * (time.perf_counter() - start) / len(subset):.0f} ms/utterance, {len(subset)} rows)")
    print(f"LLM sensor: {sensor.fallbacks} fell back to the lexicon, {speaker.stats.malformed} malformed replies")


if __name__ == "__main__":
    main()
