"""Episodes: the one container of demand traces, the one factory that builds them, the named random streams
and the initial-state rule. May import numpy, the kernel's layout constants and the scenario's error type (the
demand sources in :mod:`envs.demand` implement the factory).

Every consumer (the single env, the vector env, evaluation, tuning, training's validation, export's parity
observations) asks :func:`make_episodes` for a split; the demand source decides what that means (fresh draws
for parametric demand; a random start or a block bootstrap of the train window, or the replay of the val/test
window, for data), so nobody else branches on the kind of demand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from . import kernel
from .scenario import ScenarioError

SPLITS = ("train", "val", "test")

STREAMS = {
    "fit": 12_345,         # simulated training demand that policies are fitted on (baselines.base.train_data)
    "tune": 987_654,       # simulated demand that parameters are tuned on by simulation (baselines.tuning)
    "validation": 424_242,  # training's fixed validation traces (agents.training.Validation)
    "test": 1,             # evaluation: the user's --seed + 1 (baselines.evaluation)
    "export": 2024,        # export's parity observations (agents.export)
}
"""The named random streams: the seed of each (test: added to the user's seed). One table, so that no two
uses share a stream by accident; training itself seeds from the run's own ``--seed``."""


def stream(name: str, seed: int = 0) -> np.random.Generator:
    """The generator of a named stream (:data:`STREAMS`), offset by `seed`."""
    return np.random.default_rng(STREAMS[name] + seed)


@dataclass(frozen=True)
class Episodes:
    """N episodes: SKU index [N], demand [history + T, N] (0 beyond an episode's length), lengths [N].

    ``calendar`` is the calendar-feature table (rows x n_calendar, shared, read-only); the row of trace row r
    of episode i is ``cal_rows[r, i]`` when given (block bootstrap), else ``cal_offset[i] - history + r`` (the
    row of the episode's first period is ``cal_offset[i]``: the period index in the data's time axis for
    data, ``history`` for parametric demand). ``past[i]``: all demand observed before the episode (for
    forecasters to roll forward; never the future), or None where not built. ``state``: initial states
    [N, state columns] to start from instead of the initial-state rule (tests replay the single env's)."""

    sku: np.ndarray
    demand: np.ndarray
    lengths: np.ndarray
    history: int
    calendar: np.ndarray
    cal_offset: np.ndarray
    past: list[np.ndarray] | None = field(default=None, repr=False)
    label: str = ""
    cal_rows: np.ndarray | None = field(default=None, repr=False)
    state: np.ndarray | None = field(default=None, repr=False)
    leads: np.ndarray | None = field(default=None, repr=False)
    """Random lead times: [T, N] the lead time drawn for the order of period t of episode i (float64 whole
    numbers; None where every lead time is fixed). Drawn with the demand, so every policy evaluated on these
    episodes meets the same lead times."""

    @property
    def n(self) -> int:
        return self.sku.shape[0]

    @property
    def periods(self) -> int:
        return self.demand.shape[0] - self.history

    def episode_demand(self, i: int) -> np.ndarray:
        return self.demand[self.history:self.history + self.lengths[i], i]

    def calendar_rows(self) -> np.ndarray:
        """Row of the calendar table for every trace row and one more (the period after the episode):
        [history + T + 1, N] int64, clipped to the table."""
        if self.cal_rows is not None:
            return self.cal_rows
        r = np.arange(self.demand.shape[0] + 1)[:, None]
        return np.clip(self.cal_offset[None, :] - self.history + r, 0, self.calendar.shape[0] - 1)

    def subset(self, idx: np.ndarray) -> Episodes:
        """Episodes idx (a column subset, in that order)."""
        return replace(self, sku=self.sku[idx], demand=np.ascontiguousarray(self.demand[:, idx]),
                       lengths=self.lengths[idx], cal_offset=self.cal_offset[idx],
                       past=None if self.past is None else [self.past[i] for i in idx],
                       cal_rows=None if self.cal_rows is None else np.ascontiguousarray(self.cal_rows[:, idx]),
                       state=None if self.state is None else self.state[idx],
                       leads=None if self.leads is None else np.ascontiguousarray(self.leads[:, idx]))

    def replicate(self, k: int) -> Episodes:
        """Each episode repeated k times: column j * k + c is episode j with candidate c."""
        rep = np.repeat
        return replace(self, sku=rep(self.sku, k), demand=np.ascontiguousarray(rep(self.demand, k, axis=1)),
                       lengths=rep(self.lengths, k), cal_offset=rep(self.cal_offset, k),
                       past=None if self.past is None else [p for p in self.past for _ in range(k)],
                       cal_rows=None if self.cal_rows is None else rep(self.cal_rows, k, axis=1),
                       state=None if self.state is None else rep(self.state, k, axis=0),
                       leads=None if self.leads is None else np.ascontiguousarray(rep(self.leads, k, axis=1)))

    @cached_property
    def by_episode(self) -> tuple[np.ndarray, bool]:
        """The demand after the history as [N, T] (C order) and whether every value is an integer below 2^50
        (the tuning kernels' layout; built once per Episodes)."""
        d = np.ascontiguousarray(self.demand[self.history:].T)
        return d, bool(np.all((np.abs(d) < 2.0 ** 50) & (np.floor(d) == d)))


def make_episodes(problem, split: str = "test", *, rng: np.random.Generator | None = None, seed: int | None = None,
                  n: int | None = None, periods: int | None = None, skus=None, start=None,
                  sampler: str = "joint", with_past: bool = True, replay: bool | None = None) -> Episodes:
    """The episodes of `split` (train / val / test) of a problem, drawn from `rng` (or ``default_rng(seed)``).

    skus: the SKU of each episode (default: every SKU with data in the split's window, for data; for
    parametric demand, `n` episodes cycling over the SKUs, episode i = SKU i mod n_skus). periods: the episode
    length (parametric and train episodes; default the scenario's), or a cap on replayed windows. replay (data):
    replay the split's window from start to end (default: val / test replay, train draws random training
    episodes; ``replay=True`` on train is what tuning on the training window uses). start, sampler, with_past:
    see the sources' ``episodes`` (:mod:`envs.demand`)."""
    src = problem.source
    if rng is None:
        rng = np.random.default_rng(0 if seed is None else seed)
    if skus is None:
        pool = src.skus_in(split)
        if len(pool) == 0:
            raise ScenarioError(f"no SKU has data in the {split} window")
        skus = pool if src.replays_windows else np.arange(problem.n_skus if n is None else n) % problem.n_skus
    eps = src.episodes(problem, split, rng, np.asarray(skus, dtype=np.int64), periods, start=start,
                       sampler=sampler, with_past=with_past, replay=replay)
    dist = getattr(problem, "lead_dist", None)
    if dist is not None:  # drawn after the demand (the same demand as without random lead times)
        eps = replace(eps, leads=draw_lead_times(dist, eps.sku, eps.periods, rng))
    return eps


def draw_lead_times(dist: np.ndarray, sku: np.ndarray, periods: int, rng: np.random.Generator) -> np.ndarray:
    """[periods, N] lead times drawn from each episode's SKU row of `dist` (P(lead time = l), l = 0, 1, ...):
    one uniform per period and episode, inverted through the SKU's cumulative distribution."""
    u = rng.random((periods, sku.shape[0]))
    out = np.empty_like(u)
    cdf = np.cumsum(dist, axis=1)
    top = np.array([np.flatnonzero(row > 0).max() for row in dist])
    for s in np.unique(sku):
        cols = np.flatnonzero(sku == s)
        out[:, cols] = np.minimum(np.searchsorted(cdf[s] / cdf[s, -1], u[:, cols], side="right"), top[s])
    return out


INITIAL_STATES = ("random", "steady", "empty")


def initial_states(kind: str, params: np.ndarray, columns: int, rng: np.random.Generator | None,
                   n_age: int = 0) -> np.ndarray:
    """The one initial-state rule, for a batch of SKU rows `params` [k, N_PARAMS] -> states [k, columns]
    (the last `n_age` columns: perishable stock on hand by age; the initial stock is all of age 0):
    ``empty`` (nothing anywhere), ``steady`` (2 periods of mean demand on hand, one per pipeline slot that can
    hold an order, i.e. L - 1 slots) or ``random`` (on hand ~ U{0..ceil(3 scale)}, each of those pipeline slots ~
    Poisson(scale); drawn for all rows at once: the on hand of every row, then a full row of pipeline draws
    per SKU, masked)."""
    k = params.shape[0]
    out = np.zeros((k, columns))
    if kind == "empty":
        return out
    if n_age:
        out[:, :columns - n_age] = initial_states(kind, params, columns - n_age, rng)
        perish = params[:, kernel.SHELF] > 0
        out[perish, columns - n_age] = np.maximum(out[perish, kernel.NET], 0.0)
        return out
    scale = params[:, kernel.SCALE]
    lead = params[:, kernel.LEAD].astype(np.int64)
    in_pipe = np.arange(columns - kernel.PIPE)[None, :] < (lead - 1)[:, None]
    if kind == "steady":
        out[:, kernel.NET] = np.rint(2 * scale)
        out[:, kernel.PIPE:] = np.where(in_pipe, np.rint(scale)[:, None], 0.0)
    elif kind == "random":
        if k == 1:  # the single env's reset: scalar draws, the same numbers as the batched calls below
            out[0, kernel.NET] = rng.integers(0, int(math.ceil(3 * scale[0])) + 1)
            draws = rng.poisson(float(scale[0]), columns - kernel.PIPE)[None, :]
        else:
            out[:, kernel.NET] = rng.integers(0, np.ceil(3 * scale).astype(np.int64) + 1)
            draws = rng.poisson(np.broadcast_to(scale[:, None], in_pipe.shape))
        out[:, kernel.PIPE:] = np.where(in_pipe, draws, 0.0)
    else:
        raise ScenarioError(f"initial_state must be random, steady or empty, got {kind!r}")
    return out
