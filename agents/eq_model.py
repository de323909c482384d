"""EQ-Negotiator's model of the counterpart: an HMM over its latent disposition.

The sensed emotion (an Ekman-7 distribution) is the observation. The belief is filtered forward
within a negotiation with soft evidence, so different sensed emotions give different beliefs (the
original code's emission term cancelled out). Across negotiations the start and transition
probabilities are re-estimated with hmmlearn's Baum-Welch on the sensed sequences, blended with the
prior; the emissions stay fixed, so a state's name keeps its meaning after every re-fit.
"""
from __future__ import annotations

import numpy as np

from agents.texts import load_data
from envs import EKMAN_7


class DispositionHMM:
    """Belief over dispositions, next-emotion prediction and re-estimation across negotiations."""

    def __init__(self, seed: int = 0):
        cfg = load_data("eq_negotiator.toml")
        self.states: list[str] = cfg["states"]
        self.prior = {k: np.asarray(cfg[k], dtype=float) for k in ("start", "transition", "emission")}
        self.start, self.transition, self.emission = (self.prior[k].copy() for k in ("start", "transition", "emission"))
        self.prior_weight = cfg["prior_weight"]
        self.min_sequences, self.max_sequences = cfg["min_sequences_to_refit"], cfg["max_sequences_kept"]
        self.min_observations = cfg["min_observations_to_refit"]
        self.sequences: list[list[int]] = []
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        """Start a new negotiation: belief at the start distribution, no observations yet."""
        self.belief = self.start.copy()
        self.observed: list[int] = []

    def update(self, sensed: dict[str, float]) -> np.ndarray:
        """One forward-filter step with the sensed emotion as soft evidence; returns the belief."""
        evidence = np.array([sensed.get(label, 0.0) for label in EKMAN_7])
        likelihood = self.emission @ evidence
        predicted = self.belief if not self.observed else self.transition.T @ self.belief
        posterior = predicted * likelihood
        self.belief = posterior / posterior.sum() if posterior.sum() > 0 else predicted
        self.observed.append(int(np.argmax(evidence)))
        return self.belief

    def predict_state(self) -> np.ndarray:
        """Disposition distribution at the counterpart's next message."""
        return self.transition.T @ self.belief

    def predict_emotion(self) -> np.ndarray:
        """Distribution of the counterpart's next emotion (Ekman-7 order)."""
        return self.predict_state() @ self.emission

    def end_negotiation(self) -> None:
        """Keep this negotiation's sequence and re-estimate once there are enough."""
        if len(self.observed) >= 2:
            self.sequences = (self.sequences + [self.observed])[-self.max_sequences:]
        enough = sum(len(s) for s in self.sequences) >= self.min_observations
        if len(self.sequences) >= self.min_sequences and enough:
            self._refit()
        self.reset()

    def _refit(self) -> None:
        from hmmlearn import hmm  # imported on first re-fit: it pulls in scikit-learn

        model = hmm.CategoricalHMM(n_components=len(self.states), n_features=len(EKMAN_7), n_iter=10,
                                   init_params="", params="st", random_state=self.seed)
        model.startprob_, model.transmat_, model.emissionprob_ = self.start, self.transition, self.emission
        model.fit(np.concatenate(self.sequences).reshape(-1, 1), [len(s) for s in self.sequences])
        w = self.prior_weight
        self.start = (1 - w) * model.startprob_ + w * self.prior["start"]
        self.transition = (1 - w) * model.transmat_ + w * self.prior["transition"]


class AgentEmotionHMM:
    """The first paper's model: hidden states are the agent's own emotions, observations the
    counterpart's; transition and emission counts start at the published tables and each observed
    turn adds 1 (the published code only ever incremented the diagonal; here the real pair counts)."""

    def __init__(self, transition: np.ndarray, emission: np.ndarray, bias: np.ndarray):
        self.transition_counts = np.asarray(transition, dtype=float).copy()
        self.emission_counts = np.asarray(emission, dtype=float).copy()
        self.bias = np.asarray(bias, dtype=float)

    @staticmethod
    def _rows(counts: np.ndarray) -> np.ndarray:
        return counts / counts.sum(axis=1, keepdims=True)

    def scores(self, current: int, observed: int) -> np.ndarray:
        """T[c, j] * E[j, o] * bias_j for every next own emotion j, normalised."""
        raw = self._rows(self.transition_counts)[current] * self._rows(self.emission_counts)[:, observed] * self.bias
        return raw / raw.sum()

    def observe(self, previous: int | None, current: int, reply: int) -> None:
        """Count the transition previous -> current and the reply that current drew."""
        if previous is not None:
            self.transition_counts[previous, current] += 1.0
        self.emission_counts[current, reply] += 1.0
