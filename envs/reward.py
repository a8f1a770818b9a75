"""The reward: one object the envs own, written once (as Jumanji's ``RewardFn``).

``reward = -(cost - offset[sku]) * scale[sku]``, with ``cost`` the period's total cost (``info["cost"]``, always
unscaled). The scenario gives one offset and scale for every SKU (``reward_offset``, ``reward_scale``); a learned
agent injects its own per-SKU normalisation (``env.unwrapped.reward = Reward(offset, scale)``) instead of
wrapping the env and recomputing the reward from ``info``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Reward:
    """``-(cost - offset[sku]) * scale[sku]``: ``offset`` and ``scale`` are scalars (every SKU) or [n_skus]."""

    offset: float | np.ndarray = 0.0
    scale: float | np.ndarray = 1.0

    @classmethod
    def from_scenario(cls, scenario) -> Reward:
        return cls(float(scenario.reward_offset), float(scenario.reward_scale))

    def tables(self, n_skus: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-SKU offset and scale, float64 [n_skus] each (fresh arrays)."""
        out = []
        for name, v in (("offset", self.offset), ("scale", self.scale)):
            a = np.asarray(v, dtype=np.float64)
            if a.ndim == 0:
                a = np.full(n_skus, float(a))
            elif a.shape != (n_skus,):
                raise ValueError(f"reward {name} has shape {a.shape}; expected a scalar or ({n_skus},), one per SKU")
            out.append(np.array(a, dtype=np.float64))
        return out[0], out[1]

    def __call__(self, cost, sku):
        """The reward of `cost` for SKU index (or indices) `sku`."""
        off, sc = self.offset, self.scale
        off = off[sku] if np.ndim(off) else off
        sc = sc[sku] if np.ndim(sc) else sc
        return -(cost - off) * sc
