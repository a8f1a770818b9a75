"""The one batched engine: N slots of SKU-episodes stepped through the kernel, owning their state, parameters,
demand and observation buffers. :class:`envs.batch.BatchSim` (evaluation), :class:`envs.vector.VectorInventoryEnv`
and :class:`envs.sb3_vec.InventoryVecEnv` are front ends over its public API; the single env keeps its own
one-call fast path (``kernel.step_observe``) on the same kernel, parameters, episodes and initial-state rule.
May import numpy, numba and the rest of envs below it (kernel, episodes, problem).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import kernel
from .episodes import Episodes, initial_states
from .problem import Problem
from .scenario import ScenarioError


class Engine:
    """``start(slots, episodes)``, ``step(request)``, ``observe()``; per-slot clocks ``t`` and ``lengths``.

    Public buffers (read them, do not resize them): ``sku`` [N], ``state`` [N, ``Problem.state_width``]
    (columns ``kernel.NET, RECV, PIPE..``, then on hand by age for perishable stock), ``leads`` [T, N] (random
    lead times: the lead time of each period's order, from the episodes), ``params`` [N, kernel.N_PARAMS], ``t`` [N] (the slot's period),
    ``period`` [N] (the period each slot played at the last step), ``lengths`` [N], ``info`` [N, kernel.N_INFO]
    (the last period's figures), ``request`` [N] (the last requests),
    ``obs`` [N, obs_dim] float32 (the last observation written by :meth:`observe`).

    Per-slot tables a front end fills when it starts episodes (the engine only reads them): ``table``
    [N, actions] (the action table rows of the slots' SKUs, for :meth:`step_actions`), ``reward_offset``,
    ``reward_scale`` [N] (the slots' :class:`envs.reward.Reward` terms); ``rewards`` [N] and ``returns`` [N]
    (running episode returns, reset to 0 by :meth:`start`) are written by every step.
    """

    def __init__(self, problem: Problem, n: int, action_table: bool = True):
        pb = problem
        self.problem = pb
        self.n = n
        self.window = W = pb.window
        self.backorder = pb.scenario.backorder
        self.reorder = pb.reorder  # step_actions: the table's reorder points -> units (kernel.reorder_requests)
        self.sku = np.zeros(n, dtype=np.int64)
        self.state = np.zeros((n, pb.state_width))
        self.params = np.zeros((n, kernel.N_PARAMS))
        self.t = np.zeros(n, dtype=np.int64)
        self.period = np.zeros(n, dtype=np.int64)
        self.lengths = np.ones(n, dtype=np.int64)
        self.info = np.zeros((n, kernel.N_INFO))
        self.request = np.zeros(n)
        self.table = np.zeros((n, pb.action_table.shape[1] if action_table else 0))  # BatchSim: requests only
        self.reward_offset = np.zeros(n)
        self.reward_scale = np.ones(n)
        self.rewards = np.zeros(n)
        self.returns = np.zeros(n)
        self.obs = np.zeros((n, pb.obs_dim), dtype=np.float32)
        self.demand = np.zeros((W + 1, n))
        self.cal_rows = np.zeros((W + 2, n), dtype=np.int64) if pb.n_calendar else None
        self.calendar = np.zeros((1, 0))
        self._shared = False  # demand (and calendar rows) are an Episodes' own arrays (see load)
        self._rows_buf = 1
        self._d = np.zeros(n)
        self._winbuf = np.zeros((W, n))
        self._all = np.arange(n)
        self._no_offset = np.zeros(n, dtype=np.int64)
        self._period_col = (pb.obs_dim - 1 - int(pb.with_lead) - int(pb.with_eoq) - int(pb.with_scale) - int(pb.with_order)
                            - 2 * int(pb.n_forecast > 0) - pb.n_age - int(pb.with_room))
        self._age_col = pb.obs_dim - pb.n_age - int(pb.with_room)  # perishable: the on_hand_age_* fields
        self._win = np.arange(W)[:, None]
        self._frac = np.zeros(n)  # observe's period column (t / length) for all slots, without temporaries
        self._with_period = pb.with_period
        self._obs_flags = (pb.n_calendar, 0.0, pb.with_period, pb.lead_norm, pb.with_lead, pb.n_pipe, pb.with_eoq,
                           pb.with_scale, pb.with_order, pb.n_lags, pb.n_forecast, pb.forecast[1] if pb.forecast else 0.0)
        self._fc_buf = np.zeros(2 * n if pb.n_forecast else 0)  # kernel.observe's scratch (forecast fields)
        # the operations of kernel.step_ext (random lead times, perishable stock): None on the plain path
        # shared limits: slot j is in warehouse j // n_skus (the SKUs of a data set, or each group of n_skus
        # consecutive episodes of a multi-SKU parametric scenario, stepped in lockstep)
        self.group = np.arange(n, dtype=np.int64) // max(pb.n_skus, 1)
        self._sums = np.zeros((int(self.group[-1]) + 1 if n else 1, 3))
        self._room = np.zeros(n) if pb.with_room else None  # the observation's shared_room (last column)
        self._ops = (pb.crossing, pb.lifo, pb.age_off, self.group, pb.shared, self._sums) if pb.ops else None
        if pb.ops:  # (bound per instance: the plain path keeps its one call, without a test)
            self.step = self._step_ops
            self.step_actions = self._step_actions_ops
        self.leads = np.zeros((1 if pb.lead_dist is not None else 0, n))  # [T, N] lead times drawn per period
        self._lead = np.zeros(n if pb.lead_dist is not None else 0)

    # ------------------------------------------------------------------ episodes
    def load(self, episodes: Episodes, initial_state: str = "steady", rng: np.random.Generator | None = None) -> None:
        """Start `episodes` in every slot (N = episodes.n), sharing their demand array instead of copying it
        (the engine never writes demand rows of a running episode; a later :meth:`start` copies first)."""
        if episodes.n != self.n:
            raise ValueError(f"{episodes.n} episodes for {self.n} slots")
        self.demand = episodes.demand
        self._rows_buf = episodes.periods
        if self._lead.size:
            self.leads = self._episode_leads(episodes)
        if self.cal_rows is not None:
            self.cal_rows = episodes.calendar_rows()
        self._shared = True
        self._set(self._all, episodes, initial_state, rng)

    def start(self, slots: np.ndarray, episodes: Episodes, initial_state: str = "steady",
              rng: np.random.Generator | None = None) -> None:
        """New episodes in `slots` (episode j in slot slots[j]): SKU, demand, clock, parameters, initial state
        (``episodes.state`` if given, else the initial-state rule drawn from `rng`)."""
        if self._shared:
            self.demand = self.demand.copy()
            self.leads = self.leads.copy()
            if self.cal_rows is not None:
                self.cal_rows = self.cal_rows.copy()
            self._shared = False
        W = self.window
        T = episodes.periods
        if T > self._rows_buf:
            self._grow(T)
        rows = T + W
        if self.every(slots):  # every slot in order: whole rows
            self.demand[:rows] = episodes.demand
            self.demand[rows:] = 0.0
            if self._lead.size:
                self.leads[:T] = self._episode_leads(episodes)
            if self.cal_rows is not None:
                self.cal_rows[:rows + 1] = episodes.calendar_rows()
        else:
            self.demand[:rows, slots] = episodes.demand
            self.demand[rows:, slots] = 0.0
            if self._lead.size:
                self.leads[:T, slots] = self._episode_leads(episodes)
            if self.cal_rows is not None:
                self.cal_rows[:rows + 1, slots] = episodes.calendar_rows()
        self._set(slots, episodes, initial_state, rng)

    def _set(self, slots, episodes: Episodes, initial_state: str, rng) -> None:
        if (episodes.lengths < 1).any():
            raise ScenarioError("an episode with no periods to replay")
        self.calendar = episodes.calendar
        self.sku[slots] = episodes.sku
        self.gather(self.params, slots, self.problem.params, episodes.sku)
        self.lengths[slots] = episodes.lengths
        self.t[slots] = 0
        self.returns[slots] = 0.0
        if episodes.state is not None:
            self.state[slots] = episodes.state
        else:
            self.state[slots] = initial_states(initial_state, self.params[slots], self.state.shape[1], rng,
                                               self.problem.n_age)

    @staticmethod
    def _episode_leads(episodes: Episodes) -> np.ndarray:
        if episodes.leads is None:
            raise ScenarioError("the problem has random lead times but the episodes carry none (build them with "
                                "envs.episodes.make_episodes on this problem)")
        return episodes.leads

    def every(self, slots: np.ndarray) -> bool:
        """`slots` is every slot, in order (a reset of all slots)."""
        return slots.size == self.n and bool((slots == self._all).all())

    def gather(self, dst: np.ndarray, slots: np.ndarray, table: np.ndarray, sku: np.ndarray) -> None:
        """dst[slots] = table[sku] (per-SKU rows into per-slot rows; no temporary when every slot restarts)."""
        if self.every(slots):
            np.take(table, sku, axis=0, out=dst)
        else:
            dst[slots] = table[sku]

    def _grow(self, T: int) -> None:
        W = self.window
        d = np.zeros((W + T, self.n))
        d[:self.demand.shape[0]] = self.demand
        self.demand = d
        if self.cal_rows is not None:
            c = np.zeros((W + T + 1, self.n), dtype=np.int64)
            c[:self.cal_rows.shape[0]] = self.cal_rows
            self.cal_rows = c
        if self._lead.size:
            lt = np.zeros((T, self.n))
            lt[:self.leads.shape[0]] = self.leads
            self.leads = lt
        self._rows_buf = T

    # ------------------------------------------------------------------ dynamics
    def step(self, request: np.ndarray, order_up_to: bool = False) -> int:
        """One period for every slot: `request` [N] = units to order (or target inventory positions), then
        the rewards and every clock advance. Returns the number of slots whose episode ended (t reached its
        length); the period's figures are in :attr:`info`, the rewards in :attr:`rewards`."""
        return _step(self.state, self.params, request, self.demand, self.window, self.t, self.period, self.lengths,
                     self.backorder, order_up_to, self.info, self._d, self.reward_offset, self.reward_scale,
                     self.rewards, self.returns)

    def step_actions(self, actions: np.ndarray, order_up_to: bool = False) -> int:
        """:meth:`step` for discrete actions [N] int: request = table[slot, action] (written to :attr:`request`;
        with action mode reorder_point the table holds reorder points s and the request is then the units of the
        (s, s + lot) rule, ``kernel.reorder_requests``) in the same pass; a ValueError names the valid range when
        an action is outside it (nothing is stepped)."""
        ended = _step_actions(self.state, self.params, self.request, self.table, actions, self.demand, self.window,
                              self.t, self.period, self.lengths, self.backorder, order_up_to, self.info, self._d,
                              self.reward_offset, self.reward_scale, self.rewards, self.returns, self.reorder)
        if ended < 0:
            raise ValueError(f"actions must be in 0..{self.table.shape[1] - 1}")
        return ended

    def _step_ops(self, request: np.ndarray, order_up_to: bool = False) -> int:
        """:meth:`step` through ``kernel.step_ext`` (``Problem.ops``; bound as the instance's ``step``)."""
        return _step_ext(self.state, self.params, request, self.demand, self.window, self.t, self.period,
                         self.lengths, self.backorder, order_up_to, self.info, self._d, self.reward_offset,
                         self.reward_scale, self.rewards, self.returns, self.leads, self._lead, *self._ops)

    def _step_actions_ops(self, actions: np.ndarray, order_up_to: bool = False) -> int:
        """:meth:`step_actions` through ``kernel.step_ext`` (bound as the instance's ``step_actions``)."""
        if _requests_and_demand(self.table, actions, self.demand, self.window, self.t, self.request, self._d):
            raise ValueError(f"actions must be in 0..{self.table.shape[1] - 1}")
        if self.reorder:
            kernel.reorder_requests(self.state, self.params, self.request)
        return self._step_ops(self.request, order_up_to)

    def inventory_position(self, out: np.ndarray | None = None) -> np.ndarray:
        out = np.empty(self.n) if out is None else out
        kernel.inventory_position(self.state, self.params, out)
        return out

    def observe(self, slots: np.ndarray | None = None) -> np.ndarray:
        """Write the observation of every slot (or of `slots`) at its own period into :attr:`obs` (the layout
        of ``Problem.obs_fields``) and return :attr:`obs`."""
        W = self.window
        # the period column is per slot: the kernel writes a placeholder (so that the lead time lands in the
        # last column), overwritten below; lengths >= 1 (checked when episodes start)
        if slots is None:  # every step: no temporaries beyond the calendar rows
            t, obs = self.t, self.obs
            if W:
                _window(self.demand, t, W, self._winbuf)
            cal_offset = self.cal_rows[W + t, self._all] if self.cal_rows is not None else self._no_offset
            kernel.observe(self.state, self.params, self._winbuf if W else self.demand, 0, W, self.calendar,
                           cal_offset, *self._obs_flags, self._fc_buf, obs)
            if self._with_period:
                obs[:, self._period_col] = np.divide(t, self.lengths, out=self._frac)
            if self._ops is not None:
                self._observe_ops(obs)
            return obs
        t = self.t[slots]
        trace = self.demand[t[None, :] + self._win, slots[None, :]] if W else self.demand
        cal_offset = self.cal_rows[W + t, slots] if self.cal_rows is not None else self._no_offset[:t.size]
        obs = np.empty((slots.size, self.problem.obs_dim), dtype=np.float32)
        kernel.observe(self.state[slots], self.params[slots], trace, 0, W, self.calendar, cal_offset,
                       *self._obs_flags, self._fc_buf, obs)
        if self._with_period:
            obs[:, self._period_col] = t / self.lengths[slots]
        self.obs[slots] = obs
        if self._ops is not None:
            if self.problem.n_age:
                kernel.observe_ages(self.state[slots], self.params[slots], self.problem.n_age, self.problem.age_off,
                                    self._age_col, obs)
                self.obs[slots] = obs
            if self._room is not None:
                kernel.shared_room(self.state, self.params, self.group, self.problem.shared[0], self._sums,
                                   self._room)
                self.obs[slots, -1] = self._room[slots]
        return self.obs

    def _observe_ops(self, obs: np.ndarray) -> None:
        """The observation fields of ``Problem.ops`` (after :func:`kernel.observe`'s): stock by age, shared room."""
        pb = self.problem
        if pb.n_age:
            kernel.observe_ages(self.state, self.params, pb.n_age, pb.age_off, self._age_col, obs)
        if self._room is not None:
            kernel.shared_room(self.state, self.params, self.group, pb.shared[0], self._sums, self._room)
            obs[:, -1] = self._room


@njit(cache=True)
def _step(state: np.ndarray, params: np.ndarray, request: np.ndarray, demand: np.ndarray, W: int, t: np.ndarray,
          period: np.ndarray, lengths: np.ndarray, backorder: bool, order_up_to: bool, info: np.ndarray,
          d: np.ndarray, offset: np.ndarray, scale: np.ndarray, rewards: np.ndarray, returns: np.ndarray) -> int:
    """One engine step in one dispatch: d[i] = demand[W + t[i], i] (each slot's own period; 0 beyond the
    buffer); kernel.step; then the reward as the single env computes it (:class:`envs.reward.Reward`:
    -(cost - offset) * scale), the returns and the clocks (period = t, t + 1). Returns the number of slots whose
    episode ended. (Written as calls of small loops: numba compiles that faster than one loop with branches.)"""
    _demand_now(demand, W, t, d)
    kernel.step(state, params, request, d, backorder, order_up_to, info)
    return _rewards_and_clocks(info, offset, scale, rewards, returns, t, period, lengths)


@njit(cache=True)
def _step_ext(state: np.ndarray, params: np.ndarray, request: np.ndarray, demand: np.ndarray, W: int, t: np.ndarray,
              period: np.ndarray, lengths: np.ndarray, backorder: bool, order_up_to: bool, info: np.ndarray,
              d: np.ndarray, offset: np.ndarray, scale: np.ndarray, rewards: np.ndarray, returns: np.ndarray,
              leads: np.ndarray, lead: np.ndarray, crossing: bool, lifo: bool, age_off: int, group: np.ndarray,
              shared: np.ndarray, sums: np.ndarray) -> int:
    """:func:`_step` through ``kernel.step_ext`` (random lead times: lead[i] = leads[t[i], i], each slot's own
    period; the longest lead time beyond the buffer)."""
    _demand_now(demand, W, t, d)
    rows = leads.shape[0]
    for i in range(lead.shape[0]):
        lead[i] = leads[t[i], i] if t[i] < rows else params[i, kernel.LEAD]
    kernel.step_ext(state, params, request, d, lead, backorder, order_up_to, crossing, lifo, age_off, info, group,
                    shared, sums)
    return _rewards_and_clocks(info, offset, scale, rewards, returns, t, period, lengths)


@njit(cache=True)
def _step_actions(state: np.ndarray, params: np.ndarray, request: np.ndarray, table: np.ndarray,
                  actions: np.ndarray, demand: np.ndarray, W: int, t: np.ndarray, period: np.ndarray,
                  lengths: np.ndarray, backorder: bool, order_up_to: bool, info: np.ndarray, d: np.ndarray,
                  offset: np.ndarray, scale: np.ndarray, rewards: np.ndarray, returns: np.ndarray,
                  reorder: bool) -> int:
    """:func:`_step` after request[i] = table[i, actions[i]] (reorder: then kernel.reorder_requests); -1 (nothing
    done) for an action outside the table."""
    if _requests_and_demand(table, actions, demand, W, t, request, d):
        return -1
    if reorder:
        kernel.reorder_requests(state, params, request)
    kernel.step(state, params, request, d, backorder, order_up_to, info)
    return _rewards_and_clocks(info, offset, scale, rewards, returns, t, period, lengths)


@njit(cache=True)
def _requests_and_demand(table: np.ndarray, actions: np.ndarray, demand: np.ndarray, W: int, t: np.ndarray,
                         request: np.ndarray, d: np.ndarray) -> int:
    """request[i] = table[i, actions[i]] and d[i] = demand[W + t[i], i] in one pass; returns the number of
    actions outside 0..table.shape[1] - 1 (their requests are not written)."""
    bad = 0
    m = table.shape[1]
    rows = demand.shape[0]
    for i in range(t.shape[0]):
        a = actions[i]
        if a < 0 or a >= m:
            bad += 1
        else:
            request[i] = table[i, a]
        r = W + t[i]
        d[i] = demand[r, i] if r < rows else 0.0
    return bad


@njit(cache=True)
def _demand_now(demand: np.ndarray, W: int, t: np.ndarray, d: np.ndarray) -> None:
    rows = demand.shape[0]
    for i in range(t.shape[0]):
        r = W + t[i]
        d[i] = demand[r, i] if r < rows else 0.0


@njit(cache=True)
def _rewards_and_clocks(info: np.ndarray, offset: np.ndarray, scale: np.ndarray, rewards: np.ndarray,
                        returns: np.ndarray, t: np.ndarray, period: np.ndarray, lengths: np.ndarray) -> int:
    ended = 0
    for i in range(t.shape[0]):
        rw = -(info[i, kernel.I_COST] - offset[i]) * scale[i]
        rewards[i] = rw
        returns[i] += rw
        period[i] = t[i]
        t[i] += 1
        if t[i] >= lengths[i]:
            ended += 1
    return ended


@njit(cache=True)
def _window(demand: np.ndarray, t: np.ndarray, W: int, out: np.ndarray) -> None:
    """out[k, i] = demand[t[i] + k, i]: the demand window of every slot at its own period (row by row of out)."""
    for k in range(W):
        for i in range(t.shape[0]):
            out[k, i] = demand[t[i] + k, i]
