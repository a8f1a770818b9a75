"""Evaluation's front end over the batched engine: policies stepped on fixed episodes, with per-episode totals.

:class:`envs.episodes.Episodes` fixes the demand traces (common random numbers: every policy evaluated on the
same ``Episodes`` sees the same demand); :class:`BatchSim` steps them through :class:`envs.engine.Engine`,
giving policies the raw state and, for learned agents, the same observation vector as the single env.
:func:`simulate` (the one rollout function) runs a policy to the end and returns per-episode totals for the KPIs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import kernel
from .engine import Engine
from .episodes import Episodes, make_episodes
from .problem import Problem


@dataclass
class RawState:
    """Decision-point state of every episode in a batch (views; valid during the policy call)."""

    period: int
    on_hand: np.ndarray  # [N] net inventory after this period's arrival
    pipeline: np.ndarray  # [N, slots] slot k arrives in k + 1 periods (slot L-1 is empty before ordering)
    inventory_position: np.ndarray  # [N]
    last_demand: np.ndarray  # [N] demand of the previous period (the last history value at period 0)
    active: np.ndarray  # [N] bool: the episode has not ended
    params: np.ndarray  # [N, kernel.N_PARAMS]
    sku: np.ndarray  # [N]
    ages: np.ndarray | None = None  # [N, m] perishable stock: units on hand of age a (column a); else [N, 0]
    group: np.ndarray | None = None  # [N] warehouse of each episode (shared limits; Engine.group)


STOCKOUTS, ORDERS, ORDER_SQ, DEMAND_SQ, PERIODS, END_CREDIT = range(kernel.N_INFO, kernel.N_INFO + 6)
TOTAL_KEYS = kernel.INFO_KEYS + ("stockout_periods", "orders_placed", "order_sq", "demand_sq", "periods",
                                 "end_credit")
"""Per-episode totals of :func:`simulate`. ``end_credit``: the stock on hand and on order at the end of the
episode, at unit cost (unit_cost x inventory position; negative for a backlog still to be bought), already
taken off the ``cost`` total: a policy that ends the window with less stock does not look cheaper for it.
After a warm-up, the stock the warm-up leaves is charged the same way (credit = c x (final position - the
position when counting starts)): its purchases are not counted, so its stock is not free either. Without a
warm-up the initial stock is not charged (the same for every policy)."""


class BatchSim:
    """N episodes stepped together, all at the same period. Finished episodes (beyond their length) keep being
    stepped on zero demand but stop counting in the totals. When an episode ends, its stock on hand and on order
    is credited at unit cost (``END_CREDIT``, taken off its ``cost`` total; nothing without a unit cost)."""

    def __init__(self, problem: Problem, episodes: Episodes, initial_state: str = "steady", seed: int = 0,
                 warmup: int = 0):
        self.problem = problem
        self.warmup = warmup
        self.episodes = episodes
        n = episodes.n
        self.engine = eng = Engine(problem, n, action_table=False)
        eng.load(episodes, initial_state, np.random.default_rng(seed))
        self.params = eng.params
        self.state = eng.state
        self.info = eng.info
        self.ip = np.zeros(n)
        self.totals = np.zeros((n, len(TOTAL_KEYS)))
        self.t = 0
        ends = episodes.lengths.astype(np.int64)
        credited = (eng.params[:, kernel.UNIT_COST] != 0) & (ends > warmup)
        order = np.argsort(ends[credited], kind="stable")
        idx, at = np.flatnonzero(credited)[order], ends[credited][order]
        cut = np.flatnonzero(np.diff(at)) + 1
        self._ends = {int(a[0]): i for a, i in zip(np.split(at, cut), np.split(idx, cut))} if idx.size else {}
        self._ip0 = np.zeros(n)  # the inventory position when counting starts (after a warm-up; see TOTAL_KEYS)
        self.raw = RawState(period=0, on_hand=eng.state[:, kernel.NET],
                            pipeline=eng.state[:, kernel.PIPE:problem.age_off], inventory_position=self.ip,
                            last_demand=np.zeros(n), active=np.ones(n, bool), params=eng.params, sku=episodes.sku,
                            ages=eng.state[:, problem.age_off:], group=eng.group)
        self._refresh()

    def _refresh(self) -> None:
        self.engine.inventory_position(self.ip)
        ep = self.episodes
        self.raw.period = self.t
        self.raw.active[:] = ep.lengths > self.t
        row = ep.history + self.t - 1
        self.raw.last_demand[:] = ep.demand[row] if row >= 0 else np.nan

    @property
    def done(self) -> bool:
        return self.t >= self.episodes.periods

    def observe(self) -> np.ndarray:
        """The observation of every episode at the current period (the env's layout; the period feature is
        t / the episode's own length)."""
        return self.engine.observe()

    def step(self, request: np.ndarray, order_up_to: bool = False) -> np.ndarray:
        """One period for every episode; `request` = units to order (or targets if order_up_to)."""
        if self.t == self.warmup and self.warmup > 0:
            self._ip0[:] = self.ip
        self.engine.step(np.ascontiguousarray(request, dtype=np.float64), order_up_to)
        if self.t >= self.warmup:
            kernel.accumulate(self.info, self.raw.active, self.totals)
        self.t += 1
        self._refresh()
        ended = self._ends.get(self.t)
        if ended is not None:  # credit the stock left at unit cost (see TOTAL_KEYS)
            credit = self.params[ended, kernel.UNIT_COST] * (self.ip[ended] - self._ip0[ended])
            self.totals[ended, END_CREDIT] = credit
            self.totals[ended, kernel.I_COST] -= credit
        return self.info


@dataclass
class Trajectory:
    """Per-period net inventory (end: on hand - backorders), order, demand and units sold of the recorded
    episodes: [T, k]; ``episodes``: their trace columns [k]."""

    on_hand: np.ndarray
    order: np.ndarray
    demand: np.ndarray
    episodes: np.ndarray
    sales: np.ndarray | None = None


def simulate(problem: Problem, episodes: Episodes, act: Callable[[BatchSim], np.ndarray], *,
             initial_state: str = "steady", seed: int = 0, record: np.ndarray | None = None,
             order_up_to: bool = False, warmup: int = 0) -> tuple[np.ndarray, Trajectory | None]:
    """Run `act(sim) -> requested units [N]` over all periods. Returns totals [N, len(TOTAL_KEYS)] of the
    periods after the first `warmup` ones."""
    sim = BatchSim(problem, episodes, initial_state=initial_state, seed=seed, warmup=warmup)
    T = episodes.periods
    traj = None
    if record is not None:
        k = len(record)
        traj = Trajectory(np.zeros((T, k)), np.zeros((T, k)), np.zeros((T, k)), np.asarray(record), np.zeros((T, k)))
    while not sim.done:
        t = sim.t
        info = sim.step(act(sim), order_up_to=order_up_to)
        if traj is not None:
            traj.on_hand[t] = info[record, kernel.I_ON_HAND] - info[record, kernel.I_BACK]
            traj.order[t] = info[record, kernel.I_ORDER]
            traj.demand[t] = info[record, kernel.I_DEMAND]
            traj.sales[t] = info[record, kernel.I_SALES]
    return sim.totals, traj


def long_run_cost(problem: Problem, act: Callable[[BatchSim], np.ndarray], *, n: int = 1000, periods: int = 2000,
                  warmup: int = 100, seed: int = 0, order_up_to: bool = False) -> tuple[float, float]:
    """Long-run average cost per period of a parametric scenario: mean over `n` independent replications of
    `periods` periods after `warmup`, and its standard error (replication means are iid)."""
    eps = make_episodes(problem, "test", seed=seed, n=n, periods=warmup + periods)
    totals, _ = simulate(problem, eps, act, seed=seed, warmup=warmup, order_up_to=order_up_to)
    per = totals[:, kernel.I_COST] / totals[:, PERIODS]
    return float(per.mean()), float(per.std(ddof=1) / np.sqrt(n))


def base_stock(level: float | np.ndarray) -> Callable[[BatchSim], np.ndarray]:
    """Order up to `level` on inventory position every period (Zipkin's base-stock policy)."""
    return lambda sim: np.maximum(level - sim.raw.inventory_position, 0.0)
