"""EmoDistill: which emotion to express (an offline IQL selector), shared by the agent and the pipeline."""
from agents.emodistill.features import STATE_DIM, GapFrame, observable_frame, state_features
from agents.emodistill.policy import SelectorPolicy
from agents.emodistill.rewards import EpisodeRewards, episode_rewards

__all__ = ["STATE_DIM", "EpisodeRewards", "GapFrame", "SelectorPolicy", "episode_rewards", "observable_frame", "state_features"]
