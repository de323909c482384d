"""Accuracy and macro-F1 of the emotion sensors on the labelled evaluation set (140 utterances).

    python benchmarks/sensing.py [--llm-limit N]

Sensors: the lexicon sensor (NRC + negotiation cues + VADER), the same without the cue lexicon
(the cues were written by the same hands as the evaluation set, so this is the fairer baseline),
and the LLM sensor on the embedded SmolLM2 model (needs the 'local' extra).
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


def load_eval() -> list[dict[str, str]]:
    text = resources.files("agents").joinpath("data/sensing_eval.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def scores(truth: list[str], predicted: list[str]) -> tuple[float, float]:
    accuracy = sum(t == p for t, p in zip(truth, predicted)) / len(truth)
    f1s = []
    for label in EKMAN_7:
        tp = sum(t == label and p == label for t, p in zip(truth, predicted))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return accuracy, sum(f1s) / len(f1s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-limit", type=int, default=None, help="score the LLM sensor on the first N rows only")
    parser.add_argument("--no-llm", action="store_true")
    args = parser.parse_args()
    rows = load_eval()
    truth = [r["label"] for r in rows]
    print(f"{len(rows)} utterances, {len(set(truth))} labels, majority-class accuracy {max(truth.count(l) for l in EKMAN_7) / len(truth):.3f}")
    for name, sensor in (("lexicon (NRC + cues + VADER)", LexiconSensor()),
                         ("lexicon without cues (NRC + VADER)", LexiconSensor(use_cues=False))):
        start = time.perf_counter()
        predicted = [argmax_label(sensor.sense(r["text"])) for r in rows]
        accuracy, macro_f1 = scores(truth, predicted)
        print(f"{name:38s} accuracy {accuracy:.3f}  macro-F1 {macro_f1:.3f}  "
              f"({1000 * (time.perf_counter() - start) / len(rows):.2f} ms/utterance)")
    if args.no_llm:
        return
    subset = rows[: args.llm_limit] if args.llm_limit else rows
    view = ScenarioView.of(load_scenarios("credit")[0], FOCAL, 30, "goemotions-28")
    speaker = Speaker(make_backend(BackendSpec("llama-cpp", cache=False)), view, seed=0,
                      options=GenerationOptions(temperature=0.0, max_tokens=24))
    sensor = LLMSensor(speaker)
    start = time.perf_counter()
    predicted = [argmax_label(sensor.sense(r["text"], turn=i)) for i, r in enumerate(subset)]
    accuracy, macro_f1 = scores([r["label"] for r in subset], predicted)
    print(f"{'LLM sensor (SmolLM2-135M, llama.cpp)':38s} accuracy {accuracy:.3f}  macro-F1 {macro_f1:.3f}  "
          f"({1000 * (time.perf_counter() - start) / len(subset):.0f} ms/utterance, {len(subset)} rows, "
          f"{sensor.fallbacks} fell back to the lexicon, {speaker.stats.malformed} malformed replies)")


if __name__ == "__main__":
    main()
