"""Prefix reuse in the embedded backend: the same numbers and replies as a fresh evaluation, in a
single call and across whole tournaments (rerun, resume, another worker count)."""
from __future__ import annotations

import ctypes
import json
import shutil

import numpy as np
import pytest

from agents import AgentSpec
from agents.llm import BackendSpec, ChatRequest, GenerationOptions, action_schema
from agents.llm.llama_loading import build_identity
from arena.runner import run_tournament
from arena.spec import TournamentSpec
from arena.storage import load_matches
from envs import DOMAINS, EKMAN_7
from tests.helpers import outcomes, unfinish

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def q8_model(tmp_path_factory):
    """SmolLM2 requantised to Q8_0: a type whose CPU kernels give different numbers for different batch
    shapes on every build we met (the shipped Q4_1 does on some builds, not on others), so it shows
    whether alignment is doing its job."""
    import llama_cpp

    from agents.llm.llama_loading import default_model_path

    out = tmp_path_factory.mktemp("q8") / "smollm2-q8_0.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.allow_requantize = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, True
    assert llama_cpp.llama_model_quantize(str(default_model_path()).encode(), str(out).encode(), ctypes.byref(params)) == 0
    return out


def _last_logits(llm, tokens: list[int], reuse: bool) -> np.ndarray:
    """Evaluate ``tokens`` as a prompt the way ``Llama.generate`` does: keep the matching cached prefix."""
    llm.start_prompt(reuse)
    keep = 0
    while keep < min(llm.n_tokens, len(tokens) - 1) and llm.input_ids[keep] == tokens[keep]:
        keep += 1
    llm.n_tokens = keep
    llm.eval(tokens[keep:])
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()


@pytest.mark.parametrize("split", ["lines", "fixed"])
def test_a_reused_prefix_gives_the_logits_of_a_fresh_evaluation(q8_model, split):
    from agents.llm.llama_cpp import ContextPool, chunk_ends

    pool = ContextPool(q8_model, n_ctx=1024, n_threads=2, size=2, eval_chunk=64, eval_split=split)
    kept, fresh = pool.take(["kept"]), pool.take(["fresh"])
    lines = [f"Debtor: I can pay in {90 + i} days." if i % 3 else f"Creditor: {30 + i} days, and that is final. " * 3
             for i in range(24)] + ["ok"]
    base = kept.tokenize("\n".join(lines).encode())
    assert len(base) > 250
    _last_logits(kept, base, reuse=True)
    suffix = kept.tokenize(b" Counter-offer: 95 days, final.", add_bos=False)
    # later prompts share the first ``cut`` tokens of the long one, then diverge; the last adds a
    # single token (with plain reuse that token is a batch of one, which changes the numbers)
    for cut, tokens in [(cut, base[:cut] + suffix) for cut in (201, 150, 64, 37)] + [(len(base), base + suffix[:1])]:
        reused = _last_logits(kept, tokens, reuse=True)
        assert kept.last_reused == max(end for end in [0] + chunk_ends(base, kept.line_end, 64, split) if end <= cut)
        assert np.array_equal(reused, _last_logits(fresh, tokens, reuse=False)), cut
        _last_logits(kept, base, reuse=True)  # back to the long prompt, so the next one reuses a prefix
    if split == "lines":  # a growing dialogue re-reads only its last, unfinished line
        assert kept.last_reused > len(base) - 20
    pool.close()


def test_chunk_ends_depend_only_on_the_tokens_before_them():
    from agents.llm.llama_cpp import MIN_LINE_CHUNK, chunk_ends

    rng = np.random.default_rng(0)
    line_end = np.zeros(50, dtype=bool)
    line_end[[3, 7]] = True  # two "newline" tokens
    tokens = [int(t) for t in rng.integers(0, 50, 600)]
    for split in ("lines", "fixed"):
        full = chunk_ends(tokens, line_end, 64, split)
        for cut in range(0, 600, 7):
            assert chunk_ends(tokens[:cut], line_end, 64, split) == [e for e in full if e <= cut]
    sizes = np.diff([0] + chunk_ends(tokens, line_end, 64))
    assert sizes.max() <= 64 and sizes.min() >= MIN_LINE_CHUNK
    ends = chunk_ends(tokens, line_end, 64)
    assert all(line_end[tokens[e - 1]] or size == 64 for e, size in zip(ends, sizes))
    assert chunk_ends(tokens, line_end, 64, "fixed") == list(range(64, 601, 64))


def _dialogue(reuse: bool, model: str, turns: int = 3) -> tuple[list[str], int]:
    from agents.llm.llama_cpp import LlamaCppBackend

    backend = LlamaCppBackend(model, n_threads=2, prefix_reuse=reuse)
    schema = action_schema(DOMAINS["credit"], EKMAN_7, 80)
    sides = [[{"role": "system", "content": f"You are the {role} in a negotiation over repayment days. Target "
                                            f"{target} days. Reply in JSON with move, value, emotion, message."}]
             for role, target in (("creditor", 30), ("debtor", 120))]
    texts = []
    for turn in range(turns):
        for me, (mine, theirs) in enumerate((sides, sides[::-1])):
            request = ChatRequest(tuple(mine + [{"role": "user", "content": "Your move."}]), schema,
                                  GenerationOptions(seed=10 * turn + me, temperature=0.9, max_tokens=60))
            text = backend.complete(request).text
            texts.append(text)
            mine.append({"role": "assistant", "content": text})
            theirs.append({"role": "user", "content": text})
    return texts, backend.pool.reused


def test_reuse_and_no_reuse_give_the_same_replies(q8_model):
    with_reuse, reused = _dialogue(True, str(q8_model))
    without, _ = _dialogue(False, str(q8_model))
    assert with_reuse == without and reused > 0


def test_tournaments_with_reuse_match_without_it_on_rerun_resume_and_ray(tmp_path, q8_model):
    def spec(reuse: bool, workers: int) -> TournamentSpec:
        backend = BackendSpec("llama-cpp", str(q8_model), cache=False)
        return TournamentSpec(agents=[AgentSpec("vanilla", {"max_tokens": 120}, backend),
                                      AgentSpec("vanilla-counterpart", {"max_tokens": 120}, backend)],
                              domains=["credit"], scenarios=1, max_messages=6, workers=workers,
                              prefix_reuse=reuse, cache=False).validate()

    run_tournament(spec(False, 0), tmp_path / "fresh")
    expected = outcomes(tmp_path / "fresh")
    assert len(expected) == 2 and all(len(t) >= 2 for t in expected.values())
    run_tournament(spec(True, 0), tmp_path / "reuse")
    assert outcomes(tmp_path / "reuse") == expected
    assert set(load_matches(tmp_path / "reuse")["focal_build"]) == {build_identity()}
    # resume: keep the first finished match only, as if another llama.cpp build had computed it
    shutil.copytree(tmp_path / "reuse", tmp_path / "resumed")
    kept = json.loads(unfinish(tmp_path / "resumed")[0])
    kept["record"]["focal_build"] = "llama-cpp-python 0.0.1 (SSE3)"
    (tmp_path / "resumed" / "results.jsonl").write_text(json.dumps(kept) + "\n", encoding="utf-8")
    notes: list[str] = []
    run_tournament(spec(True, 0), tmp_path / "resumed", on_note=notes.append)
    assert outcomes(tmp_path / "resumed") == expected
    assert len(notes) == 1 and "1 finished match(es)" in notes[0] and "0.0.1 (SSE3)" in notes[0]
    assert build_identity() in notes[0]
    run_tournament(spec(True, 2), tmp_path / "ray")
    assert outcomes(tmp_path / "ray") == expected


def test_a_model_sized_to_share_the_cores_evaluates_prompts_on_its_share_too():
    """llama-cpp-python would give prompt evaluation every core, so Ray workers sized to share the
    machine would oversubscribe it; the backend passes its thread count for prompts as well."""
    from agents.llm import BackendSpec, make_backend

    backend = make_backend(BackendSpec("llama-cpp", threads=1, cache=False))
    backend.preflight()
    llm = backend.pool.slots[0][0]
    assert (llm.context_params.n_threads, llm.context_params.n_threads_batch) == (1, 1)
    wider = make_backend(BackendSpec("llama-cpp", threads=1, batch_threads=2, cache=False))
    wider.preflight()
    assert wider.pool.slots[0][0].context_params.n_threads_batch == 2


def _generations(backend, seeds=(0, 1, 2), temperatures=(0.7, 0.0, 1.2)) -> list[str]:
    from agents.llm.base import ChatRequest, GenerationOptions
    from agents.llm.schema import action_schema
    from envs import get_domain, get_taxonomy

    texts = []
    for domain in ("credit", "sleep"):
        schema = action_schema(get_domain(domain), get_taxonomy("goemotions-28"))
        messages = ({"role": "system", "content": f"You negotiate in the {domain} domain. Reply with JSON."},
                    {"role": "user", "content": "They offer 60 and say they are struggling. Your move?"})
        for seed in seeds:
            for temperature in temperatures:
                options = GenerationOptions(temperature=temperature, seed=seed, max_tokens=80)
                texts.append(backend.complete(ChatRequest(messages, schema, options)).text)
    return texts


@pytest.mark.llm
@pytest.mark.parametrize("model", ["shipped", "q8"])
def test_the_grammar_shortlist_gives_the_full_masks_replies(model, q8_model, monkeypatch):
    from agents.llm import grammar_sampler
    from agents.llm.llama_cpp import LlamaCppBackend

    made = []
    original = grammar_sampler.ShortlistGrammarSampler.__init__

    def counting(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)
    monkeypatch.setattr(grammar_sampler.ShortlistGrammarSampler, "__init__", counting)
    path = None if model == "shipped" else str(q8_model)
    masked = _generations(LlamaCppBackend(path, n_threads=2, prefix_reuse=False, grammar_shortlist=False))
    assert made == []  # the full mask on every token, as llama-cpp-python does it
    shortlisted = _generations(LlamaCppBackend(path, n_threads=2, prefix_reuse=False))
    assert shortlisted == masked
    assert sum(s.shortlisted for s in made) > 2 * sum(s.masked for s in made) > 0  # both paths ran


@pytest.mark.llm
def test_the_shortlist_is_taken_only_when_it_settles_the_candidates():
    import numpy as np
    from llama_cpp import LlamaGrammar

    from agents.llm.grammar_sampler import ShortlistGrammarSampler
    from agents.llm.llama_cpp import LlamaCppBackend

    backend = LlamaCppBackend(n_threads=1)
    backend.preflight()
    llm = backend.pool.slots[0][0]
    grammar = LlamaGrammar.from_string('root ::= "yes" | "no"', verbose=False)
    sampler = ShortlistGrammarSampler(llm, grammar, top_k=40, top_p=0.95, min_p=0.05, temp=0.7)
    ids = np.arange(sampler.n_vocab, dtype=np.int32)
    allowed = ids[sampler._allowed(ids, np.zeros(sampler.n_vocab, dtype=np.float32))]
    forbidden = np.setdiff1d(ids, allowed)
    assert 1 <= len(allowed) < 40
    logits = np.random.default_rng(0).normal(0, 1, sampler.n_vocab).astype(np.float32)
    logits[forbidden[0]] = 40.0  # the model's favourite is forbidden
    logits[allowed[0]] = 30.0
    chosen = sampler.shortlist(logits)
    assert chosen is not None and chosen[0] == allowed[0] and set(chosen) <= set(allowed)
    crowded = logits.copy()
    crowded[forbidden[1:400]] = 29.0  # pushes the next allowed token out of the shortlist, though
    crowded[allowed[1]] = 28.9         # it would pass min-p (cut 30 + ln 0.05 = 27): mask all
    assert sampler.shortlist(crowded) is None
    tied = logits.copy()
    tied[allowed[1]] = 30.0
    assert sampler.shortlist(tied) is None
    lost = logits.copy()
    lost[allowed] = -5.0  # no allowed token among the best: mask all
    assert sampler.shortlist(lost) is None
