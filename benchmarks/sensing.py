"""Accuracy, macro-F1 and per-label recall of the emotion sensors on two labelled sets, or on the labels
people gave negotiation messages in a study.

    python benchmarks/sensing.py [--llm-limit N] [--no-llm]
    python benchmarks/sensing.py --labels STUDY/export/labels.parquet [--sensor MODULE:NAME] [--no-llm]

With ``--labels`` (the labels table of ``arena study export``) each message's label is the one most of
its raters chose (ties are left out and counted); GoEmotions labels are grouped into Ekman's (as
agents/data/goemotions_to_ekman.toml groups them) and "none" counts as neutral, since the sensors read
Ekman-7. The report gives the agreement between raters (Krippendorff's alpha, nominal), each sensor's
accuracy and macro-F1 against the people, and how often the people read the emotion the writer meant
to express. ``--sensor MODULE:NAME`` adds any sensor: a class or factory whose objects have
``sense(text) -> {label: probability}`` over Ekman-7.

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
import importlib
import time
from importlib import resources

import numpy as np
import pandas as pd

from agents.base import ScenarioView
from agents.llm import BackendSpec, GenerationOptions, make_backend
from agents.sensing import LexiconSensor, LLMSensor, argmax_label
from agents.speaking import Speaker
from agents.texts import load_data
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


def scores(truth: list[str], predicted: list[str], labels: tuple[str, ...] = EKMAN_7) -> tuple[float, float]:
    """Accuracy, and macro-F1 over ``labels``."""
    accuracy = sum(t == p for t, p in zip(truth, predicted)) / len(truth)
    f1s = []
    for label in labels:
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


def to_ekman(label: str) -> str:
    """A GoEmotions or Ekman label (or "none") as the Ekman-7 label the sensors read."""
    if label in EKMAN_7:
        return label
    if label == "none":
        return "neutral"
    groups = load_data("goemotions_to_ekman.toml")
    return next((ekman for ekman, members in groups.items() if label in members), "neutral")


def people_labels(path: str) -> tuple[pd.DataFrame, dict]:
    """Per message: its text, the people's majority label (Ekman), the writer's intended emotion (Ekman);
    and the counts of what was left out, with the raters' agreement."""
    import krippendorff

    table = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    table = table.assign(ekman=table["label"].map(to_ekman), message_key=table["match_id"] + "#" + table["move"].astype(str))
    codes = {label: i for i, label in enumerate(EKMAN_7)}
    matrix = table.pivot_table(index="participant", columns="message_key", values="ekman", aggfunc="first")
    numeric = matrix.apply(lambda col: col.map(codes)).to_numpy(float)
    shared = (~np.isnan(numeric)).sum(axis=0) >= 2
    alpha = (float(krippendorff.alpha(reliability_data=numeric[:, shared], level_of_measurement="nominal"))
             if shared.sum() and len(set(numeric[:, shared][~np.isnan(numeric[:, shared])])) > 1 else float("nan"))
    rows, ties = [], 0
    for key, part in table.groupby("message_key"):
        counts = part["ekman"].value_counts()
        if len(counts) > 1 and counts.iloc[0] == counts.iloc[1]:
            ties += 1
            continue
        rows.append({"text": part["message"].iloc[0], "label": counts.index[0], "raters": len(part),
                     "expressed": to_ekman(str(part["expressed"].iloc[0]))})
    return pd.DataFrame(rows), {"labels": len(table), "messages": table["message_key"].nunique(), "ties": ties,
                                "alpha": alpha, "shared": int(shared.sum())}


def load_sensor(spec: str):
    """``MODULE:NAME`` -> an object with ``sense(text)`` (NAME is a class or a factory, called without arguments)."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)()


def people_report(path: str, extra: list[str], llm: bool) -> None:
    rows, info = people_labels(path)
    print(f"people's labels in {path}: {info['labels']} labels of {info['messages']} messages; {info['ties']} "
          f"messages left out (raters tied); Krippendorff's alpha (nominal, Ekman-7) {info['alpha']:.3f} over "
          f"{info['shared']} messages with two or more raters")
    if rows.empty:
        return
    truth = list(rows["label"])
    present = tuple(label for label in EKMAN_7 if label in truth)  # macro-F1 over the labels people used
    print(f"  majority-class accuracy {max(truth.count(l) for l in EKMAN_7) / len(truth):.3f}; macro-F1 over the "
          f"{len(present)} labels people gave ({', '.join(present)})")
    sensors = [("lexicon (NRC + cues + VADER)", LexiconSensor()), ("lexicon without cues", LexiconSensor(use_cues=False))]
    sensors += [(spec, load_sensor(spec)) for spec in extra]
    if llm:
        view = ScenarioView.of(load_scenarios("credit")[0], FOCAL, 30, "goemotions-28")
        speaker = Speaker(make_backend(BackendSpec("llama-cpp", cache=False)), view, seed=0,
                          options=GenerationOptions(temperature=0.0, max_tokens=24))
        sensors.append(("LLM sensor (SmolLM2-135M)", LLMSensor(speaker)))
    for name, sensor in sensors:
        predicted = [argmax_label(sensor.sense(text)) for text in rows["text"]]
        accuracy, macro_f1 = scores(truth, predicted, present)
        print(f"  {name:36s} accuracy {accuracy:.3f}  macro-F1 {macro_f1:.3f} against the people")
    accuracy, macro_f1 = scores(truth, list(rows["expressed"]), present)
    print(f"  {'the emotion the writer meant':36s} accuracy {accuracy:.3f}  macro-F1 {macro_f1:.3f} "
          "(how often people read what was meant)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-limit", type=int, default=None, help="score the LLM sensor on the first N rows only")
    parser.add_argument("--no-llm", action="store_true")
    parser.add_argument("--labels", metavar="FILE", help="a study's labels table (arena study export): score against it")
    parser.add_argument("--sensor", action="append", default=[], metavar="MODULE:NAME", help="another sensor to score")
    args = parser.parse_args()
    if args.labels:
        people_report(args.labels, args.sensor, not args.no_llm)
        return
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
