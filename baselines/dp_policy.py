"""The exact optimum as a policy: the relative-value-iteration solution of :mod:`baselines.dp_optimal`."""

from __future__ import annotations

import functools

import numpy as np

from envs import kernel
from envs.problem import Problem

from .base import Policy, TrainData
from .dp_optimal import DPSolution, PerishableSolution, solve_lost_sales, solve_perishable_lost_sales


@functools.lru_cache(maxsize=8)
def _solve_perishable(mean: float, lead_time: int, m: int, h: float, p: float, theta: float, issuing: str
                      ) -> PerishableSolution:
    return solve_perishable_lost_sales(mean, lead_time, m, h, p, theta, issuing)


@functools.lru_cache(maxsize=32)
def _solve(mean: float, lead_time: int, h: float, p: float) -> DPSolution:
    return solve_lost_sales(demand_mean=mean, lead_time=lead_time, holding_cost=h, lost_sales_penalty=p)


class DPOptimal(Policy):
    """Average-cost optimal policy (exact, by relative value iteration) for stationary Poisson lost-sales
    scenarios with 1 <= L <= 4, no order or purchase cost and no order constraints; or perishable ones
    (shelf life m, fixed L >= 1, m + L <= 4: :func:`baselines.dp_optimal.solve_perishable_lost_sales`).
    ``exact_avg_cost`` is the exact long-run average cost that evaluation reports as the optimum."""

    name = "dp_optimal"
    sku_separable = False  # parametric scenarios only (one optimum for the scenario)
    MAX_LEAD = 4
    MAX_PERISHABLE_DIMS = 3  # m + L - 1: the state's components ((Q + 1)^3 states, about 7,000)

    @classmethod
    def supports(cls, problem: Problem) -> bool:
        sc, src = problem.scenario, problem.source
        base = (not src.replays_windows and src.n_skus == 1 and src.stationary
                and sc.demand.kind == "poisson" and sc.mode == "lost_sales" and 1 <= sc.lead_time <= cls.MAX_LEAD
                and sc.order_cost == 0 and sc.unit_cost == 0 and sc.moq == 0 and sc.pack_size == 1
                and sc.max_order is None and sc.capacity is None and problem.lead_dist is None)
        return base and (problem.n_age == 0 or problem.n_age + sc.lead_time - 1 <= cls.MAX_PERISHABLE_DIMS)

    def fit(self, problem: Problem, train: TrainData) -> DPOptimal:
        if not self.supports(problem):
            raise ValueError(f"dp_optimal does not apply to scenario {problem.scenario.name!r}")
        self.problem = problem
        p = problem.params[0]
        if problem.n_age:
            sc = problem.scenario
            self.solution = _solve_perishable(float(problem.source.means[0]), int(p[kernel.LEAD]), problem.n_age,
                                              float(p[kernel.HOLD]), float(p[kernel.SHORT]),
                                              float(p[kernel.OUTDATE]), sc.issuing)
            self.exact_avg_cost = self.solution.avg_cost
            return self
        self.solution = _solve(float(problem.source.means[0]), int(p[kernel.LEAD]), float(p[kernel.HOLD]), float(p[kernel.SHORT]))
        self.exact_avg_cost = self.solution.avg_cost
        return self

    def act(self, obs, state) -> np.ndarray:
        L = self.solution.lead_time
        if isinstance(self.solution, PerishableSolution):
            return self.solution.orders(state.ages, state.pipeline[:, :L - 1]).astype(np.float64)
        pipe = state.pipeline[:, : L - 1] if L > 1 else None
        return self.solution.orders(state.on_hand, pipe).astype(np.float64)

    def describe(self) -> str:
        s = self.solution
        if isinstance(s, PerishableSolution):
            return (f"{self.name}: exact optimum {s.avg_cost:.4f} per period (perishable RVI, {s.n_states} states, "
                    f"gain bounds [{s.lower_bound:.6f}, {s.upper_bound:.6f}])")
        return (f"{self.name}: exact optimum {s.avg_cost:.4f} per period (RVI, {s.n_states} states, "
                f"gain bounds [{s.lower_bound:.6f}, {s.upper_bound:.6f}])")
