"""The embedded backend: a GGUF model in-process through llama-cpp-python (SmolLM2 by default).

Prompts are evaluated in chunks whose ends depend only on the tokens before them (``eval_split``:
after a line once a chunk holds ``MIN_LINE_CHUNK`` tokens, or at ``eval_chunk`` tokens; or at
multiples of ``eval_chunk``), so the cached state of a prefix holds the same numbers whether it was
just computed or kept from an earlier call. That is what lets a context reuse an agent's evaluated
prefix (system prompt and dialogue so far) and still give bit-identical replies to a fresh evaluation.
"""
from __future__ import annotations

import atexit
import functools
import gc
import json
import threading
import time
from pathlib import Path
from typing import Any

from agents.llm.base import Backend, BackendError, ChatRequest, Completion, ConfigError, parse_json_object
from agents.llm.factory import EVAL_SPLITS
from agents.llm.forcing import ForcedText, SpanTally
from agents.llm.grammar import GrammarError, schema_to_gbnf
from agents.llm.grammar_sampler import ShortlistGrammarSampler
from agents.llm.llama_loading import DEFAULT_MODEL, adapter_digest, binding, load_llama, resolve_model_path

EVAL_CHUNK = 64  # the most prompt tokens per decode
MIN_LINE_CHUNK = 8  # a line shorter than this joins the next in one chunk (tiny batches are slow)
DEFAULT_CONTEXTS = 4  # model contexts per process: each agent of a match, and side questions (sensing)

_POOLS: dict[tuple, "ContextPool"] = {}  # one pool per process and settings
_LOCK = threading.Lock()


def chunk_ends(tokens: list[int], line_end: Any, limit: int, split: str = "lines") -> list[int]:
    """The positions where a prompt's chunks end, read left to right, so a prefix's ends are the ends
    of any longer prompt starting with it (the last, partial chunk is not among them)."""
    if split == "fixed":
        return list(range(limit, len(tokens) + 1, limit))
    ends, start = [], 0
    for i, token in enumerate(tokens):
        size = i + 1 - start
        if size == limit or (size >= MIN_LINE_CHUNK and line_end[token]):
            ends.append(i + 1)
            start = i + 1
    return ends


def line_end_mask(llm: Any) -> Any:
    """For every token of the model's vocabulary, whether its text contains a line break."""
    import numpy as np

    return np.array([b"\n" in llm._model.token_to_piece(i, special=True) for i in range(llm.n_vocab())])


@functools.lru_cache(maxsize=1)
def _aligned_llama_class() -> type:
    Llama = binding().Llama

    class AlignedLlama(Llama):
        """A Llama that evaluates each prompt in chunks that end where ``chunk_ends`` says and reuses
        only the whole chunks of earlier prompts (``trusted`` tokens); decoded tokens are never reused."""

        trusted = 0
        last_reused = 0  # prompt tokens the last call took from the kept prefix
        _prompt_next = False
        eval_split = "lines"  # set per pool
        line_end: Any = None

        def start_prompt(self, reuse: bool) -> None:
            """Make the next evaluation a prompt: keep at most the trusted prefix (none without reuse)."""
            if not reuse:
                self.trusted = 0
            self.n_tokens = min(self.n_tokens, self.trusted)
            self._requires_eval = True  # never sample from logits of an earlier call
            self._prompt_next = True

        def eval(self, tokens: Any) -> None:
            if not self._prompt_next:
                return super().eval(tokens)  # a decoded token: batch of one, as in a fresh run
            self._prompt_next = False
            prompt = [int(t) for t in self.input_ids[:self.n_tokens]] + [int(t) for t in tokens]
            ends = chunk_ends(prompt, self.line_end, self.n_batch, self.eval_split)
            start = max([0] + [end for end in ends if end <= self.n_tokens])  # back to a chunk's end
            self.n_tokens = self.last_reused = start
            for end in [end for end in ends if end > start] + ([len(prompt)] if len(prompt) not in ends else []):
                super().eval(prompt[self.n_tokens:end])
            self.trusted = ends[-1] if ends else 0

        forced_text: Any = None  # the next reply's ForcedText when fast-forwarding (set per call)
        last_forced = 0  # reply tokens the last call appended without a draw

        last_drawn: list[int] = []  # the tokens the last call drew, when not fast-forwarding

        def generate(self, tokens: Any, **kwargs: Any) -> Any:
            if self.forced_text is None or kwargs.get("logits_processor") or not kwargs.get("reset", True):
                self.last_drawn = []
                return self._recorded(super().generate(tokens, **kwargs))
            stop = kwargs.pop("stopping_criteria", None)
            return self._generate_forced(list(tokens), kwargs.pop("grammar", None), stop, kwargs)

        def _recorded(self, tokens: Any) -> Any:
            for token in tokens:
                self.last_drawn.append(token)
                yield token

        def _generate_forced(self, tokens: list[int], grammar: Any, stop: Any, sampling: dict) -> Any:
            """Draw a reply token by token, except that text the grammar forces is appended in its own
            tokenization and evaluated in one batch with the drawn token before it (none at the end)."""
            sampling.pop("reset", None)
            sampling.pop("logits_processor", None)
            self._sampler = self._init_sampler(grammar=grammar, **sampling)
            keep = 0
            while keep < min(self.n_tokens, len(tokens) - 1) and self.input_ids[keep] == tokens[keep]:
                keep += 1
            self.n_tokens, self.last_forced = keep, 0
            self.eval(tokens[keep:])  # the prompt, in aligned chunks
            written, pending = b"", []
            while True:
                forced, done = self.forced_text.after(written.decode("utf-8", errors="replace"))
                run = self._tokens_of(forced)
                if forced and not run:
                    forced, done = "", False  # left to the model
                for token in run:
                    self._sampler.accept(token)
                    self.last_forced += 1
                    yield token
                written += forced.encode()
                if done:
                    yield self.token_eos()
                    return
                if pending or run:
                    self.eval(pending + run)  # a decode batch: the drawn token and the forced run after it
                if stop is not None and stop(self._input_ids, self._scores[-1, :]):  # as Llama.generate asks it
                    return
                token = self._sampler.sample(self._ctx, -1)
                yield token
                if binding().llama_vocab_is_eog(self._model.vocab, token):
                    return
                written += self.detokenize([token])
                pending = [token]

        def _tokens_of(self, text: str) -> list[int]:
            """Forced text as tokens, or none if they would not spell it back exactly."""
            if not text:
                return []
            run = self.tokenize(text.encode(), add_bos=False, special=False)
            return run if b"".join(self.detokenize([t]) for t in run) == text.encode() else []

        grammar_shortlist = True  # check a grammar on a shortlist where that gives the same tokens (set per pool)

        def _init_sampler(self, top_k=40, top_p=0.95, min_p=0.05, typical_p=1.0, temp=0.80, repeat_penalty=1.0,
                          frequency_penalty=0.0, presence_penalty=0.0, mirostat_mode=0, logits_processor=None,
                          grammar=None, **rest):
            plain = (repeat_penalty, frequency_penalty, presence_penalty, typical_p, mirostat_mode) == (1.0, 0.0, 0.0, 1.0, 0)
            if grammar is not None and self.grammar_shortlist and plain and logits_processor is None and temp >= 0:
                return ShortlistGrammarSampler(self, grammar, top_k, top_p, min_p, temp)
            return super()._init_sampler(
                top_k=top_k, top_p=top_p, min_p=min_p, typical_p=typical_p, temp=temp, repeat_penalty=repeat_penalty,
                frequency_penalty=frequency_penalty, presence_penalty=presence_penalty, mirostat_mode=mirostat_mode,
                logits_processor=logits_processor, grammar=grammar, **rest)

    return AlignedLlama


class ContextPool:
    """A few model contexts for one model in one process; a request goes to the context whose last
    conversation shares the most leading messages with it (else the least recently used)."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int, size: int, eval_chunk: int,
                 lora_path: str | None = None, n_threads_batch: int | None = None, grammar_shortlist: bool = True,
                 eval_split: str = "lines"):
        self.grammar_shortlist, self.eval_split = grammar_shortlist, eval_split
        # llama-cpp-python would evaluate prompts on every core of the machine whatever n_threads says,
        # so Ray workers sized to share the cores would oversubscribe them: prompts get the same count
        self.settings = dict(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads,
                             n_threads_batch=n_threads_batch or n_threads, n_batch=eval_chunk,
                             n_ubatch=eval_chunk, verbose=False)
        if lora_path:
            self.settings["lora_path"] = lora_path
        self.size = size
        self.slots: list[tuple[Any, list]] = []  # (context, messages it last served), most recent last
        self.lock = threading.Lock()
        self.line_end: Any = None
        self.evaluated = self.reused = 0  # prompt tokens computed / taken from a kept prefix
        self.forced = 0  # reply tokens appended as forced text, not drawn
        self.spans = SpanTally()  # drawn replies: how often their forced text came in fast-forward's tokens

    def _new(self) -> Any:
        context = load_llama(_aligned_llama_class(), **self.settings)
        context.grammar_shortlist, context.eval_split = self.grammar_shortlist, self.eval_split
        if self.line_end is None:
            self.line_end = line_end_mask(context)  # ~0.1 s for SmolLM2's 49,152 tokens, once per pool
        context.line_end = self.line_end
        return context

    def take(self, messages: list) -> Any:
        """The context for these messages (moved to most-recently-used)."""
        def shared(seen: list) -> int:
            n = 0
            while n < min(len(seen), len(messages)) and seen[n] == messages[n]:
                n += 1
            return n
        if not self.slots:
            self.slots.append((self._new(), []))
        if not messages:  # no reuse wanted: the least recently used context
            self.slots.append(self.slots.pop(0))
            return self.slots[-1][0]
        best = max(range(len(self.slots)), key=lambda i: (shared(self.slots[i][1]), i))
        if shared(self.slots[best][1]) == 0 and len(self.slots) < self.size:
            self.slots.append((self._new(), []))
            best = len(self.slots) - 1
        elif shared(self.slots[best][1]) == 0:
            best = 0  # least recently used
        context, _ = self.slots.pop(best)
        self.slots.append((context, list(messages)))
        return context

    def close(self) -> None:
        for context, _ in self.slots:
            context.close()
        self.slots.clear()


def context_pool(path: Path, n_ctx: int, n_threads: int, size: int = DEFAULT_CONTEXTS,
                 eval_chunk: int = EVAL_CHUNK, lora_path: str | None = None,
                 n_threads_batch: int | None = None, grammar_shortlist: bool = True,
                 eval_split: str = "lines") -> ContextPool:
    """The process-wide pool for these settings, created on first use."""
    key = (str(path), n_ctx, n_threads, size, eval_chunk, lora_path, n_threads_batch, grammar_shortlist, eval_split)
    with _LOCK:
        if key not in _POOLS:
            _POOLS[key] = ContextPool(path, n_ctx, n_threads, size, eval_chunk, lora_path, n_threads_batch,
                                      grammar_shortlist, eval_split)
        return _POOLS[key]


@atexit.register
def _close_models() -> None:
    """Free the models while modules still exist (their destructors fail at interpreter teardown)."""
    for pool in _POOLS.values():
        pool.close()
    _POOLS.clear()
    _grammar.cache_clear()
    gc.collect()


@functools.lru_cache(maxsize=64)
def _forced_text(schema_json: str) -> ForcedText:
    return ForcedText(json.loads(schema_json))


def _tally_spans(tally: SpanTally, llm: Any, schema_json: str) -> None:
    """Count how the reply just drawn spelled the text its grammar forces (a schema the forcer does
    not read is skipped): the measure of how far fast-forwarding is from drawing every token."""
    try:
        forcer = _forced_text(schema_json)
    except GrammarError:
        return
    tally.add(llm.last_drawn, forcer, lambda token: llm.detokenize([token]), llm._tokens_of)


@functools.lru_cache(maxsize=64)
def _grammar(schema_json: str) -> Any:
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(schema_to_gbnf(json.loads(schema_json)), verbose=False)


class LlamaCppBackend(Backend):
    """Generations from a local GGUF model; structured replies are constrained by generated GBNF.

    ``prefix_reuse`` keeps each context's evaluated prompt prefix between calls, and
    ``grammar_shortlist`` checks the grammar on a shortlist of tokens where that settles the draw
    (see grammar_sampler); replies are the same with either on or off (same ``eval_chunk`` and
    ``eval_split``), only faster. ``fast_forward`` appends the text a reply's grammar forces (keys,
    separators, the rest of an enum word, the closing brace) in its own tokens instead of drawing it
    token by token: faster, and other replies than drawing every token (see agents.llm.forcing).
    """

    kind = "llama-cpp"

    def __init__(self, model: str | None = None, n_ctx: int = 2048, n_threads: int = 1,
                 prefix_reuse: bool = True, contexts: int = DEFAULT_CONTEXTS, eval_chunk: int = EVAL_CHUNK,
                 lora_path: str | None = None, n_threads_batch: int | None = None, grammar_shortlist: bool = True,
                 eval_split: str = "lines", fast_forward: bool = False):
        super().__init__()
        self.grammar_shortlist, self.eval_split, self.fast_forward = grammar_shortlist, eval_split, fast_forward
        if contexts < 1 or eval_chunk < 1:
            raise ConfigError("llama-cpp needs at least one context and an eval chunk of at least one token")
        if eval_split not in EVAL_SPLITS:
            raise ConfigError(f"eval_split {eval_split!r}: choose one of {', '.join(EVAL_SPLITS)}")
        self.path = resolve_model_path(model)
        self.model = DEFAULT_MODEL if model in (None, "", "smollm2") else str(model)
        self.n_ctx, self.n_threads, self.prefix_reuse = n_ctx, n_threads, prefix_reuse
        self.n_threads_batch = n_threads_batch or n_threads
        self.contexts, self.eval_chunk = contexts, eval_chunk
        self.lora_path = str(Path(lora_path).expanduser().resolve()) if lora_path else None
        if self.lora_path and not Path(self.lora_path).is_file():
            raise ConfigError(f"LoRA adapter {lora_path!r} is not a file (a GGUF LoRA: arena train emodistill --stage sft)")

    @property
    def identity(self) -> str:
        lora = f"+lora:{adapter_digest(self.lora_path)}" if self.lora_path else ""
        split = "chunk" if self.eval_split == "fixed" else self.eval_split
        return f"{self.model}@{split}{self.eval_chunk}{lora}{'+ff' if self.fast_forward else ''}"

    @property
    def pool(self) -> ContextPool:
        return context_pool(self.path, self.n_ctx, self.n_threads, self.contexts, self.eval_chunk, self.lora_path,
                            self.n_threads_batch, self.grammar_shortlist, self.eval_split)

    def preflight(self) -> None:
        with self.pool.lock:
            self.pool.take([])

    def complete(self, request: ChatRequest) -> Completion:
        kwargs: dict[str, Any] = {}
        schema_json = json.dumps(request.schema) if request.schema is not None else ""  # key order matters
        if schema_json:
            kwargs["grammar"] = _grammar(schema_json)
        opts = request.options
        start = time.perf_counter()
        pool = self.pool
        with pool.lock:
            llm = pool.take(list(request.messages) if self.prefix_reuse else [])
            llm.start_prompt(self.prefix_reuse)
            llm.forced_text = _forced_text(schema_json) if self.fast_forward and schema_json else None
            llm.last_forced = 0
            try:
                reply = llm.create_chat_completion(
                    messages=list(request.messages), temperature=opts.temperature, seed=opts.seed,
                    max_tokens=opts.max_tokens, **kwargs)
            except (RuntimeError, ValueError) as exc:
                llm.trusted = 0  # a half-finished evaluation leaves nothing worth keeping
                raise BackendError(f"llama-cpp generation failed: {exc}") from exc
            usage = reply.get("usage", {})
            prompt_tokens = int(usage.get("prompt_tokens", 0))
            pool.reused += llm.last_reused
            pool.evaluated += prompt_tokens - llm.last_reused
            pool.forced += llm.last_forced
            if schema_json and llm.forced_text is None:
                _tally_spans(pool.spans, llm, schema_json)
        self.calls += 1
        text = reply["choices"][0]["message"]["content"] or ""
        return Completion(
            text=text, data=parse_json_object(text) if request.schema is not None else None,
            prompt_tokens=prompt_tokens, completion_tokens=int(usage.get("completion_tokens", 0)),
            latency_s=time.perf_counter() - start, model=self.model)
