"""Batched simulation of many independent replications (or SKUs) through the same kernel as the env.

Used for long-run cost estimates (thousands of replications stepped together in one numba call per period)
and, later, by evaluation. A policy here is a function of the raw state that returns requested order
quantities (units; the kernel applies the order constraints), e.g. base-stock
``lambda s: np.maximum(S - s.inventory_position, 0)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import kernel as K
from .demand import ParametricDemand
from .problem import Problem


@dataclass
class RawState:
    """Decision-point state of every replication (views, valid during the policy call)."""

    on_hand: np.ndarray  # [n] net inventory after this period's arrival
    pipeline: np.ndarray  # [n, max(L_max, 1)] slot k arrives in k + 1 periods (slot L-1 is empty before ordering)
    inventory_position: np.ndarray  # [n]
    period: int
    params: np.ndarray  # [n, kernel.N_PARAMS]


@dataclass(frozen=True)
class RolloutResult:
    totals: np.ndarray  # [n, N_INFO] sums over the measured periods (after warm-up) of each info column
    periods: int  # measured periods per replication
    info_keys: tuple[str, ...] = K.INFO_KEYS

    def mean(self, key: str = "cost") -> np.ndarray:
        """Average per period of `key` for each replication."""
        return self.totals[:, self.info_keys.index(key)] / self.periods

    def estimate(self, key: str = "cost") -> tuple[float, float]:
        """Mean over replications of the per-period average, and its standard error (replications are iid)."""
        m = self.mean(key)
        return float(m.mean()), float(m.std(ddof=1) / np.sqrt(m.size)) if m.size > 1 else float("nan")


def rollout(problem: Problem, policy: Callable[[RawState], np.ndarray], *, n: int, periods: int,
            warmup: int = 0, seed: int = 0, sku: int = 0, initial_state: str = "steady") -> RolloutResult:
    """Simulate `n` independent replications of a parametric SKU for warmup + periods periods."""
    if not isinstance(problem.source, ParametricDemand):
        raise ValueError("rollout() simulates parametric demand; data scenarios are replayed by the env")
    rng = np.random.default_rng(seed)
    total = warmup + periods
    demand = problem.source.sample(rng, np.full(n, sku), 0, total)  # [total, n]
    width = K.PIPE + max(problem.max_lead, 1)
    state = np.zeros((n, width))
    for i in range(n):
        problem.initial_state(rng, sku, initial_state, state[i])
    params = np.repeat(problem.params[sku:sku + 1], n, axis=0)
    info = np.zeros((n, K.N_INFO))
    totals = np.zeros((n, K.N_INFO))
    ip = np.zeros(n)
    raw = RawState(on_hand=state[:, K.NET], pipeline=state[:, K.PIPE:], inventory_position=ip, period=0,
                   params=params)
    backorder = problem.scenario.backorder
    for t in range(total):
        K.inventory_position(state, params, ip)
        raw.period = t
        request = np.ascontiguousarray(policy(raw), dtype=np.float64)
        K.step(state, params, request, demand[t], backorder, False, info)
        if t >= warmup:
            totals += info
    return RolloutResult(totals=totals, periods=periods)


def base_stock_policy(level: float) -> Callable[[RawState], np.ndarray]:
    """Order up to `level` on inventory position each period (Zipkin's base-stock policy)."""
    return lambda s: np.maximum(level - s.inventory_position, 0.0)
