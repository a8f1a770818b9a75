"""Many SKU-episodes stepped together through the kernel: the batched twin of :class:`InventoryEnv`.

:class:`Episodes` fixes the demand traces (common random numbers: every policy evaluated on the same
``Episodes`` sees the same demand); :class:`BatchSim` steps them, giving policies the raw state and, for
learned agents, the same observation vector as the single env. :func:`simulate` runs a policy to the end
and returns per-episode totals for the KPIs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import kernel as K
from .demand import HistoricalDemand, ParametricDemand, calendar_features
from .problem import Problem
from .scenario import ScenarioError


@dataclass(frozen=True)
class Episodes:
    """N episodes: SKU index, demand [history + T, N] (0 beyond an episode's length), lengths [N]."""

    sku: np.ndarray
    demand: np.ndarray
    lengths: np.ndarray
    history: int
    calendar: np.ndarray
    cal_offset: np.ndarray
    past: list[np.ndarray] = field(repr=False)
    """Demand observed before each episode starts (for forecasters to roll forward; never the future)."""
    label: str = ""

    @property
    def n(self) -> int:
        return self.sku.shape[0]

    @property
    def periods(self) -> int:
        return self.demand.shape[0] - self.history

    def episode_demand(self, i: int) -> np.ndarray:
        return self.demand[self.history:self.history + self.lengths[i], i]


def parametric_episodes(problem: Problem, n: int, periods: int, seed: int = 0) -> Episodes:
    """n episodes of `periods` periods; with several SKUs, episode i is SKU i mod n_skus."""
    src = problem.source
    if not isinstance(src, ParametricDemand):
        raise ScenarioError("parametric_episodes needs a parametric scenario; use data_episodes for data")
    rng = np.random.default_rng(seed)
    W = problem.window
    sku = np.arange(n) % src.n_skus
    demand = src.sample(rng, sku, -W, periods + W).reshape(periods + W, n)
    if src.start_date is not None:
        dates = src.start_date + np.arange(-W, periods)
        calendar = calendar_features(dates, daily=True)
    else:
        calendar = np.zeros((1, 0))
    past = [demand[:W, i].copy() for i in range(n)]
    return Episodes(sku=sku, demand=np.ascontiguousarray(demand), lengths=np.full(n, periods), history=W,
                    calendar=calendar, cal_offset=np.full(n, W, dtype=np.int64), past=past,
                    label=f"{n} simulated episodes of {periods} periods (seed {seed})")


def data_episodes(problem: Problem, window: str = "test", skus: np.ndarray | None = None) -> Episodes:
    """Every SKU with data in `window`, replayed from the window's start to its end."""
    src = problem.source
    if not isinstance(src, HistoricalDemand):
        raise ScenarioError("data_episodes needs a data scenario")
    if skus is None:
        skus = src.skus_in(window)
    if len(skus) == 0:
        raise ScenarioError(f"no SKU has data in the {window} window of {src.data.path}")
    W = problem.window
    ranges = np.array([src.window_range(window, int(s)) for s in skus])
    lengths = ranges[:, 1] - ranges[:, 0]
    T = int(lengths.max())
    demand = np.zeros((W + T, len(skus)))
    past = []
    for j, s in enumerate(skus):
        start, stop = ranges[j]
        row = src.data.demand[s]
        lo = start - W
        first = int(src.data.first[s])
        hist = row[max(lo, first):start]
        if lo < first:
            hist = np.concatenate([np.full(first - lo, src.scales[s]), hist])
        demand[:W, j] = hist
        demand[W:W + stop - start, j] = row[start:stop]
        past.append(row[first:start].copy())
    calendar = src._calendar if problem.n_calendar else np.zeros((1, 0))
    cal_offset = ranges[:, 0].astype(np.int64)
    return Episodes(sku=np.asarray(skus, dtype=np.int64), demand=demand, lengths=lengths, history=W,
                    calendar=calendar, cal_offset=cal_offset, past=past,
                    label=f"{window} window of {src.data.path}: {len(skus)} SKUs, up to {T} periods")


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


STOCKOUTS, ORDERS, ORDER_SQ, DEMAND_SQ, PERIODS = range(K.N_INFO, K.N_INFO + 5)
TOTAL_KEYS = K.INFO_KEYS + ("stockout_periods", "orders_placed", "order_sq", "demand_sq", "periods")


class BatchSim:
    """N episodes stepped together. Finished episodes (beyond their length) stop counting in the totals."""

    def __init__(self, problem: Problem, episodes: Episodes, initial_state: str = "steady", seed: int = 0,
                 warmup: int = 0):
        self.problem = problem
        self.warmup = warmup
        self.episodes = episodes
        n = episodes.n
        self.params = np.ascontiguousarray(problem.params[episodes.sku])
        self.state = np.zeros((n, K.PIPE + max(problem.max_lead, 1)))
        self.info = np.zeros((n, K.N_INFO))
        self.ip = np.zeros(n)
        self.totals = np.zeros((n, len(TOTAL_KEYS)))
        self.obs = np.zeros((n, problem.obs_dim), dtype=np.float32)
        self.t = 0
        self._set_initial(initial_state, np.random.default_rng(seed))
        self.raw = RawState(period=0, on_hand=self.state[:, K.NET], pipeline=self.state[:, K.PIPE:],
                            inventory_position=self.ip, last_demand=np.zeros(n), active=np.ones(n, bool),
                            params=self.params, sku=episodes.sku)
        self._refresh()

    def _set_initial(self, kind: str, rng: np.random.Generator) -> None:
        scale = self.params[:, K.SCALE]
        lead = self.params[:, K.LEAD].astype(np.int64)
        if kind == "steady":
            self.state[:, K.NET] = np.rint(2 * scale)
            slots = np.arange(self.state.shape[1] - K.PIPE)
            self.state[:, K.PIPE:] = np.where(slots[None, :] < (lead - 1)[:, None], np.rint(scale)[:, None], 0.0)
        elif kind != "empty":
            for i, s in enumerate(self.episodes.sku):
                self.problem.initial_state(rng, int(s), kind, self.state[i])

    def _refresh(self) -> None:
        K.inventory_position(self.state, self.params, self.ip)
        ep = self.episodes
        self.raw.period = self.t
        self.raw.active[:] = ep.lengths > self.t
        row = ep.history + self.t - 1
        self.raw.last_demand[:] = ep.demand[row] if row >= 0 else np.nan

    @property
    def done(self) -> bool:
        return self.t >= self.episodes.periods

    def observe(self) -> np.ndarray:
        pb, ep = self.problem, self.episodes
        length = np.maximum(ep.lengths, 1)
        K.observe(self.state, self.params, ep.demand, self.t, pb.window, ep.calendar, ep.cal_offset,
                  pb.n_calendar, 0.0, pb.with_period, pb.lead_norm, pb.with_lead, pb.n_pipe, self.obs)
        if pb.with_period:
            self.obs[:, pb.obs_dim - 1 - int(pb.with_lead)] = self.t / length
        return self.obs

    def step(self, request: np.ndarray, order_up_to: bool = False) -> np.ndarray:
        """One period for every episode; `request` = units to order (or targets if order_up_to)."""
        ep = self.episodes
        request = np.ascontiguousarray(request, dtype=np.float64)
        K.step(self.state, self.params, request, ep.demand[ep.history + self.t], self.problem.scenario.backorder,
               order_up_to, self.info)
        if self.t < self.warmup:
            self.t += 1
            self._refresh()
            return self.info
        K.accumulate(self.info, self.raw.active, self.totals)
        self.t += 1
        self._refresh()
        return self.info


@dataclass
class Trajectory:
    """Per-period on hand (end), order and demand of the recorded episodes: [T, k]."""

    on_hand: np.ndarray
    order: np.ndarray
    demand: np.ndarray
    episodes: np.ndarray


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
        traj = Trajectory(np.zeros((T, k)), np.zeros((T, k)), np.zeros((T, k)), np.asarray(record))
    while not sim.done:
        t = sim.t
        info = sim.step(act(sim), order_up_to=order_up_to)
        if traj is not None:
            traj.on_hand[t] = info[record, K.I_ON_HAND] - info[record, K.I_BACK]
            traj.order[t] = info[record, K.I_ORDER]
            traj.demand[t] = info[record, K.I_DEMAND]
    return sim.totals, traj


def long_run_cost(problem: Problem, act: Callable[[BatchSim], np.ndarray], *, n: int = 1000, periods: int = 2000,
                  warmup: int = 100, seed: int = 0, order_up_to: bool = False) -> tuple[float, float]:
    """Long-run average cost per period of a parametric scenario: mean over `n` independent replications of
    `periods` periods after `warmup`, and its standard error (replication means are iid)."""
    eps = parametric_episodes(problem, n, warmup + periods, seed)
    totals, _ = simulate(problem, eps, act, seed=seed, warmup=warmup, order_up_to=order_up_to)
    per = totals[:, K.I_COST] / totals[:, PERIODS]
    return float(per.mean()), float(per.std(ddof=1) / np.sqrt(n))


def base_stock(level: float | np.ndarray) -> Callable[[BatchSim], np.ndarray]:
    """Order up to `level` on inventory position every period (Zipkin's base-stock policy)."""
    return lambda sim: np.maximum(level - sim.raw.inventory_position, 0.0)
