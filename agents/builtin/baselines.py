"""Classic baselines without LLM or emotion: time-dependent tactics and relative tit-for-tat."""
from __future__ import annotations

from agents.base import Observation
from agents.builtin.common import Negotiator, TimeDependent
from agents.registry import register
from agents.tactics import accepts, toward
from envs import Action


class ClassicTactic(TimeDependent):
    uses_model = False


@register("boulware")
class Boulware(ClassicTactic):
    """Time-dependent Boulware (e = 0.2): holds near its target and concedes late."""

    name, description, exponent = "boulware", "Time-dependent Boulware concession (e=0.2); no LLM, no emotion.", 0.2


@register("conceder")
class Conceder(ClassicTactic):
    """Time-dependent Conceder (e = 3): concedes early."""

    name, description, exponent = "conceder", "Time-dependent Conceder concession (e=3); no LLM, no emotion.", 3.0


@register("linear")
class Linear(ClassicTactic):
    """Linear time-dependent concession (e = 1)."""

    name, description, exponent = "linear", "Linear time-dependent concession (e=1); no LLM, no emotion.", 1.0


@register("tit-for-tat")
class RelativeTitForTat(Negotiator):
    """Relative tit-for-tat: concede the same share of the current gap the other side just conceded."""

    name = "tit-for-tat"
    description = "Relative tit-for-tat: mirrors the other side's last concession as a share of the gap."
    uses_model = False

    def propose(self, obs: Observation) -> Action:
        theirs = [t.value for t in obs.transcript if t.kind != self.view.kind and t.move == "offer"]
        mine = obs.my_offer if obs.my_offer is not None else self.view.target
        if len(theirs) < 2 or obs.my_offer is None:
            nxt = self.view.target if obs.my_offer is None else mine
        else:
            previous_gap = abs(theirs[-2] - mine) or 1
            share = max(0.0, min(1.0, (abs(theirs[-2] - mine) - abs(theirs[-1] - mine)) / previous_gap))
            nxt = toward(self.view, mine, theirs[-1], share)
        if accepts(self.view, obs, nxt):
            return Action.accept()
        return Action.offer(nxt)
