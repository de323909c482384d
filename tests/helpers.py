"""Small helpers for tests: play one match between two agents outside the tournament runner."""
from __future__ import annotations

from agents import AgentSpec, make_agent
from arena.match import play
from arena.schedule import MatchSpec
from arena.storage import MATCHES, RESULTS, TRANSCRIPTS, load_transcripts
from envs import COUNTERPART, FOCAL, NegotiationEnv, Scenario


def play_pair(focal: AgentSpec, counterpart: AgentSpec, scenario: Scenario, seed: int = 7, max_messages: int = 30,
              agents=None):
    """Play one match; returns (record, transcript, agents)."""
    agents = agents or {FOCAL: make_agent(focal), COUNTERPART: make_agent(counterpart)}
    match = MatchSpec.at(f"{scenario.id}/t", "t", scenario, 0, seed, focal, counterpart)
    env = NegotiationEnv(scenario, max_messages=max_messages)
    record, transcript = play(match, scenario, agents, env, timeout_s=600)
    return record, transcript, agents


def outcomes(run) -> dict[str, list]:
    """Each match's turns as recorded (moves, values, emotions, words, token counts), timings left out."""
    return {match: [{k: v for k, v in turn.items() if k != "latency_s"} for turn in transcript]
            for match, transcript in load_transcripts(run).items()}


def unfinish(run) -> list[str]:
    """Turn a finished run into one killed before it finished: its lines back in the log, no tables;
    returns the log's lines."""
    import pyarrow.parquet as pq

    table = pq.read_table(run / TRANSCRIPTS)
    lines = [f'{{"record": {rec}, "transcript": {tr}}}\n' for rec, tr in
             zip(table["record"].to_pylist(), table["transcript"].to_pylist())]
    (run / RESULTS).write_text("".join(lines), encoding="utf-8")
    (run / TRANSCRIPTS).unlink()
    (run / MATCHES).unlink()
    return lines
