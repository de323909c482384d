"""A study file (TOML): who a participant meets and in which order, what they read and answer.

Every problem is one line naming the file and the key (a ConfigError: ``arena`` exits 2).
See docs/guides/human-study.md for every key.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agents import AgentSpec, get_entry, load_plugins
from agents.llm import ConfigError
from arena.spec import TournamentSpec, _agent_from_table, check_parameters, check_types, read_toml, resolve_backends
from arena.study.questions import (Question, Questionnaire, check_keys, parse_question, parse_questionnaire, strings,
                                   typed)
from envs import COUNTERPART, DOMAINS, FOCAL, load_scenarios

KINDS = ("negotiate", "judge")
DESIGNS = ("within", "between")
DEFAULT_ID_PARAMS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")
PLAY_KEYS = {"split", "seed", "max_messages", "taxonomy", "converge_within", "match_timeout", "backend", "model",
             "ollama_host", "base_url", "api_key_env", "temperature", "max_tokens", "llm_timeout", "cache",
             "response_model"}
TOP = {"study", "consent", "instructions", "practice", "comprehension", "conditions", "questionnaires", "labels",
       "judge", "checks", "play"}


@dataclass(frozen=True)
class Condition:
    """One arm of the study: the opponent (an agent with its parameters and backend), the domain, the
    participant's role and the scenarios used in turn."""

    id: str
    agent: AgentSpec
    domain: str
    role: str  # the participant's role kind
    scenarios: tuple[str, ...]


@dataclass(frozen=True)
class Labels:
    """Emotion labels asked after each counted match (negotiate) or judged pair (judge)."""

    per_item: int
    sides: tuple[str, ...]  # negotiate: opponent, self; judge: judged, opponent


@dataclass(frozen=True)
class JudgeSettings:
    """A judge study: pairs of a run's transcripts assigned to each participant."""

    run: Path
    pairs: int
    repeats: int  # pairs shown a second time (sides swapped): consistency
    gold: int  # pairs with a known better side (one side walks away at once): attention
    pool: int | None = None  # how many of the run's pairs the study uses (None: all): fewer, more raters each


@dataclass(frozen=True)
class Checks:
    """Which votes are rated (the rest are dropped and counted by reason)."""

    min_gold_accuracy: float = 1.0
    max_repeat_flips: float = 0.5
    min_seconds: float = 0.0
    attention: bool = True  # drop the votes of participants who failed an attention item


@dataclass(frozen=True)
class StudySpec:
    """Everything a study file defines; ``digest`` names its design (conditions, order, seed)."""

    id: str
    title: str
    kind: str
    seed: int
    design: str
    matches: int
    id_params: tuple[str, ...]
    allow_anonymous: bool
    abandon_after: float
    consent_version: str
    consent: str
    instructions: str
    completion_code: str
    completion_url: str
    contact: str
    practice: Condition | None
    comprehension: tuple[Question, ...]
    max_attempts: int | None
    conditions: tuple[Condition, ...]
    questionnaires: tuple[Questionnaire, ...]
    labels: Labels | None
    judge: JudgeSettings | None
    checks: Checks
    play: TournamentSpec
    text: str  # the file as read

    @property
    def slots(self) -> int:
        """Counted items per participant: matches (negotiate) or pairs with repeats and gold (judge)."""
        if self.judge is not None:
            return self.judge.pairs + self.judge.repeats + self.judge.gold
        return self.matches

    @property
    def digest(self) -> str:
        """What assignment depends on: a changed design must not continue an old study's data."""
        design = repr((self.kind, self.seed, self.design, self.matches, self.conditions, self.judge))
        return hashlib.sha256(design.encode()).hexdigest()[:16]

    def questionnaire(self, qid: str) -> Questionnaire:
        return next(q for q in self.questionnaires if q.id == qid)

    def condition(self, cid: str) -> Condition:
        return next(c for c in self.conditions if c.id == cid)


def _play(data: dict[str, Any], where: str) -> TournamentSpec:
    check_keys(data, PLAY_KEYS, where)
    check_types(data, where)
    try:
        spec = TournamentSpec(**data)
        _tournament_checks(spec)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.args[0]}") from None
    return spec


def _tournament_checks(spec: TournamentSpec) -> None:
    # the tournament checks of these settings (split, message budget, backend, taxonomy, response model);
    # vanilla plays both roles, so the check of the agents' roles is met (the study's agents are checked apart)
    replace(spec, agents=[AgentSpec("vanilla")], domains=["credit"]).validate()


def _condition(table: dict[str, Any], where: str, play: TournamentSpec, single: bool = False) -> Condition:
    keys = {"id", "agent", "domain", "role", "scenario" if single else "scenarios"}
    check_keys(table, keys, where, ("agent", "domain", "role") + (() if single else ("id",)))
    agent = table["agent"]
    if not isinstance(agent, (str, dict)):
        raise ConfigError(f"{where}.agent must be an agent name or a table {{ name, params, backend }}, got {agent!r}")
    spec = _agent_from_table(agent)
    try:
        entry = get_entry(spec.name)
        check_parameters(spec)
    except (KeyError, ConfigError) as exc:
        raise ConfigError(f"{where}.agent: {exc.args[0] if exc.args else exc}") from None
    domain, role = typed(table, "domain", str, where), typed(table, "role", str, where)
    if domain not in DOMAINS:
        raise ConfigError(f"{where}.domain: unknown domain {domain!r}; known: {', '.join(DOMAINS)}")
    if role not in (FOCAL, COUNTERPART):
        raise ConfigError(f"{where}.role (the participant's role) must be {FOCAL} or {COUNTERPART}, got {role!r}")
    other = COUNTERPART if role == FOCAL else FOCAL
    if getattr(entry.agent_class, "interactive", False) or not entry.agent_class.can_play(domain, other):
        raise ConfigError(f"{where}.agent: {spec.name!r} cannot play the {other} role in {domain}")
    pool = [s.id for s in load_scenarios(domain, play.split)]
    chosen = [table["scenario"]] if single and "scenario" in table else strings(table, "scenarios", where) or pool[:1]
    for scenario in chosen:
        if scenario not in pool:
            raise ConfigError(f"{where}: scenario {scenario!r} is not in the {domain} {play.split} split")
    resolved = resolve_backends(replace(play, agents=[spec])).agents[0]
    return Condition(typed(table, "id", str, where, "practice"), resolved, domain, role, tuple(chosen))


def _text(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    table = data.get(key, {})
    check_keys(table, {"text", "version"} if key == "consent" else {"text"}, f"study file {path}: [{key}]")
    return table


def _judge(data: dict[str, Any], where: str, base: Path) -> JudgeSettings:
    check_keys(data, {"run", "pairs", "repeats", "gold", "pool"}, where, ("run",))
    run = Path(typed(data, "run", str, where))
    run = run if run.is_absolute() else (base / run)
    settings = JudgeSettings(run.resolve(), typed(data, "pairs", int, where, 8), typed(data, "repeats", int, where, 0),
                             typed(data, "gold", int, where, 0), typed(data, "pool", int, where))
    if settings.pairs < 1 or settings.repeats < 0 or settings.gold < 0 or settings.repeats > settings.pairs:
        raise ConfigError(f"{where}: pairs must be at least 1, repeats and gold 0 or more, repeats at most pairs")
    if settings.pool is not None and settings.pool < settings.pairs:
        raise ConfigError(f"{where}: pool (the pairs the study uses) must be at least pairs (those each participant judges)")
    if not run.is_dir():
        raise ConfigError(f"{where}.run: no run directory {run}")
    return settings


def _study_table(data: dict[str, Any], where: str) -> dict[str, Any]:
    table = data.get("study")
    if table is None:
        raise ConfigError(f"{where}: missing the [study] table")
    check_keys(table, {"id", "title", "kind", "seed", "design", "matches", "id_params", "allow_anonymous",
                       "abandon_after", "completion_code", "completion_url", "contact", "max_attempts"},
               f"{where}: [study]", ("id",))
    return table


def load_study(path: str | Path) -> StudySpec:
    """Read and check a study file; a ConfigError names the first problem."""
    load_plugins()
    path = Path(path)
    data, text = read_toml(path, "study file")
    where = f"study file {path}"
    unknown = sorted(set(data) - TOP)
    if unknown:
        raise ConfigError(f"{where}: unknown table {unknown[0]!r} (allowed: {', '.join(sorted(TOP))})")
    study = _study_table(data, where)
    w = f"{where}: [study]"
    kind, design = typed(study, "kind", str, w, "negotiate"), typed(study, "design", str, w, "within")
    if kind not in KINDS or design not in DESIGNS:
        raise ConfigError(f"{w}: kind must be {' or '.join(KINDS)} and design {' or '.join(DESIGNS)}")
    play = _play(data.get("play", {}), f"{where}: [play]")
    conditions = tuple(_condition(c, f"{where}: conditions[{i}]", play) for i, c in enumerate(data.get("conditions", [])))
    if kind == "negotiate" and not conditions:
        raise ConfigError(f"{where}: a negotiation study needs at least one [[conditions]] table")
    ids = [c.id for c in conditions]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{where}: condition ids must be unique")
    matches = typed(study, "matches", int, w, len(conditions) or 1)
    if matches < 1 or (design == "within" and conditions and matches > len(conditions)):
        raise ConfigError(f"{w}.matches must be between 1 and the number of conditions ({len(conditions)}) in a "
                          f"within design, got {matches}")
    consent, instructions = _text(data, "consent", path), _text(data, "instructions", path)
    if not consent.get("text") or not consent.get("version"):
        raise ConfigError(f"{where}: [consent] needs text and version (the version is recorded with every consent)")
    questionnaires = tuple(parse_questionnaire(q, f"{where}: questionnaires[{i}]")
                           for i, q in enumerate(data.get("questionnaires", [])))
    if len({q.id for q in questionnaires}) != len(questionnaires):
        raise ConfigError(f"{where}: questionnaire ids must be unique")
    practice = data.get("practice")
    spec = StudySpec(
        id=typed(study, "id", str, w), title=typed(study, "title", str, w, "A negotiation study"), kind=kind,
        seed=typed(study, "seed", int, w, 0), design=design, matches=matches,
        id_params=strings(study, "id_params", w) or DEFAULT_ID_PARAMS,
        allow_anonymous=typed(study, "allow_anonymous", bool, w, False),
        abandon_after=float(typed(study, "abandon_after", (int, float), w, 600)),
        consent_version=str(consent["version"]), consent=str(consent["text"]), instructions=str(instructions.get("text", "")),
        completion_code=typed(study, "completion_code", str, w, ""), completion_url=typed(study, "completion_url", str, w, ""),
        contact=typed(study, "contact", str, w, ""),
        practice=_condition(practice, f"{where}: [practice]", play, single=True) if practice else None,
        comprehension=tuple(parse_question(q, f"{where}: comprehension[{i}]")
                            for i, q in enumerate(data.get("comprehension", []))),
        max_attempts=typed(study, "max_attempts", int, w), conditions=conditions, questionnaires=questionnaires,
        labels=_labels(data.get("labels"), f"{where}: [labels]", kind),
        judge=_judge(data["judge"], f"{where}: [judge]", path.parent) if "judge" in data else None,
        checks=_checks(data.get("checks", {}), f"{where}: [checks]"), play=play, text=text)
    return _final_checks(spec, where)


def _labels(table: dict[str, Any] | None, where: str, kind: str) -> Labels | None:
    if table is None:
        return None
    check_keys(table, {"per_item", "sides"}, where, ("per_item",))
    allowed = ("opponent", "self") if kind == "negotiate" else ("judged", "opponent")
    sides = strings(table, "sides", where) or allowed[:1]
    if any(side not in allowed for side in sides):
        raise ConfigError(f"{where}.sides must list some of {', '.join(allowed)} in a {kind} study, got {list(sides)}")
    labels = Labels(typed(table, "per_item", int, where), sides)
    if labels.per_item < 1:
        raise ConfigError(f"{where}.per_item must be at least 1")
    return labels


def _checks(table: dict[str, Any], where: str) -> Checks:
    check_keys(table, {"min_gold_accuracy", "max_repeat_flips", "min_seconds", "attention"}, where)
    checks = Checks(float(typed(table, "min_gold_accuracy", (int, float), where, 1.0)),
                    float(typed(table, "max_repeat_flips", (int, float), where, 0.5)),
                    float(typed(table, "min_seconds", (int, float), where, 0.0)),
                    typed(table, "attention", bool, where, True))
    if not (0 <= checks.min_gold_accuracy <= 1 and 0 <= checks.max_repeat_flips <= 1 and checks.min_seconds >= 0):
        raise ConfigError(f"{where}: accuracies and flip shares lie in [0, 1], min_seconds is 0 or more")
    return checks


def _final_checks(spec: StudySpec, where: str) -> StudySpec:
    if spec.kind == "judge" and spec.judge is None:
        raise ConfigError(f"{where}: a judge study needs a [judge] table naming the run whose transcripts are judged")
    if spec.kind == "negotiate" and spec.judge is not None:
        raise ConfigError(f"{where}: [judge] belongs to a judge study (kind = \"judge\")")
    if not spec.completion_code and not spec.completion_url:
        raise ConfigError(f"{where}: [study] needs completion_code or completion_url (what a participant gets at the end)")
    if spec.completion_url and not spec.completion_url.startswith(("https://", "http://")):
        raise ConfigError(f"{where}: [study].completion_url must be an http(s) address")
    if not spec.id_params and not spec.allow_anonymous:
        raise ConfigError(f"{where}: [study] needs id_params or allow_anonymous = true")
    if spec.abandon_after <= 0 or (spec.max_attempts is not None and spec.max_attempts < 1):
        raise ConfigError(f"{where}: abandon_after must be positive and max_attempts at least 1")
    return spec
