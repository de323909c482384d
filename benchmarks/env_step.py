"""Time per environment step with trivial scripted actions, against a plain loop without PettingZoo.

Both sides play fixed offers until the message limit; the plain loop keeps the same transcript,
offer history and outcome bookkeeping. Prints microseconds per step and the ratio.

    python benchmarks/env_step.py [--episodes 2000]
"""
from __future__ import annotations

import argparse
import time

from envs import COUNTERPART, FOCAL, Action, make_env, make_outcome


def run_env(episodes: int) -> tuple[float, int]:
    env = make_env("credit", 0)
    actions = {FOCAL: Action.offer(20, message="Twenty days."), COUNTERPART: Action.offer(90, message="Ninety.")}
    steps = 0
    start = time.perf_counter()
    for episode in range(episodes):
        env.reset(seed=episode)
        for agent in env.agent_iter():
            observation, reward, terminated, truncated, info = env.last()
            env.step(None if terminated or truncated else actions[agent])
            steps += 1
    return time.perf_counter() - start, steps


def run_plain(episodes: int, max_messages: int = 30) -> tuple[float, int]:
    env = make_env("credit", 0)
    scenario = env.scenario
    values = {FOCAL: 20, COUNTERPART: 90}
    steps = 0
    start = time.perf_counter()
    for _ in range(episodes):
        transcript, last_offer = [], {FOCAL: None, COUNTERPART: None}
        agent = FOCAL
        while len(transcript) < max_messages:
            transcript.append({"role": agent, "move": "offer", "value": values[agent],
                               "emotion": "neutral", "message": "x"})
            last_offer[agent] = values[agent]
            agent = COUNTERPART if agent == FOCAL else FOCAL
            steps += 1
        make_outcome(scenario, None, len(transcript), "message_limit")
        steps += 2  # the two closing steps the AEC loop makes for finished agents
    return time.perf_counter() - start, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2000)
    args = parser.parse_args()
    env_time, env_steps = run_env(args.episodes)
    plain_time, plain_steps = run_plain(args.episodes)
    env_us, plain_us = 1e6 * env_time / env_steps, 1e6 * plain_time / plain_steps
    print(f"episodes: {args.episodes}, steps per episode: {env_steps // args.episodes}")
    print(f"pettingzoo env : {env_us:8.2f} us/step ({env_steps / env_time:,.0f} steps/s)")
    print(f"plain loop     : {plain_us:8.2f} us/step ({plain_steps / plain_time:,.0f} steps/s)")
    print(f"ratio env/plain: {env_us / plain_us:.1f}x")


if __name__ == "__main__":
    main()
