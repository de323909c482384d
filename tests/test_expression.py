"""EmoDistill's expression half without model training: the rubric judge, the model judge's
validation, the judge stage and how its scores feed the SFT filter and the JPO advantages."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from agents.llm import Backend, ChatRequest, Completion
from agents.llm.base import parse_json_object
from arena.cli import main
from arena.training.judge import FALLBACK_SCORE, LLMJudge, RubricJudge, TurnToJudge
from envs import COUNTERPART, DOMAINS, FOCAL

CREDIT, RESCUE = DOMAINS["credit"], DOMAINS["rescue"]


def _turn(move, value, utterance, history=(), domain=CREDIT, target=30, reservation=90) -> TurnToJudge:
    return TurnToJudge(domain, target, reservation, tuple(history), move, value, utterance)


def _said(role, move, value, message="..."):
    return {"role": role, "move": move, "value": value, "message": message}


def test_the_rubric_rewards_anchoring_proposals_and_leverage_and_penalises_vagueness_and_capitulation():
    judge = RubricJudge()
    firm = judge.judge(_turn("offer", 35, "Because your payment record shows delays, I need payment within 35 days."))
    assert firm.score == 10 and "firm anchor" in firm.reason and "gives a reason" in firm.reason
    caved = judge.judge(_turn("offer", 85, "Fine, whatever you want, maybe that works.",
                              [_said(FOCAL, "offer", 40), _said(COUNTERPART, "offer", 120)]))
    assert caved.score == 1 and "big concession" in caved.reason and "gives up" in caved.reason
    holding = judge.judge(_turn("offer", 55, "I can do 55 days.", [_said(FOCAL, "offer", 50)]))
    assert holding.score == 8 and "small calibrated concession" in holding.reason
    vague = judge.judge(_turn("offer", 55, "Let us see what we can do here, perhaps."))
    assert vague.score == 4 and "no number" in vague.reason and "hedges" in vague.reason
    good_close = judge.judge(_turn("accept", None, "Deal at 32 days.", [_said(COUNTERPART, "offer", 32)]))
    moderate_close = judge.judge(_turn("accept", None, "Agreed.", [_said(COUNTERPART, "offer", 65)]))
    walk = judge.judge(_turn("walk_away", None, "Then we are done here."))
    assert good_close.score == 10 and walk.score == 4 and moderate_close.score > walk.score
    beyond = judge.judge(_turn("offer", 1, "Pay in 1 day."))  # far past the target of 30: a risky anchor
    assert beyond.score < firm.score and "beyond the target" in beyond.reason


def test_the_rubric_reads_each_domain_from_the_focal_side():
    judge = RubricJudge()
    # rescue: the coordinator prefers high values; a target of 300 and a limit of 120 minutes
    firm = judge.judge(_turn("offer", 280, "We need 280 minutes because the road is blocked.", domain=RESCUE,
                             target=300, reservation=120))
    weak = judge.judge(_turn("offer", 130, "We need 130 minutes because the road is blocked.", domain=RESCUE,
                             target=300, reservation=120))
    assert firm.score - weak.score == 3  # firm anchor (+2) against a weak position (-1), the words alike


class _Replies(Backend):
    """A model that answers a fixed sequence of texts (then repeats the last)."""

    kind, model = "llama-cpp", "test-replies"

    def __init__(self, *texts: str):
        super().__init__()
        self.texts = list(texts)

    def complete(self, request: ChatRequest) -> Completion:
        self.calls += 1
        text = self.texts.pop(0) if len(self.texts) > 1 else self.texts[0]
        return Completion(text, parse_json_object(text), 10, 5, 0.0, self.model)


def test_the_model_judge_validates_retries_and_falls_back_counted():
    turn = _turn("offer", 35, "35 days, because you are late.", [_said(COUNTERPART, "offer", 120, "I need 120.")])
    judge = LLMJudge(_Replies('{"score": 12, "reason": "x"}', '{"score": 7, "reason": "Firm and concrete."}'))
    messages = judge.messages(turn)
    assert "creditor" in messages[0]["content"] and "35 days" in messages[1]["content"] and "I need 120." in messages[1]["content"]
    verdict = judge.judge(turn)
    assert (verdict.score, verdict.reason) == (7, "Firm and concrete.")
    assert (judge.stats.malformed, judge.stats.retries, judge.stats.fallbacks) == (1, 1, 0)
    hopeless = LLMJudge(_Replies("Seven out of ten!"))
    assert hopeless.judge(turn).score == FALLBACK_SCORE and hopeless.stats.fallbacks == 1


@pytest.mark.llm
def test_the_model_judge_scores_through_the_embedded_model(llama):
    judge = LLMJudge(llama)
    verdict = judge.judge(_turn("offer", 35, "Because you are 60 days late, I need payment within 35 days."))
    assert 1 <= verdict.score <= 10 and verdict.reason and judge.stats.requests >= 1


@pytest.fixture(scope="module")
def judged_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("emodistill")
    args = ["train", "emodistill", "--domain", "credit", "--rollouts", "2", "--workers", "0", "--out", str(out),
            "--quiet"]
    assert main([*args, "--stage", "sweep"]) == 0
    assert main([*args, "--stage", "judge"]) == 0
    assert main([*args, "--stage", "export"]) == 0
    return out


def test_the_judge_stage_stores_a_score_per_focal_turn_and_resumes(judged_sweep, capsys):
    from arena.training import expression

    judged = [json.loads(line) for line in (judged_sweep / "judged.jsonl").read_text().splitlines()]
    turns = list(expression.focal_turns(judged_sweep / "sweep", "credit"))
    assert len(judged) == len(turns) and {j["judge"] for j in judged} == {"rubric"}
    assert all(1 <= j["score"] <= 10 and j["reason"] for j in judged)
    assert len({j["score"] for j in judged}) > 1
    main(["train", "emodistill", "--domain", "credit", "--stage", "judge", "--workers", "0", "--out",
          str(judged_sweep), "--quiet"])
    assert len((judged_sweep / "judged.jsonl").read_text().splitlines()) == len(turns)  # nothing judged twice


def test_sft_filter_and_jpo_advantages_use_the_judge_score_not_the_terminal_bonus(judged_sweep):
    from arena.training import expression

    turns = list(expression.focal_turns(judged_sweep / "sweep", "credit"))
    scores = expression.load_judged(judged_sweep / "judged.jsonl")
    r = np.array([scores[expression.turn_key(t)] for t in turns])
    q = r + 0.5 * np.array([t["episode_return"] for t in turns])
    sft = [json.loads(line) for line in (judged_sweep / "sft.jsonl").read_text().splitlines()]
    assert sft and min(s["q"] for s in sft) >= np.quantile(q, 0.75) - 1e-5
    assert all(json.loads(s["messages"][-1]["content"])["message"] for s in sft)  # the reply is the action JSON
    jpo = pd.read_json(judged_sweep / "jpo.jsonl", lines=True)
    frame = pd.DataFrame({"scenario": [t["scenario"] for t in turns], "r": r})
    expected = frame.groupby("scenario")["r"].transform(lambda x: (x - x.mean()) / max(x.std(), 1e-6)).clip(-10, 10)
    assert np.allclose(jpo["advantage"], expected)
    assert np.allclose(jpo.groupby("scenario")["advantage"].mean(), 0, atol=1e-9)


def test_export_without_a_judged_sweep_says_it_uses_the_step_reward(judged_sweep, tmp_path, capsys):
    import shutil

    shutil.copytree(judged_sweep / "sweep", tmp_path / "sweep")
    assert main(["train", "emodistill", "--domain", "credit", "--stage", "export", "--out", str(tmp_path), "--quiet"]) == 0
    assert "r_t = outcome step reward (the sweep is not judged)" in capsys.readouterr().out
