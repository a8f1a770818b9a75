"""Vectorised ``Inventory-v0``: N SKU-episodes stepped in one kernel call, with the exact dynamics of the single env.

Two front ends over one engine:

* :class:`VectorInventoryEnv`, a ``gymnasium.vector.VectorEnv`` (the ``vector_entry_point`` of
  ``Inventory-v0``: ``gymnasium.make_vec("Inventory-v0", num_envs=N, vectorization_mode="vector_entry_point",
  scenario=...)``). Same-step autoreset (``metadata["autoreset_mode"] = AutoresetMode.SAME_STEP``): when a slot's
  episode ends, ``step`` returns the first observation of its next episode and puts the last one in
  ``infos["final_obs"]`` (mask ``infos["_final_obs"]``), as gymnasium's SyncVectorEnv does in that mode.
* :class:`InventoryVecEnv`, a ``stable_baselines3`` ``VecEnv`` (``PPO("MlpPolicy", InventoryVecEnv(scenario,
  num_envs=N))``): ``dones``, a list of per-slot ``infos`` with ``terminal_observation``,
  ``TimeLimit.truncated`` and a Monitor-style ``episode`` summary at episode ends.

Dynamics, costs, constraints and observations come from :mod:`envs.kernel` (``step`` and ``observe``) and the
tables of :class:`envs.problem.Problem`; this module only keeps one demand trace per slot and its clock, draws
new episodes for slots whose episode ended, and maps actions to requests exactly as ``InventoryEnv`` does.

Slots and SKUs: by default slot i runs SKU ``pool[i mod len(pool)]`` (the pool: every SKU of a parametric
scenario, the SKUs with data in the window of a data scenario), so ``num_envs`` = the number of SKUs runs the
whole catalogue once; ``skus="random"`` draws the SKU of each new episode uniformly from the pool, like the
single env; an array gives each slot its SKU (indices or names).

Episodes are drawn like the single env's (same distributions, another random stream): parametric demand is
sampled for all slots that start an episode in one call (with promotions, each slot draws its own promotion
days); data episodes replay the train window from a random start (or block-bootstrapped) and val/test windows
from their start to their end. Episodes end by truncation only (``episode_length``, or the end of the data
window), never by termination.

Per-slot info: ``info="arrays"`` (default) keeps SB3 ``infos`` small (the fields above only) and gives the
period's figures as arrays in :attr:`VectorInventoryEnv.last_info` (``demand, sales, ..., requested, period,
sku``); ``info="dicts"`` also puts the single env's info dict (same keys and values) in every slot's info: exact
but slow (a Python dict per SKU and step), meant for tests and small N.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space
from numba import njit

from . import kernel as K
from .demand import HistoricalDemand, ParametricDemand, calendar_features
from .problem import Problem
from .reward import Reward
from .scenario import Scenario, ScenarioError


@dataclass
class EpisodeBatch:
    """New episodes for k slots.

    ``demand`` [W + T, k]: W = problem.window history periods then the episode's demand (T >= max(lengths));
    ``cal_rows`` [W + T + 1, k]: the row of the source's calendar table for each trace row (one more row: the
    period after the episode), or None without calendar features; ``state`` [k, state columns]: initial states,
    or None to draw them from the initial-state rule.
    """

    sku: np.ndarray
    demand: np.ndarray
    lengths: np.ndarray
    cal_rows: np.ndarray | None = None
    state: np.ndarray | None = None


class ProblemEpisodes:
    """The default episode source: episodes of a :class:`Problem` drawn in batches, as ``InventoryEnv.reset``
    draws one (parametric: ``episode_length`` periods; data: the ``window`` of the SKU). Stationary parametric
    demand is drawn by inversion (:class:`InverseCDFDemand`: the same distribution as
    ``ParametricDemand.sample``, another stream) unless ``fast_sampler=False``."""

    def __init__(self, problem: Problem, window: str | None = None, episode_length: int | None = None,
                 fast_sampler: bool = True):
        self.problem = problem
        self.fast_sampler = fast_sampler
        self._fast: InverseCDFDemand | bool | None = None
        src = problem.source
        self.W = problem.window
        self.periods = int(episode_length or problem.scenario.episode_length)
        self.data = isinstance(src, HistoricalDemand)
        if self.data:
            self.window = window or problem.scenario.data.window
            if self.window not in ("train", "val", "test"):
                raise ScenarioError(f"window must be train, val or test, got {self.window!r}")
            self.pool = src.skus_in(self.window)
            r = src._ranges[self.window]
            self._s, self._e = r[:, 0], r[:, 1]
            self._first = src.data.first.astype(np.int64)
            if self.window == "train":
                self.max_periods = self.periods
            else:
                self.max_periods = int((self._e - self._s)[self.pool].max()) if self.pool.size else 0
            self.calendar = np.ascontiguousarray(src._calendar[:, :problem.n_calendar]) if problem.n_calendar \
                else np.zeros((1, 0))
        else:
            self.window = None
            self.pool = np.arange(problem.n_skus)
            self.max_periods = self.periods
            if problem.n_calendar:
                dates = src.start_date + np.arange(-self.W, self.periods + 1)
                self.calendar = calendar_features(dates, daily=True)[:, :problem.n_calendar]
            else:
                self.calendar = np.zeros((1, 0))
        if self.pool.size == 0:
            raise ScenarioError(f"no SKU has data in the {self.window} window")

    def __call__(self, rng: np.random.Generator, sku: np.ndarray, slots: np.ndarray | None = None) -> EpisodeBatch:
        return self._data(rng, sku) if self.data else self._parametric(rng, sku)

    def _parametric(self, rng: np.random.Generator, sku: np.ndarray) -> EpisodeBatch:
        src: ParametricDemand = self.problem.source
        W, T, k = self.W, self.periods, sku.shape[0]
        c = src.config
        if self._fast is None:
            self._fast = (InverseCDFDemand.build(src, self.pool) if self.fast_sampler else None) or False
        if self._fast:  # stationary demand: inversion from uniforms (same distribution, faster than numpy)
            demand = self._fast.sample(rng, sku, W + T)
        elif c.promo_prob > 0 and c.promo_lift != 1:  # promotion days are random: each episode draws its own
            demand = np.empty((W + T, k))
            for j in range(k):
                demand[:, j] = src.sample(rng, int(sku[j]), -W, T + W)
        else:
            demand = src.sample(rng, sku, -W, T + W).reshape(W + T, k)
        cal = None
        if self.problem.n_calendar:
            cal = np.broadcast_to(np.arange(W + T + 1)[:, None], (W + T + 1, k))
        return EpisodeBatch(sku, demand, np.full(k, T, dtype=np.int64), cal)

    def _data(self, rng: np.random.Generator, sku: np.ndarray) -> EpisodeBatch:
        src: HistoricalDemand = self.problem.source
        data = src.data
        W, k, n = self.W, sku.shape[0], data.n_periods
        s, e = self._s[sku], self._e[sku]
        if self.window == "train" and src.config.bootstrap_block > 0:
            T = self.periods
            b = src.config.bootstrap_block
            n_blocks = -(-(T + W) // b)
            starts = rng.integers(s[:, None], np.maximum(s + 1, e - b + 1)[:, None], size=(k, n_blocks))
            idx = (starts[:, :, None] + np.arange(b)[None, None, :]).reshape(k, -1)
            idx = np.minimum(idx, (e - 1)[:, None])[:, :T + W]
            demand = data.demand[sku[:, None], idx].T.copy()
            lengths = np.full(k, T, dtype=np.int64)
            cal = np.concatenate([idx, np.minimum(idx[:, -1:] + 1, n - 1)], axis=1).T
        else:
            T = self.periods if self.window == "train" else self.max_periods
            if self.window == "train":
                start = rng.integers(s, np.maximum(s + 1, e - T + 1))
                stop = np.minimum(e, start + T)
            else:
                start, stop = s, e
            lengths = (stop - start).astype(np.int64)
            lo = start - W
            idx = lo[None, :] + np.arange(W + T)[:, None]
            vals = data.demand[sku[None, :], np.clip(idx, 0, n - 1)]
            scale = src.scales[sku]
            demand = np.where(idx < self._first[sku][None, :], scale[None, :],
                              np.where(idx < stop[None, :], vals, 0.0))
            cal = np.clip(lo[None, :] + np.arange(W + T + 1)[:, None], 0, n - 1)
        return EpisodeBatch(sku, demand, lengths, cal if self.problem.n_calendar else None)


# ---------------------------------------------------------------------------------- fast demand sampler
# Inverse-CDF sampling from one uniform per draw, with a guide table (Chen & Asau 1974) per distinct demand
# distribution. Used only for the vector env's own stream of stationary parametric demand; the
# distributions are the same as ParametricDemand.sample's (exact CDFs from scipy, see InverseCDFDemand).

_TAIL = 2.0 ** -54
"""Probability left out at each end of a table (below the uniforms' resolution of 2^-53)."""
MAX_TABLE_ENTRIES = 4_000_000
"""Largest total size of the CDF tables (float64 + int64 guide: 16 bytes an entry); beyond it, numpy draws."""


class InverseCDFDemand:
    """Stationary ``ParametricDemand`` (Poisson, negative binomial or rounded normal) sampled by inversion.

    For each distinct (mean, std) of the SKUs, the CDF F(x) = P(X <= x) is tabulated over lo..hi, where
    P(X < lo) and P(X > hi) are below 2^-54 (the resolution of a float64 uniform is 2^-53), with scipy's
    exact distribution functions and the same parameters as ``ParametricDemand.sample`` (negative binomial:
    ``r = mean^2 / (var - mean)``, ``p = r / (r + mean)``, numpy's convention; normal: ``max(0, rint(N(mean,
    std)))``, so F(x) = Phi((x + 0.5 - mean) / std) for x >= 0). A draw is X = min{x : u < F(x)} for
    u ~ U[0, 1) (``rng.random``), which has exactly the tabulated probabilities F(x) - F(x - 1); the guide
    table makes the search O(1). Build with :meth:`build`, which returns None where the fast path does not
    apply (demand with multipliers, or tables too large).
    """

    def __init__(self, lo, start, size, cdf, guide, table_of_sku):
        self.lo, self.start, self.size = lo, start, size
        self.cdf, self.guide = cdf, guide
        self.table_of_sku = table_of_sku

    @classmethod
    def build(cls, src: ParametricDemand, skus: np.ndarray | None = None) -> InverseCDFDemand | None:
        from scipy import stats

        if not src.stationary:
            return None
        kind = src.config.kind
        skus = np.arange(src.n_skus) if skus is None else np.unique(skus)
        keys = np.stack([src.means[skus], src.stds[skus]], axis=1)
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        table_of_sku = np.zeros(src.n_skus, dtype=np.int64)
        table_of_sku[skus] = inv.reshape(-1)
        m, s = uniq[:, 0], uniq[:, 1]
        if kind == "poisson":
            dist = stats.poisson(m)
            spread = np.sqrt(m)
        elif kind == "negative_binomial":
            var = s ** 2
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(var > m, m ** 2 / (var - m), 1e12)
                p = np.where(m > 0, r / (r + m), 1.0)
            dist = stats.nbinom(np.maximum(r, 1e-12), np.clip(p, 1e-12, 1.0))
            spread = s
        else:
            spread = s
        # bounds: lo = first x with F(x) >= 2^-54, hi = first x with P(X > x) <= 2^-54 (widened until true)
        lo = np.zeros(m.shape[0], dtype=np.int64)
        hi = np.ceil(m + 12 * spread + 40).astype(np.int64)
        if kind == "normal":
            det = s == 0  # std 0: the rounded mean, clipped at 0
            with np.errstate(divide="ignore", invalid="ignore"):
                lo = np.where(det, np.maximum(np.rint(m), 0), np.maximum(np.floor(m - 9 * s), 0)).astype(np.int64)
                hi = np.where(det, lo, hi)
        else:
            lo = np.maximum(np.floor(m - 12 * spread - 40), 0).astype(np.int64)
            lo = np.where(dist.cdf(lo - 1) >= _TAIL, 0, lo)  # the left tail must not be cut where it matters
        while True:
            if int((hi - lo + 1).sum()) > MAX_TABLE_ENTRIES:
                return None
            sf = cls._sf(kind, dist if kind != "normal" else None, m, s, hi)
            wide = sf > _TAIL
            if not wide.any():
                break
            hi = np.where(wide, 2 * hi + 1, hi)
        size = hi - lo + 1
        start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
        tab = np.repeat(np.arange(m.shape[0]), size)
        x = (np.arange(int(size.sum())) - start[tab] + lo[tab]).astype(np.float64)
        if kind == "normal":
            with np.errstate(divide="ignore", invalid="ignore"):
                cdf = stats.norm.cdf((x + 0.5 - m[tab]) / s[tab])
            cdf = np.where(s[tab] == 0, 1.0, cdf)
        else:
            cdf = cls._cdf(kind, x, m[tab], s[tab])
        cdf = np.asarray(cdf, dtype=np.float64)
        cdf[start + size - 1] = 2.0  # every u < 1 stops at the table's end (the < 2^-54 tail is folded in)
        guide = np.empty(cdf.shape[0], dtype=np.int64)
        _build_guides(cdf, start, size, guide)
        return cls(lo, start, size, cdf, guide, table_of_sku)

    @staticmethod
    def _sf(kind, dist, m, s, x):
        from scipy import stats

        if kind == "normal":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(s > 0, stats.norm.sf((x + 0.5 - m) / s), 0.0)
        return dist.sf(x)

    @staticmethod
    def _cdf(kind, x, m, s):
        from scipy import stats

        if kind == "poisson":
            return stats.poisson.cdf(x, m)
        var = s ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(var > m, m ** 2 / (var - m), 1e12)
            p = np.where(m > 0, r / (r + m), 1.0)
        return stats.nbinom.cdf(x, np.maximum(r, 1e-12), np.clip(p, 1e-12, 1.0))

    def sample(self, rng: np.random.Generator, sku: np.ndarray, n: int) -> np.ndarray:
        """Demand of n periods for each SKU in `sku`: float64 [n, len(sku)]."""
        u = rng.random((n, sku.shape[0]))
        _invert(u, self.table_of_sku[sku], self.lo, self.start, self.size, self.cdf, self.guide)
        return u


@njit(cache=True)
def _build_guides(cdf, start, size, guide) -> None:
    """guide[start + b] = the first index i of the table with cdf[start + i] > b / size (b = 0..size-1)."""
    for k in range(start.shape[0]):
        s, G = start[k], size[k]
        i = 0
        for b in range(G):
            while cdf[s + i] <= b / G:
                i += 1
            guide[s + b] = i


@njit(cache=True)
def _invert(u, table, lo, start, size, cdf, guide) -> None:
    """In place: u[r, j] <- lo + min{i : u[r, j] < cdf[i]} in the table of column j."""
    for r in range(u.shape[0]):
        for j in range(u.shape[1]):
            k = table[j]
            s = start[k]
            x = u[r, j]
            i = guide[s + int(x * size[k])]
            while cdf[s + i] <= x:
                i += 1
            u[r, j] = lo[k] + i


# ---------------------------------------------------------------------------------- per-slot bookkeeping
# (the period's dynamics are kernel.step; these only gather and scatter per-slot values in one pass each)

@njit(cache=True)
def _gather(table: np.ndarray, actions: np.ndarray, demand: np.ndarray, W: int, t: np.ndarray,
            discrete: bool, request: np.ndarray, d: np.ndarray) -> int:
    """request[i] = table[i, actions[i]] (discrete actions) and d[i] = demand[W + t[i], i]; returns the number
    of discrete actions out of 0..table.shape[1] - 1 (their requests are not written)."""
    bad = 0
    m = table.shape[1]
    for i in range(t.shape[0]):
        if discrete:
            a = actions[i]
            if a < 0 or a >= m:
                bad += 1
            else:
                request[i] = table[i, a]
        d[i] = demand[W + t[i], i]
    return bad


@njit(cache=True)
def _advance(info: np.ndarray, offset: np.ndarray, scale: np.ndarray, rewards: np.ndarray, ep_return: np.ndarray,
             t: np.ndarray, period: np.ndarray, lengths: np.ndarray) -> int:
    """Rewards as the single env computes them (per-slot offset and scale of the slot's SKU), returns, clocks;
    returns the number of episodes that ended."""
    ended = 0
    for i in range(t.shape[0]):
        r = -(info[i, K.I_COST] - offset[i]) * scale[i]
        rewards[i] = r
        ep_return[i] += r
        period[i] = t[i]
        t[i] += 1
        if t[i] >= lengths[i]:
            ended += 1
    return ended


@njit(cache=True)
def _window(demand: np.ndarray, t: np.ndarray, W: int, out: np.ndarray) -> None:
    """out[k, i] = demand[t[i] + k, i]: the demand window of every slot at its own period."""
    for i in range(t.shape[0]):
        for k in range(W):
            out[k, i] = demand[t[i] + k, i]


class VectorInventoryEnv(gym.vector.VectorEnv):
    """``num_envs`` SKU-episodes of ``Inventory-v0`` stepped together (see the module docstring).

    ``VectorInventoryEnv(num_envs=None, scenario="lost-sales-L2-p9", *, skus=None, window=None,
    initial_state=None, info="arrays", episode_source=None, reward=None, **overrides)``: ``num_envs`` defaults to the
    number of SKUs in the pool; ``scenario`` and ``overrides`` as for ``InventoryEnv``; ``window`` replays
    another data window than the scenario's; ``initial_state`` overrides the scenario's; ``episode_source``
    (``(rng, sku array, slot array) -> EpisodeBatch``) replaces the default :class:`ProblemEpisodes` (tests use it to
    replay the single env's demand); ``reward`` (:class:`envs.reward.Reward`) replaces the scenario's reward.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int | None = None, scenario: str | Scenario = "lost-sales-L2-p9", *,
                 skus: str | Sequence | np.ndarray | None = None, window: str | None = None,
                 initial_state: str | None = None, info: str = "arrays",
                 episode_source: Callable[[np.random.Generator, np.ndarray, np.ndarray], EpisodeBatch] | None = None,
                 render_mode: str | None = None, problem: Problem | None = None, reward: Reward | None = None,
                 **overrides: Any):
        pb = problem if problem is not None else Problem(scenario, **overrides)
        self.problem = pb
        self.scenario = sc = pb.scenario
        if render_mode is not None:
            raise ScenarioError("VectorInventoryEnv does not render; use InventoryEnv(render_mode='ansi')")
        self.render_mode = None
        if info not in ("arrays", "dicts"):
            raise ScenarioError(f"info must be 'arrays' or 'dicts', got {info!r}")
        self.info_mode = info
        self.episodes = ProblemEpisodes(pb, window)
        self._source = episode_source or self.episodes
        pool = self.episodes.pool
        self._random_sku = isinstance(skus, str) and skus == "random"
        if skus is None or self._random_sku:
            n = int(num_envs) if num_envs is not None else int(pool.size)
            self._fixed_sku = None if self._random_sku else pool[np.arange(n) % pool.size]
        else:
            fixed = np.array([pb.sku_index(s) for s in (skus.tolist() if isinstance(skus, np.ndarray) else skus)],
                             dtype=np.int64)
            n = int(num_envs) if num_envs is not None else fixed.size
            if fixed.size != n:
                raise ScenarioError(f"skus gives {fixed.size} SKUs for {n} slots")
            self._fixed_sku = fixed
        if n < 1:
            raise ScenarioError(f"num_envs must be >= 1, got {n}")
        self.num_envs = n
        self.initial_state = initial_state or sc.initial_state
        if self.initial_state not in ("random", "steady", "empty"):
            raise ScenarioError(f"initial_state must be random, steady or empty, got {self.initial_state!r}")
        self.single_observation_space = pb.observation_space
        self.single_action_space = pb.action_space
        self.observation_space = batch_space(pb.observation_space, n)
        self.action_space = batch_space(pb.action_space, n)
        self.obs_fields = pb.obs_fields
        self._backorder = sc.backorder
        self._order_up_to = pb.order_up_to
        self._continuous = sc.action.mode == "continuous"
        self._reward_offset = np.zeros(n)
        self._reward_scale = np.ones(n)
        self.reward = reward if reward is not None else Reward.from_scenario(sc)
        self._W = pb.window
        self._period_col = pb.obs_dim - 1 - int(pb.with_lead)
        self._rows = np.arange(n)
        self._win = np.arange(pb.window)[:, None]
        # per-slot tables
        self.sku = np.zeros(n, dtype=np.int64)
        self.state = np.zeros((n, K.PIPE + max(pb.max_lead, 1)))
        self.params = np.zeros((n, K.N_PARAMS))
        self._table = np.zeros((n, pb.action_table.shape[1]))
        self._cont_max = np.zeros(n)
        self.t = np.zeros(n, dtype=np.int64)
        self.lengths = np.ones(n, dtype=np.int64)
        self._rows_buf = 0
        self._demand = np.zeros((pb.window + 1, n))
        self._cal_rows = np.zeros((pb.window + 2, n), dtype=np.int64) if pb.n_calendar else None
        self._cal_offset = np.zeros(n, dtype=np.int64)
        self._request = np.zeros(n)
        self._d = np.zeros(n)
        self._rewards = np.zeros(n)
        self._period = np.zeros(n, dtype=np.int64)
        self._no_actions = np.zeros(n, dtype=np.int64)
        self._winbuf = np.zeros((pb.window, n))
        self._info = np.zeros((n, K.N_INFO))
        self._obs = np.zeros((n, pb.obs_dim), dtype=np.float32)
        self._ep_return = np.zeros(n)
        self._rng = np.random.default_rng()
        self._np_random = self._rng
        self._np_random_seed = None
        self._needs_reset = True
        self.closed = False
        self.spec = None

    # ------------------------------------------------------------------ gymnasium VectorEnv API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a new episode in every slot. ``options``: ``initial_state`` for these episodes."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._np_random = self._rng
            self._np_random_seed = seed
        options = options or {}
        self._start(self._rows, options.get("initial_state", self.initial_state))
        self._observe()
        self._needs_reset = False
        self._period[:] = 0
        self._step_sku = self.sku
        self._rewards[:] = 0.0
        return self._obs.copy(), {"sku": self.sku.copy(), "scale": self.params[:, K.SCALE].copy()}

    def step(self, actions):
        """One period for every slot; slots whose episode ends start a new one (same-step autoreset)."""
        done, final_obs, dicts = self._step(actions)
        rewards = self._rewards.copy()
        info = self._info.copy()
        infos: dict[str, Any] = {k: info[:, c] for c, k in enumerate(K.INFO_KEYS)}
        infos.update(requested=self._request.copy(), period=self._period.copy(), sku=self._step_sku.copy())
        if dicts is not None:
            infos["dicts"] = dicts
        if done is not None:
            fo = np.full(self.num_envs, None, dtype=object)
            for j, i in enumerate(done):
                fo[i] = final_obs[j]
            mask = np.zeros(self.num_envs, dtype=bool)
            mask[done] = True
            infos["final_obs"], infos["_final_obs"] = fo, mask
        truncated = np.zeros(self.num_envs, dtype=bool)
        if done is not None:
            truncated[done] = True
        return self._obs.copy(), rewards, np.zeros(self.num_envs, dtype=bool), truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        pass

    # ------------------------------------------------------------------ engine
    def _step(self, actions) -> tuple[np.ndarray | None, np.ndarray | None, list[dict] | None]:
        """Advance all slots; returns (slots that ended or None, their final observations, per-slot dicts)."""
        if self._needs_reset:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(actions)
        n = self.num_envs
        request = self._request
        if self._continuous:
            a = np.clip(a.astype(np.float64).reshape(n, -1)[:, 0], -1.0, 1.0)
            request[:] = np.rint((a + 1.0) * 0.5 * self._cont_max)
            a = self._no_actions
        else:
            a = a.reshape(n)
            if a.dtype.kind not in "iu":
                a = a.astype(np.int64)
        t = self.t
        if _gather(self._table, a, self._demand, self._W, t, not self._continuous, request, self._d):
            raise ValueError(f"actions must be in 0..{self._table.shape[1] - 1}")
        K.step(self.state, self.params, request, self._d, self._backorder, self._order_up_to, self._info)
        self._step_sku = self.sku
        ended = _advance(self._info, self._reward_offset, self._reward_scale, self._rewards, self._ep_return, t,
                         self._period, self.lengths)
        dicts = self._info_dicts() if self.info_mode == "dicts" else None
        self._observe()
        if not ended:
            return None, None, dicts
        done = np.flatnonzero(t >= self.lengths)
        final_obs = self._obs[done].copy()
        self._step_sku = self.sku.copy()
        self._final_returns = self._ep_return[done].copy()
        self._start(done, self.initial_state)
        self._observe(done)
        return done, final_obs, dicts

    @property
    def last_info(self) -> dict[str, np.ndarray]:
        """The last period's figures per slot (raw units; the single env's info keys; ``sku`` = SKU index).
        Views, overwritten by the next step."""
        out = {k: self._info[:, c] for c, k in enumerate(K.INFO_KEYS)}
        out["requested"] = self._request
        out["period"] = self._period
        out["sku"] = self._step_sku
        return out

    def _info_dicts(self) -> list[dict[str, Any]]:
        pb = self.problem
        rows = self._info.tolist()
        req = self._request.tolist()
        per = self._period.tolist()
        out = []
        for i in range(self.num_envs):
            d = dict(zip(K.INFO_KEYS, rows[i]))
            d["requested"] = req[i]
            d["period"] = per[i]
            d["sku"] = pb.sku_name(int(self.sku[i]))
            L = int(self.params[i, K.LEAD])
            pipeline = np.empty(L)
            if L:
                pipeline[0] = self.state[i, K.RECV]
                pipeline[1:] = self.state[i, K.PIPE:K.PIPE + L - 1]
            d["pipeline"] = pipeline
            out.append(d)
        return out

    def _start(self, slots: np.ndarray, kind: str) -> None:
        """New episodes in `slots`: SKU, demand trace, clock, parameters, initial state."""
        pb = self.problem
        if self._random_sku:
            pool = self.episodes.pool
            sku = pool[self._rng.integers(pool.size, size=slots.size)]
        else:
            sku = self._fixed_sku[slots]
        batch = self._source(self._rng, sku, slots)
        T = batch.demand.shape[0] - self._W
        if T > self._rows_buf:
            self._grow(T)
        self.sku[slots] = batch.sku
        self.params[slots] = pb.params[batch.sku]
        self._reward_offset[slots] = self._reward_tables[0][batch.sku]
        self._reward_scale[slots] = self._reward_tables[1][batch.sku]
        self._table[slots] = pb.action_table[batch.sku]
        if self._continuous:
            self._cont_max[slots] = pb._cont_max[batch.sku]
        rows = T + self._W
        if slots.size == self.num_envs:  # every slot (reset, or episodes of equal length): whole rows
            self._demand[:rows] = batch.demand
            self._demand[rows:] = 0.0
            if self._cal_rows is not None:
                self._cal_rows[:rows + 1] = batch.cal_rows
        else:
            self._demand[:rows, slots] = batch.demand
            self._demand[rows:, slots] = 0.0
            if self._cal_rows is not None:
                self._cal_rows[:rows + 1, slots] = batch.cal_rows
        self.lengths[slots] = batch.lengths
        if (batch.lengths < 1).any():
            raise ScenarioError("an episode with no periods to replay")
        self.t[slots] = 0
        self._ep_return[slots] = 0.0
        if batch.state is not None:
            self.state[slots] = batch.state
        else:
            self.state[slots] = self._initial_states(slots, kind)

    def _grow(self, T: int) -> None:
        n = self.num_envs
        d = np.zeros((self._W + T, n))
        d[:self._demand.shape[0]] = self._demand
        self._demand = d
        if self._cal_rows is not None:
            c = np.zeros((self._W + T + 1, n), dtype=np.int64)
            c[:self._cal_rows.shape[0]] = self._cal_rows
            self._cal_rows = c
        self._rows_buf = T

    def _initial_states(self, slots: np.ndarray, kind: str) -> np.ndarray:
        """Problem.initial_state for many slots at once (same rule, one random stream)."""
        out = np.zeros((slots.size, self.state.shape[1]))
        if kind == "empty":
            return out
        scale = self.params[slots, K.SCALE]
        lead = self.params[slots, K.LEAD].astype(np.int64)
        in_pipe = np.arange(out.shape[1] - K.PIPE)[None, :] < (lead - 1)[:, None]
        if kind == "steady":
            out[:, K.NET] = np.rint(2 * scale)
            out[:, K.PIPE:] = np.where(in_pipe, np.rint(scale)[:, None], 0.0)
        elif kind == "random":
            out[:, K.NET] = self._rng.integers(0, np.ceil(3 * scale).astype(np.int64) + 1)
            draws = self._rng.poisson(np.broadcast_to(scale[:, None], in_pipe.shape))
            out[:, K.PIPE:] = np.where(in_pipe, draws, 0.0)
        else:
            raise ScenarioError(f"initial_state must be random, steady or empty, got {kind!r}")
        return out

    def _observe(self, slots: np.ndarray | None = None) -> None:
        pb = self.problem
        W = self._W
        if slots is None:
            t, cols, state, params, obs = self.t, self._rows, self.state, self.params, self._obs
        else:
            t, cols = self.t[slots], slots
            state, params = self.state[slots], self.params[slots]
            obs = np.empty((slots.size, pb.obs_dim), dtype=np.float32)
        if not W:
            trace = self._demand
        elif slots is None:
            trace = self._winbuf
            _window(self._demand, t, W, trace)
        else:
            trace = self._demand[t[None, :] + self._win, cols[None, :]]
        if self._cal_rows is not None:
            cal_offset = self._cal_rows[W + t, cols]
        else:
            cal_offset = self._cal_offset[:t.size]
        # the period column is per slot: the kernel writes a placeholder (so that the lead time lands in the
        # last column), overwritten below
        K.observe(state, params, trace, 0, W, self.episodes.calendar, cal_offset, pb.n_calendar, 0.0,
                  pb.with_period, pb.lead_norm, pb.with_lead, pb.n_pipe, obs)
        if pb.with_period:
            obs[:, self._period_col] = t / self.lengths[cols]
        if slots is not None:
            self._obs[slots] = obs

    # ------------------------------------------------------------------ helpers
    @property
    def reward(self) -> Reward:
        """The reward function (:class:`envs.reward.Reward`, the single env's); setting it takes effect for
        the slots' next episodes (call ``reset`` to apply it to every slot at once)."""
        return self._reward

    @reward.setter
    def reward(self, value: Reward) -> None:
        self._reward_tables = value.tables(self.problem.n_skus)
        self._reward = value

    @property
    def inventory_position(self) -> np.ndarray:
        out = np.zeros(self.num_envs)
        K.inventory_position(self.state, self.params, out)
        return out

    @property
    def observations(self) -> np.ndarray:
        """The current observation matrix [num_envs, obs_dim] (a view; copy it to keep it)."""
        return self._obs


try:  # the SB3 adapter; stable-baselines3 is a dependency, but the simulator itself does not need it
    from stable_baselines3.common.vec_env import VecEnv as _SB3VecEnv
except ImportError:  # pragma: no cover
    _SB3VecEnv = None


class _NoInfo(dict):
    """The info of a slot whose episode did not end: empty and read-only, one object shared by all such slots
    (building thousands of fresh dicts per step would cost more than the simulation)."""

    def _read_only(self, *args, **kwargs):
        raise TypeError("the infos of slots whose episode did not end are one shared read-only empty dict; "
                        "copy it (dict(info)) to add keys")

    __setitem__ = __delitem__ = update = setdefault = pop = popitem = clear = __ior__ = _read_only


_NO_INFO = _NoInfo()


if _SB3VecEnv is not None:

    class InventoryVecEnv(_SB3VecEnv):
        """Stable-Baselines3 ``VecEnv`` over a :class:`VectorInventoryEnv`: ``PPO("MlpPolicy",
        InventoryVecEnv("lost-sales-L2-p9", num_envs=256))`` trains one policy on all slots.

        Arguments as for :class:`VectorInventoryEnv` (or ``venv=`` an existing one). ``step`` returns
        ``(obs, rewards, dones, infos)``: at an episode end ``infos[i]`` holds ``terminal_observation``,
        ``TimeLimit.truncated`` (always True: episodes only end by truncation) and ``episode`` (``r``: the
        episode's return, ``l``: its length, ``t``: wall seconds since this VecEnv was made), as SB3's Monitor
        would; the other slots'
        infos are one shared, read-only empty dict (``info="dicts"``: the single env's info dicts); the returned
        observation is the first one of the next episode. ``seed(s)`` seeds the next ``reset`` (one random
        stream for all slots). ``get_attr``/``set_attr``/``env_method`` act on the one underlying
        :class:`VectorInventoryEnv` (its attributes are shared by all slots) and return one value per index.
        """

        def __init__(self, scenario: str | Scenario = "lost-sales-L2-p9", num_envs: int | None = None, *,
                     venv: VectorInventoryEnv | None = None, **kwargs: Any):
            self.venv = venv if venv is not None else VectorInventoryEnv(num_envs, scenario, **kwargs)
            v = self.venv
            self.problem = v.problem
            self._actions: np.ndarray | None = None
            self._t_start = time.time()  # Monitor's "t": seconds since the start, at each episode's end
            super().__init__(v.num_envs, v.single_observation_space, v.single_action_space)

        def reset(self):
            seed = self._seeds[0] if self._seeds else None
            opts = self._options[0] if self._options else {}
            obs, info = self.venv.reset(seed=seed, options=opts or None)
            self.reset_infos = [{} for _ in range(self.num_envs)]
            self._reset_seeds()
            self._reset_options()
            return obs

        def step_async(self, actions: np.ndarray) -> None:
            self._actions = actions

        def step_wait(self):
            v = self.venv
            done, final_obs, dicts = v._step(self._actions)
            n = self.num_envs
            infos = dicts if dicts is not None else [_NO_INFO] * n
            dones = np.zeros(n, dtype=bool)
            if done is not None:
                dones[done] = True
                now = time.time()
                # the period just played; the episode's length is period + 1
                ret, length = v._final_returns.tolist(), (v._period[done] + 1).tolist()
                elapsed = round(now - self._t_start, 6)
                for j, i in enumerate(done.tolist()):
                    info = {} if dicts is None else infos[i]
                    info["terminal_observation"] = final_obs[j]
                    info["TimeLimit.truncated"] = True
                    info["episode"] = {"r": ret[j], "l": length[j], "t": elapsed}
                    infos[i] = info
            return v._obs.copy(), v._rewards.copy(), dones, infos

        def close(self) -> None:
            self.venv.close()

        @property
        def reward(self) -> Reward:
            """The underlying :class:`VectorInventoryEnv`'s reward (settable; applies from the next episodes)."""
            return self.venv.reward

        @reward.setter
        def reward(self, value: Reward) -> None:
            self.venv.reward = value

        def _indices(self, indices) -> list[int]:
            if indices is None:
                return list(range(self.num_envs))
            if isinstance(indices, int):
                return [indices]
            return list(indices)

        def get_attr(self, attr_name: str, indices=None) -> list[Any]:
            value = getattr(self.venv, attr_name)
            return [value for _ in self._indices(indices)]

        def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
            setattr(self.venv, attr_name, value)

        def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
            result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
            return [result for _ in self._indices(indices)]

        def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices=None) -> list[bool]:
            return [False for _ in self._indices(indices)]

        def seed(self, seed: int | None = None) -> Sequence[int | None]:
            if seed is None:
                seed = int(np.random.randint(0, np.iinfo(np.uint32).max, dtype=np.uint32))
            self._seeds = [seed + i for i in range(self.num_envs)]
            return self._seeds

        def get_images(self):  # pragma: no cover
            raise NotImplementedError("InventoryVecEnv does not render")


def make_vec(scenario: str | Scenario = "lost-sales-L2-p9", num_envs: int | None = None, **kwargs: Any):
    """The SB3 vectorised env for a scenario (``InventoryVecEnv``)."""
    if _SB3VecEnv is None:  # pragma: no cover
        raise ImportError("stable-baselines3 is needed for InventoryVecEnv")
    return InventoryVecEnv(scenario, num_envs, **kwargs)


__all__ = ["EpisodeBatch", "InventoryVecEnv", "ProblemEpisodes", "VectorInventoryEnv", "make_vec"]
