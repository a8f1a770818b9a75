"""A trained agent behind the baselines' :class:`baselines.base.Policy` interface (it applies the run's fixed
normalisation, :mod:`agents.normalization`), and the exact long-run cost of an agent on Zipkin instances.

The agent acts on the env's observation (``BatchSim.observe()`` in evaluation, ``InventoryEnv`` in training),
normalised by the run's fixed affine map, and its deterministic action is turned into units with the run's own
action settings (``action.mode/n/step/relative``), so it can be evaluated on a problem whose action settings
differ (the baselines do not use them).
"""

from __future__ import annotations

import numpy as np

from baselines.base import Policy, TrainData
from envs import kernel
from envs.problem import Problem
from envs.scenario import ActionConfig
from invcore.constraints import action_requests, reorder_lot, reorder_units

from .normalization import Normalization


class AgentPolicy(Policy):
    """A trained SB3 model as a batched policy (deterministic action: the mean for PPO, argmax for DQN)."""

    needs_obs = True
    learned = True
    sku_separable = False  # the model stays in the process that loaded it

    def __init__(self, model, norm: Normalization, action: ActionConfig, name: str = "agent"):
        self.model = model
        self.norm = norm
        self.action = action
        self.name = name
        self.order_up_to = action.mode == "order_up_to"

    @classmethod
    def from_run(cls, run, name: str | None = None, device: str = "cpu") -> AgentPolicy:
        from envs.scenario import resolve_scenario

        sc = resolve_scenario(run.config.scenario, **run.config.scenario_overrides)
        return cls(run.load_model(device=device), run.normalization, sc.action, name or f"agent:{run.name}")

    def fit(self, problem: Problem, train: TrainData) -> AgentPolicy:
        names = [f.name for f in problem.obs_fields]
        if names != self.norm.obs_names:
            raise ValueError(f"{self.name}: the problem's observation {names} differs from the one the agent was "
                             f"trained on {self.norm.obs_names}")
        self.problem = problem
        return self

    def units(self, obs: np.ndarray, scale: np.ndarray, ip: np.ndarray | None = None,
              lot: np.ndarray | None = None) -> np.ndarray:
        """Requested units (or targets in order-up-to mode) for raw observations [N, obs_dim]; action mode
        reorder_point: the units of the (s, s + lot) rule at inventory positions `ip` (lot:
        ``invcore.constraints.reorder_lot``), as ``envs.kernel.reorder_requests`` computes them in the env."""
        a, _ = self.model.policy.predict(self.norm.apply(obs), deterministic=True)
        cfg = self.action
        req = action_requests(np.asarray(a, dtype=np.float64), cfg.mode, cfg.n, cfg.step, cfg.relative, scale)
        return reorder_units(req, ip, lot) if cfg.mode == "reorder_point" else req

    def act(self, obs: np.ndarray, state) -> np.ndarray:
        p = state.params
        if self.action.mode == "reorder_point":
            return self.units(obs, p[:, kernel.SCALE], state.inventory_position,
                              reorder_lot(p[:, kernel.ORDER_COST], p[:, kernel.HOLD], p[:, kernel.SCALE]))
        return self.units(obs, p[:, kernel.SCALE])

    def describe(self) -> str:
        return f"{self.name}: {type(self.model).__name__}, action {self.action.mode} n={self.action.n}"


def exact_cost(agent: AgentPolicy, problem: Problem, margin: int = 8, tol_mass: float = 1e-6) -> float | None:
    """Exact long-run average cost of the agent's deterministic policy where the DP optimum applies (value
    determination on its Markov chain, :func:`baselines.dp_optimal.policy_cost`), else None.

    The chain lives on the states whose inventory position after ordering is at most B = Morton's bound +
    `margin`; orders beyond B are capped. The capped chain's stationary distribution (power iteration from the
    steady start: 2 periods of demand on hand, one per pipeline slot) must put less than `tol_mass` on states
    where the cap binds, else the policy's own chain leaves the set (stock grows without bound, as untrained
    policies do) and the cost is ``inf``. The error of the capped cost is of the order of that mass."""
    from baselines.dp_optimal import capped_policy_cost, morton_bound
    from baselines.dp_policy import DPOptimal

    if not DPOptimal.supports(problem) or agent.order_up_to or problem.n_age:  # (perishable: not this chain)
        return None
    p = problem.params[0]
    L, h, pen = int(p[kernel.LEAD]), float(p[kernel.HOLD]), float(p[kernel.SHORT])
    mean, scale = float(problem.source.means[0]), float(p[kernel.SCALE])
    if problem.obs_dim != L + 1:
        return None

    def raw_orders(on_hand: np.ndarray, pipe: np.ndarray) -> np.ndarray:
        n = on_hand.shape[0]
        obs = np.empty((n, L + 1))
        obs[:, 0] = on_hand
        obs[:, 1:L] = pipe
        obs[:, L] = on_hand + pipe.sum(axis=1)
        lot = np.full(n, float(reorder_lot(p[kernel.ORDER_COST], p[kernel.HOLD], scale)))
        return agent.units(obs / scale, np.full(n, scale), obs[:, L], lot)

    return capped_policy_cost(raw_orders, mean, L, h, pen, morton_bound(mean, L, h, pen) + margin,
                              tol_mass=tol_mass)
