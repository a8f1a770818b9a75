"""The fixed normalisation of a run: the observation map ``clip((obs + shift) * scale, -clip, clip)`` and the
per-SKU reward ``-(cost - reward_offset[sku]) * reward_scale[sku]``, how it is built, and the training envs.

The reward is the env's own (:class:`envs.reward.Reward`, injected with ``reward=norm.reward()``): the wrappers
here only normalise observations (and terminal observations). :func:`normalized_env` and
:func:`normalized_vec_env` build an env with the run's reward and wrap it, so the two always go together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnvWrapper

from baselines.base import train_data
from baselines.base_stock import BaseStock
from baselines.tuning import training_episodes
from envs import kernel
from envs.batch import PERIODS, simulate
from envs.inventory_env import InventoryEnv
from envs.problem import Problem
from envs.reward import Reward
from envs.sb3_vec import InventoryVecEnv
from envs.scenario import ScenarioError

from .config import TrainConfig


@dataclass
class Normalization:
    """Fixed affine observation normalisation ``clip((obs + shift) * scale, -clip, clip)`` and the per-SKU
    reward ``-(cost - reward_offset[sku]) * reward_scale[sku]``."""

    obs_names: list[str]
    shift: np.ndarray
    scale: np.ndarray
    clip: float
    reward_offset: np.ndarray
    reward_scale: np.ndarray

    def apply(self, obs: np.ndarray) -> np.ndarray:
        return np.clip((obs + self.shift) * self.scale, -self.clip, self.clip).astype(np.float32)

    def reward(self) -> Reward:
        """The per-SKU reward as the envs' reward object (pass it as ``reward=`` to the env)."""
        return Reward(self.reward_offset, self.reward_scale)

    @property
    def observation_space(self) -> gym.spaces.Box:
        return gym.spaces.Box(-self.clip, self.clip, shape=self.shift.shape, dtype=np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"obs_names": self.obs_names, "shift": self.shift.tolist(), "scale": self.scale.tolist(),
                "clip": self.clip, "reward_offset": self.reward_offset.tolist(),
                "reward_scale": self.reward_scale.tolist(),
                "formula": "obs_n = clip((obs + shift) * scale, -clip, clip); "
                           "reward = -(cost - reward_offset[sku]) * reward_scale[sku]"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalization:
        """The normalisation of ``normalization.json``, checked: a ValueError names a NaN/inf value, a clip that
        is not > 0, or arrays whose lengths differ from the observation's."""
        norm = cls(list(d["obs_names"]), np.asarray(d["shift"], dtype=np.float32),
                   np.asarray(d["scale"], dtype=np.float32), float(d["clip"]),
                   np.asarray(d["reward_offset"], dtype=np.float64), np.asarray(d["reward_scale"], dtype=np.float64))
        n = len(norm.obs_names)
        for name in ("shift", "scale", "reward_offset", "reward_scale"):
            a = getattr(norm, name)
            if a.ndim != 1 or (name in ("shift", "scale") and a.shape[0] != n):
                raise ValueError(f"{name} must list one number per {'observation field' if n else 'SKU'}"
                                 f" ({n} fields), got shape {a.shape}")
            if not np.isfinite(a).all():
                bad = int(np.flatnonzero(~np.isfinite(a))[0])
                raise ValueError(f"{name} has a NaN or infinite value at position {bad}")
        if not (np.isfinite(norm.clip) and norm.clip > 0):
            raise ValueError(f"clip must be a finite number > 0, got {norm.clip}")
        if norm.reward_offset.shape != norm.reward_scale.shape:
            raise ValueError("reward_offset and reward_scale must have one value per SKU each")
        return norm


# ----------------------------------------------------------------------------------------- building it
def default_obs_shift(problem: Problem) -> np.ndarray:
    """Centre of each observation feature in demand-scale units: on hand -2, each pipeline slot -1,
    inventory position and forecast_lead -(L_max + 1), each demand lag and forecast_error -1, calendar / period /
    lead-time features 0.
    (On lost-sales-L2-p9 this is the measured setting: on hand/5 - 2, pipeline/5 - 1, position/5 - 3.)"""
    shift = np.zeros(problem.obs_dim, dtype=np.float32)
    for f in problem.obs_fields:
        if f.name == "on_hand":
            shift[f.index] = -2.0
        elif f.name.startswith("pipeline_") or f.name.startswith("demand_lag_"):
            shift[f.index] = -1.0
        elif f.name in ("inventory_position", "forecast_lead"):
            shift[f.index] = -(problem.max_lead + 1.0)
        elif f.name == "forecast_error":
            shift[f.index] = -1.0
    return shift


def build_normalization(problem: Problem, cfg: TrainConfig) -> Normalization:
    """Fixed observation shift (see :func:`default_obs_shift`; quantities are already in demand scales) and
    per-SKU reward offset/scale (``auto``: from the tuned base-stock policy's training cost)."""
    n = problem.n_skus
    if cfg.reward_offset == "auto" or cfg.reward_scale == "auto":
        ref = reference_costs(problem)
    if cfg.reward_offset == "auto":
        offset = ref
    else:
        offset = np.full(n, float(cfg.reward_offset))
    if cfg.reward_scale == "auto":
        floor = max(1e-6, 0.1 * float(np.median(ref)))
        scale = 1.0 / (cfg.reward_scale_ratio * np.maximum(ref, floor))
    else:
        scale = np.full(n, float(cfg.reward_scale))
    return Normalization([f.name for f in problem.obs_fields], default_obs_shift(problem),
                         default_obs_scale(problem), float(cfg.obs_clip), offset, scale)


def default_obs_scale(problem: Problem) -> np.ndarray:
    """1 for every field except ``eoq_cover`` (periods of demand per economic lot, up to 1000): divided by the
    SKUs' median of it (at least 1), so that the field is of order 1 like the others."""
    scale = np.ones(problem.obs_dim, dtype=np.float32)
    for f in problem.obs_fields:
        if f.name == "eoq_cover":
            from envs import kernel
            from invcore.observation import eoq_cover

            p = problem.params
            v = eoq_cover(p[:, kernel.ORDER_COST], p[:, kernel.HOLD], p[:, kernel.SCALE])
            scale[f.index] = 1.0 / max(float(np.median(v)), 1.0)
    return scale


def reference_costs(problem: Problem) -> np.ndarray:
    """Per-SKU cost per period of the base-stock policy tuned on the training demand, on that demand."""
    pol = BaseStock().fit(problem, train_data(problem))
    eps, warmup = training_episodes(problem, n=50)
    pol.start(eps)
    totals, _ = simulate(problem, eps, lambda sim: pol.act(None, sim.raw), warmup=warmup, order_up_to=True)
    cost = np.bincount(eps.sku, totals[:, kernel.I_COST], minlength=problem.n_skus)
    periods = np.bincount(eps.sku, totals[:, PERIODS], minlength=problem.n_skus)
    return np.where(periods > 0, cost / np.maximum(periods, 1), 0.0)


# ----------------------------------------------------------------------------------------- training envs
class NormalizedEnv(gym.ObservationWrapper):
    """Normalises the observations of an env whose reward is already the run's (``reward=norm.reward()``)."""

    def __init__(self, env: gym.Env, norm: Normalization):
        super().__init__(env)
        self.norm = norm
        self.observation_space = norm.observation_space

    def observation(self, observation):
        return self.norm.apply(observation)


class NormalizedVecEnv(VecEnvWrapper):
    """Normalises the observations (and terminal observations) of an SB3 VecEnv whose reward is already the
    run's (:class:`envs.sb3_vec.InventoryVecEnv` built with ``reward=norm.reward()``: all slots in one kernel
    call); rewards are passed on as float32."""

    def __init__(self, venv, norm: Normalization):
        super().__init__(venv, observation_space=norm.observation_space)
        self.norm = norm

    def reset(self):
        return self.norm.apply(self.venv.reset())

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        for i in np.flatnonzero(dones):
            infos[i]["terminal_observation"] = self.norm.apply(infos[i]["terminal_observation"])
        # float32 as SB3's buffers store them (and as PPO adds the bootstrapped value of truncated episodes)
        return self.norm.apply(obs), rewards.astype(np.float32), dones, infos


def normalized_env(scenario, norm: Normalization) -> NormalizedEnv:
    """One ``InventoryEnv`` with the run's reward, its observations normalised."""
    return NormalizedEnv(InventoryEnv(scenario, reward=norm.reward()), norm)


def normalized_vec_env(problem: Problem, n_envs: int, norm: Normalization) -> NormalizedVecEnv:
    """``n_envs`` slots of :class:`envs.vector.InventoryVecEnv` (random SKUs) with the run's reward, their
    observations normalised; its Monitor-style ``infos[i]["episode"]["r"]`` is the normalised return."""
    skus = "random"
    if np.isfinite(problem.shared).any():  # shared limits: whole warehouses in lockstep (slot j = SKU j mod n)
        if n_envs % problem.n_skus:
            raise ScenarioError(f"--n-envs {n_envs}: a scenario with shared limits trains whole warehouses; expected "
                                f"a multiple of its {problem.n_skus} SKUs")
        skus = None
    venv = InventoryVecEnv(problem.scenario, n_envs, skus=skus, problem=problem, reward=norm.reward())
    return NormalizedVecEnv(venv, norm)
