"""Learned agents: PPO (stable-baselines3) and QR-DQN / DQN (sb3-contrib / SB3) trained on ``Inventory-v0``,
with presets, run folders, TensorBoard evaluation and an adapter that evaluates them beside the baselines.
May import envs, baselines, torch, stable-baselines3 and sb3-contrib; nothing imports agents except the CLIs.
"""

from .config import PresetError, TrainConfig, load_preset, resolve_config
from .runs import RunError, load_run

__all__ = ["PresetError", "RunError", "TrainConfig", "load_preset", "load_run", "resolve_config"]
