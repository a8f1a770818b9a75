"""Safety-stock policies and EOQ: the textbook rules planners use.

Symbols (per period): mu = mean demand, sigma = standard deviation of demand (both estimated on the
training window), L = lead time, R = review period (1 here: every period is a review), z = safety factor,
K = fixed order cost, h = holding cost per unit and period. Source: Silver, Pyke & Thomas (2017),
*Inventory and Production Management in Supply Chains*, 4th ed., ch. 4 (EOQ) and ch. 6 (periodic review
(R,S) and (R,s,S) with a cycle-service-level safety factor).

- Protection interval L + R: safety stock SS = z * sigma * sqrt(L + R), z = Phi^-1(target cycle service
  level) (default 95 %, z = 1.645).
- (R,S): every R periods order up to S = mu (L + R) + SS.
- (R,s,S): at a review, if IP <= s order up to S; s = mu (L + R) + SS, S = s + Q with Q = max(EOQ, mu R).
- EOQ: Q* = sqrt(2 D K / h) (Harris 1913), D the demand per period when h is per period (the same
  formula with annual D and annual H); rounded to the pack size and at least the MOQ.
- (s,Q) = "eoq" policy: when IP <= s, order the smallest multiple n Q that lifts IP above s.

The ``*_tuned`` variants keep the rule but pick z on the training window by simulated cost: on intermittent
real data the cost-optimal z is far from the textbook one (see ../shared/notes), so a fixed-z rule is shown
as planners use it, and the tuned one as the fair competitor.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from envs import kernel
from envs.batch import BatchSim

from .base import Policy, TrainData, lead_times
from .tuning import (
    Rule,
    critical_z,
    grid_search,
    nearest,
    rule_search,
    training_episodes,
)

Z_GRID = np.round(np.arange(-2.0, 3.01, 0.25), 2)


def eoq(demand_rate: float, order_cost: float, holding_cost: float) -> float:
    """Economic order quantity Q* = sqrt(2 D K / h); 0 when K = 0, inf when h = 0."""
    if demand_rate < 0 or order_cost < 0 or holding_cost < 0:
        raise ValueError("EOQ needs non-negative demand rate, order cost and holding cost")
    if holding_cost == 0:
        return math.inf if demand_rate * order_cost > 0 else 0.0
    return math.sqrt(2.0 * demand_rate * order_cost / holding_cost)


def order_quantity(q: np.ndarray, moq: np.ndarray, pack: np.ndarray) -> np.ndarray:
    """Round a lot size up to the pack size, at least the MOQ and at least one pack."""
    q = np.maximum(np.maximum(q, moq), pack)
    return np.ceil(q / pack - 1e-9) * pack


class _SafetyStockRule(Policy):
    review: int = 1
    sku_fields = ("z", "lot")

    def __init__(self, service_level: float = 0.95, tuned: bool = False):
        if not 0 < service_level < 1:
            raise ValueError(f"service_level must be in (0, 1), got {service_level}")
        self.service_level = service_level
        self.tuned = tuned
        if tuned:
            self.name = self.name + "_tuned"

    def fit(self, problem, train: TrainData):
        self.problem = problem
        p = problem.params
        self.mu, self.sigma = train.mean(), train.std()
        self.protect = lead_times(problem) + self.review
        self.lot = self._lot(p)
        if self.tuned:
            eps, warmup = training_episodes(problem, window=train.window)
            grid = np.broadcast_to(Z_GRID, (problem.n_skus, Z_GRID.size)).copy()
            if self.rule is None:
                self.z, _ = grid_search(problem, eps, warmup, grid, self._act_for_z)
            else:  # the same search, simulated in one fused pass (bit-identical costs)
                self.z, _ = rule_search(problem, eps, warmup, grid, self.rule, self._rule_values,
                                        pilot=nearest(grid, critical_z(problem)))
        else:
            self.z = np.full(problem.n_skus, norm.ppf(self.service_level))
        return self

    def _lot(self, p: np.ndarray) -> np.ndarray:
        return np.zeros(p.shape[0])

    def reorder_point(self, z: np.ndarray, sku: np.ndarray) -> np.ndarray:
        return self.mu[sku] * self.protect[sku] + z * self.sigma[sku] * np.sqrt(self.protect[sku])

    rule: int | None = None
    """The rule of :func:`baselines.tuning.rule_costs` that ``_orders`` is (None: tune through grid_search)."""

    def _rule_values(self, z: np.ndarray, sku: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.reorder_point(z, sku), self.lot[sku]

    def _act_for_z(self, sim: BatchSim, z: np.ndarray) -> np.ndarray:
        return self._orders(self.reorder_point(z, sim.raw.sku), sim.raw)

    def start(self, episodes) -> None:
        super().start(episodes)
        self._s = self.reorder_point(self.z[episodes.sku], episodes.sku)

    def act(self, obs, state) -> np.ndarray:
        return self._orders(self._s, state)

    def describe(self) -> str:
        z = self.z
        zs = f"z = {z[0]:.3g}" if z.size == 1 else f"median z = {np.median(z):.3g}"
        return f"{self.name}: {zs}" + ("" if self.tuned else f" ({self.service_level:.0%} cycle service level)")


class OrderUpTo(_SafetyStockRule):
    """(R,S), R = 1: order up to S = mu (L+1) + z sigma sqrt(L+1) every period."""

    name = "safety_stock_RS"
    rule = Rule.CAPPED  # min(max(S - IP, 0), inf)

    def _rule_values(self, z: np.ndarray, sku: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.reorder_point(z, sku), np.full(sku.shape[0], np.inf)

    def _orders(self, S: np.ndarray, state) -> np.ndarray:
        return np.maximum(S - state.inventory_position, 0.0)


class MinMax(_SafetyStockRule):
    """(R,s,S), R = 1: if IP <= s order up to S = s + max(EOQ, mu); s = mu (L+1) + z sigma sqrt(L+1)."""

    name = "safety_stock_sS"
    rule = Rule.MIN_MAX

    def _lot(self, p: np.ndarray) -> np.ndarray:
        q = np.array([eoq(m, k, h) for m, k, h in zip(self.mu, p[:, kernel.ORDER_COST], p[:, kernel.HOLD])])
        return np.maximum(np.where(np.isfinite(q), q, 0.0), self.mu)

    def _orders(self, s: np.ndarray, state) -> np.ndarray:
        lot = self.lot[state.sku]
        ip = state.inventory_position
        return np.where(ip <= s, s + lot - ip, 0.0)


class EOQReorderPoint(_SafetyStockRule):
    """(s, nQ): Q = EOQ rounded to pack size and MOQ; when IP <= s order the smallest n Q lifting IP above s."""

    name = "eoq_sQ"
    rule = Rule.EOQ

    def _lot(self, p: np.ndarray) -> np.ndarray:
        q = np.array([eoq(m, k, h) for m, k, h in zip(self.mu, p[:, kernel.ORDER_COST], p[:, kernel.HOLD])])
        q = np.where(np.isfinite(q), q, np.maximum(self.mu, 1.0) * 4)
        return order_quantity(q, p[:, kernel.MOQ], p[:, kernel.PACK])

    def _orders(self, s: np.ndarray, state) -> np.ndarray:
        Q = self.lot[state.sku]
        ip = state.inventory_position
        n = np.floor((s - ip) / Q) + 1.0
        return np.where(ip <= s, n * Q, 0.0)

    def describe(self) -> str:
        Q = self.lot
        qs = f"Q = {Q[0]:g}" if Q.size == 1 else f"median Q = {np.median(Q):g}"
        return super().describe() + f", {qs}"
