"""Learned agents (SB3 PPO / DQN, sb3-contrib QR-DQN) on ``Inventory-v0``: training, runs, evaluation, export.
May import envs, baselines, torch, SB3, sb3-contrib (only the CLIs import agents); inside, module-level
imports form a chain: config -> normalization -> runs -> policy -> training, evaluation, export.
"""

from .config import PresetError, TrainConfig, load_preset, resolve_config
from .runs import RunError, load_run

__all__ = ["PresetError", "RunError", "TrainConfig", "load_preset", "load_run", "resolve_config"]
