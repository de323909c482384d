"""Grammar-constrained sampling that checks the grammar on a shortlist instead of the whole vocabulary.

llama-cpp-python's sampler chain masks every token the grammar forbids (49,152 for SmolLM2, on
every generated token), then keeps the top k, applies top-p, min-p and temperature and draws once.
Only the highest-logit allowed tokens can survive that, so this sampler checks the grammar on the
``SHORTLIST`` highest-logit tokens and uses them when the result provably equals the chain's:

- at least ``top_k`` of them are allowed, and the k-th allowed one lies strictly above every token
  outside the shortlist: then they are exactly the chain's top-k; or
- fewer are allowed, but every token outside the shortlist lies below min-p's cut (so none can
  survive), and top-p, even with the unseen tokens left out of its normaliser, keeps every token
  min-p keeps (a larger normaliser only keeps more).

Candidates then go through the same top-k, typical, top-p, min-p, temperature and one draw from
the same random stream, so the token is the chain's. Anything else (logit ties among the
candidates, penalties, typical-p below 1, values near a cut) takes the chain's full mask.
"""
from __future__ import annotations

import ctypes
import math

import numpy as np

TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)
SHORTLIST = 256
MARGIN = 1e-3  # float32 arithmetic in llama.cpp against float64 here: stay clear of every cut


class ShortlistGrammarSampler:
    """A drop-in for llama-cpp-python's sampler chain when a grammar is set (``sample(ctx, idx)``)."""

    def __init__(self, llama, grammar, top_k: int, top_p: float, min_p: float, temp: float):
        import llama_cpp
        from llama_cpp import _internals

        self._lib = llama_cpp
        self.top_k, self.top_p, self.min_p, self.greedy = top_k, top_p, min_p, temp <= 0.0
        self.grammar = _internals.LlamaSampler()
        self.grammar.add_grammar(llama._model, grammar)
        self.rest = _internals.LlamaSampler()  # what the chain applies between the grammar and the draw
        if not self.greedy:
            self.rest.add_top_k(top_k)
            self.rest.add_typical(1.0, 1)
            self.rest.add_top_p(top_p, 1)
            self.rest.add_min_p(min_p, 1)
            self.rest.add_temp(temp)
        self.draw = _internals.LlamaSampler()
        self.draw.add_greedy() if self.greedy else self.draw.add_dist(llama._seed)
        self.n_vocab = llama._n_vocab
        self.shortlisted = self.masked = 0

    def _array(self, ids: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, object]:
        data = np.empty(len(ids), dtype=TOKEN_DATA)
        data["id"], data["logit"], data["p"] = ids, logits, 0.0
        view = self._lib.llama_token_data_array(data.ctypes.data_as(self._lib.llama_token_data_p), len(ids), -1, False)
        return data, view

    def _apply(self, sampler, view) -> None:
        self._lib.llama_sampler_apply(sampler.sampler, ctypes.byref(view))

    def _allowed(self, ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        data, view = self._array(ids, logits)
        self._apply(self.grammar, view)
        return ~np.isneginf(data["logit"])

    def shortlist(self, logits: np.ndarray) -> np.ndarray | None:
        """The token ids the chain could draw, best first, when the shortlist settles them; else None."""
        top = np.argpartition(logits, -(SHORTLIST + 1))[-(SHORTLIST + 1):]
        top = top[np.argsort(-logits[top], kind="stable")]
        outside, top = float(logits[top[-1]]), top[:-1]  # the best logit left out
        allowed = top[self._allowed(top, logits[top])]
        values = logits[allowed].astype(np.float64)
        if len(values) == 0:
            return None
        if self.greedy:
            clear = values[0] > outside + MARGIN and (len(values) == 1 or values[0] > values[1])
            return allowed[:1] if clear else None
        keep = values[: self.top_k]
        if len(keep) > 1 and np.any(np.diff(keep) == 0):
            return None  # tied candidates: their order is the chain's sort's business
        if len(values) >= self.top_k:
            return allowed[: self.top_k] if keep[-1] > outside + MARGIN else None
        cut = keep[0] + math.log(self.min_p)
        if outside >= cut - MARGIN or np.any(np.abs(keep - cut) < MARGIN):
            return None
        kept_by_min_p = int(np.sum(keep >= cut))
        probs = np.exp(keep - keep[0])
        probs /= probs.sum()
        before_last = float(probs[: kept_by_min_p - 1].sum())
        return allowed[: self.top_k] if before_last < self.top_p - MARGIN else None

    def sample(self, ctx, idx: int = -1) -> int:
        logits = np.ctypeslib.as_array(self._lib.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,))
        ids = self.shortlist(logits)
        if ids is not None:
            self.shortlisted += 1
        else:
            self.masked += 1
            ids = np.arange(self.n_vocab, dtype=np.int32)
        data, view = self._array(ids, logits[ids])
        if len(ids) == self.n_vocab:
            self._apply(self.grammar, view)
        self._apply(self.rest, view)
        self._apply(self.draw, view)
        token = int(view.data[view.selected].id)
        self.grammar.accept(token)
        return token

    def accept(self, token: int) -> None:
        """Advance the grammar past a token that was not drawn (text the grammar forces)."""
        self.grammar.accept(token)

    def close(self) -> None:
        for sampler in (self.grammar, self.rest, self.draw):
            sampler.close()
