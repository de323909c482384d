"""Fast-forwarding forced text: the forcer never forces what a valid reply could differ in, and the
embedded backend with it on gives valid, reproducible replies, the same with and without reuse."""
from __future__ import annotations

import json
import random

import pytest

from agents.llm import BackendSpec, ChatRequest, GenerationOptions, action_schema
from agents.llm.forcing import ForcedText
from agents.llm.schema import label_schema
from envs import DOMAINS, EKMAN_7


def _random_reply(schema: dict, rng: random.Random) -> str:
    """A valid reply of a flat schema, written as the grammar writes it."""
    parts = []
    for name, spec in schema["properties"].items():
        if "enum" in spec:
            value = json.dumps(rng.choice(spec["enum"]))
        elif spec["type"] == "integer":
            value = str(rng.choice([spec["minimum"], spec["maximum"], rng.randint(spec["minimum"], spec["maximum"])]))
        else:
            words = rng.choices(["ok", "fine", "Deal?", "no", "we", "pay", "é", "30,", "days}"], k=rng.randint(1, 6))
            value = json.dumps(" ".join(words), ensure_ascii=False)
        parts.append(json.dumps(name) + ": " + value)
    return "{" + ", ".join(parts) + "}"


@pytest.mark.parametrize("schema", [action_schema(DOMAINS["credit"], EKMAN_7, 200), label_schema(EKMAN_7),
                                    action_schema(DOMAINS["sleep"], ("anger", "anticipation", "neutral"), 50)])
def test_forced_text_is_always_how_the_reply_goes_on(schema):
    forcer, rng = ForcedText(schema), random.Random(7)
    forced_chars = 0
    for _ in range(200):
        reply = _random_reply(schema, rng)
        for cut in range(len(reply) + 1):
            forced, done = forcer.after(reply[:cut])
            assert reply[cut:].startswith(forced), (reply, cut, forced)
            assert done == (cut + len(forced) == len(reply)), (reply, cut, forced)
            forced_chars += len(forced) > 0
    assert forced_chars > 0


def test_the_forcer_forces_keys_separators_enum_endings_and_the_end_only():
    forcer = ForcedText(action_schema(DOMAINS["credit"], EKMAN_7, 200))
    assert forcer.after("") == ('{"move": "', False)
    assert forcer.after('{"move": "w') == ('alk_away", "value": ', False)
    assert forcer.after('{"move": "offer", "value": 3') == ("", False)  # another digit, or the end of the number
    assert forcer.after('{"move": "offer", "value": 30,') == (' "emotion": "', False)
    assert forcer.after('{"move": "offer", "value": 30, "emotion": "s') == ("", False)  # sadness or surprise
    assert forcer.after('{"move": "offer", "value": 30, "emotion": "neutral", "message": "a') == ("", False)
    assert forcer.after('{"move": "offer", "value": 30, "emotion": "neutral", "message": "a"') == ("}", True)


def _replies(backend, seeds=(0, 1, 2)) -> list[str]:
    schema = action_schema(DOMAINS["credit"], EKMAN_7, 120)
    system = {"role": "system", "content": "You are the creditor. Reply with one JSON object only."}
    texts = []
    for seed in seeds:
        history = [system]
        for turn in range(3):
            history.append({"role": "user", "content": f"Debtor: I can pay in {60 + 10 * turn} days. Your move (JSON only):"})
            reply = backend.complete(ChatRequest(tuple(history), schema, GenerationOptions(seed=seed + turn, max_tokens=90)))
            texts.append(reply.text)
            history.append({"role": "assistant", "content": reply.text})
    return texts


@pytest.mark.llm
def test_fast_forwarded_replies_are_valid_reproducible_and_the_same_with_reuse():
    from agents.llm.factory import _build, outcome_identity
    from agents.llm.structured import parse_reply_text

    fresh = _build(BackendSpec("llama-cpp", cache=False, threads=2, prefix_reuse=False, fast_forward=True))
    first = _replies(fresh)
    forced = fresh.pool.forced
    assert forced >= 10 * len(first)  # '{"move": "', the separators, the closing brace ... appended, not drawn
    for text in first:
        action, error = parse_reply_text(text, DOMAINS["credit"], EKMAN_7, 120)
        assert action is not None, (text, error)
    assert _replies(fresh) == first  # a seed reproduces
    reused = _build(BackendSpec("llama-cpp", cache=False, threads=2, prefix_reuse=True, fast_forward=True))
    assert _replies(reused) == first
    assert reused.pool.reused > 0
    drawn = BackendSpec("llama-cpp", cache=False, threads=2)
    assert "fast_forward" in outcome_identity(BackendSpec("llama-cpp", fast_forward=True))
    assert "fast_forward" not in outcome_identity(drawn)  # a run's fingerprint tells the two apart
    assert _build(drawn).identity != fresh.identity  # and so does the response cache
    drawing = _build(drawn)
    before = (drawing.pool.spans.replies, drawing.pool.spans.spans)
    texts = _replies(drawing, seeds=(0,))
    assert drawing.pool.spans.replies - before[0] == len(texts)  # drawn replies are tallied, forced ones are not
    assert drawing.pool.spans.spans - before[1] >= 3 * len(texts)  # the lead, the separators, the end at least
    tallied = drawing.pool.spans.replies
    _replies(fresh, seeds=(0,))  # the same pool, fast-forwarding: nothing drawn to tally
    assert fresh.pool is drawing.pool and drawing.pool.spans.replies == tallied


@pytest.mark.llm
def test_weights_stay_in_plain_buffers_where_amx_kernels_would_crash(monkeypatch):
    import llama_cpp

    from agents.llm import llama_loading as embedded

    defaults = llama_cpp.llama_cpp.llama_model_default_params
    monkeypatch.setattr(embedded, "cpu_features", lambda: ("AVX2", "AMX_INT8"))
    llm = embedded.load_llama(model_path=str(embedded.default_model_path()), n_ctx=256, n_threads=2, verbose=False)
    assert llm.model_params.use_extra_bufts is False
    assert llm.create_completion("The debtor offers to pay in thirty days because", max_tokens=4)["choices"][0]["text"]
    llm.close()
    assert llama_cpp.llama_cpp.llama_model_default_params is defaults  # put back after the load
    monkeypatch.setattr(embedded, "cpu_features", lambda: ("AVX2",))
    assert embedded.plain_weight_buffers() is False


def test_a_backend_switch_that_is_not_true_or_false_is_named():
    from agents.llm.base import ConfigError
    from arena.spec import _agent_from_table

    with pytest.raises(ConfigError, match="backend fast_forward must be true or false, got 'no'"):
        _agent_from_table({"name": "vanilla", "backend": {"kind": "llama-cpp", "fast_forward": "no"}})


class _Vocab:
    """A toy tokenizer: greedy longest match over a few pieces, every other character alone."""

    PIECES = ['{"', 'move', '":', ' "', 'offer', '",', ' "value', ' 3', '0', ',', 'emotion', 'neutral', 'message',
              'ok', '"}', '"', '}', ' ']

    def __init__(self):
        self.pieces = list(self.PIECES)

    def id(self, piece: str) -> int:
        if piece not in self.pieces:
            self.pieces.append(piece)
        return self.pieces.index(piece)

    def tokens(self, text: str) -> list[int]:
        out = []
        while text:
            piece = max((p for p in self.pieces if text.startswith(p)), key=len, default=text[0])
            out.append(self.id(piece))
            text = text[len(piece):]
        return out

    def piece(self, token: int) -> bytes:
        return self.pieces[token].encode()


def test_the_span_tally_tells_canonical_forced_runs_from_the_models_own_spelling():
    from agents.llm.forcing import SpanTally

    forcer, vocab = ForcedText(label_schema(("neutral", "anger"))), _Vocab()
    reply = '{"emotion": "neutral"}'
    canonical = vocab.tokens('{"emotion": "') + vocab.tokens("neutral") + vocab.tokens('"}')
    tally = SpanTally()
    tally.add(canonical, forcer, vocab.piece, vocab.tokens)
    assert (tally.replies, tally.replies_same, tally.spans, tally.same) == (1, 1, 2, 2)
    assert tally.drawn_tokens == 1  # 'neutral': the choice; the lead and the end are forced
    own = [vocab.id(c) for c in '{"emotion": "'] + vocab.tokens('neutral"}')  # character by character, then '"}'
    assert b"".join(vocab.piece(t) for t in own).decode() == reply
    tally.add(own, forcer, vocab.piece, vocab.tokens)
    assert (tally.replies, tally.replies_same, tally.spans, tally.same) == (2, 1, 4, 3)
    straddling = vocab.tokens('{"emotion":') + [vocab.id(' "n')] + vocab.tokens('eutral"}')  # ' "n' ends past the run
    tally.add(straddling, forcer, vocab.piece, vocab.tokens)
    assert (tally.replies, tally.replies_same, tally.spans, tally.same) == (3, 1, 6, 4)
