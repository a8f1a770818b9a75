"""The single-SKU Gymnasium environment ``Inventory-v0``."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from . import kernel
from .demand import RANDOM_START_WINDOWS
from .episodes import initial_states, make_episodes
from .problem import Problem
from .reward import Reward
from .scenario import Scenario, ScenarioError

_NO_CALENDAR = np.zeros((1, 0), dtype=np.float64)
# step() unpacks the kernel's info row by position into a dict literal (faster than dict(zip(...)))
assert kernel.INFO_KEYS == ("demand", "sales", "lost", "backordered", "received", "order", "on_hand",
                       "inventory_position", "cost", "holding_cost", "shortage_cost", "ordering_cost",
                       "purchase_cost", "outdated", "outdating_cost", "cut"), "update InventoryEnv.step to the new info columns"


class InventoryEnv(gym.Env):
    """Periodic-review inventory control of one SKU, driven by parametric or historical demand.

    ## Description
    Each period the agent decides how much to order. Orders arrive after a lead time of L whole periods;
    demand is served from stock; unmet demand is lost (``mode: lost_sales``) or backordered
    (``mode: backorder``, served first when stock arrives). The scenario (``envs.scenario``) fixes the demand
    source, costs, lead time, constraints and the observation/action settings. An env built on a data set or a
    multi-SKU parametric demand draws one SKU per episode, so one policy learns across SKUs.

    ## Period timing (exactly; the convention of the lost-sales literature, Zipkin 2008)
    At the start of period t:
    1. the order placed in period t - L arrives and is added to on-hand stock (with L = 0 the order placed
       now arrives before this period's demand);
    2. the agent observes the state and chooses an order; the env maps the action to units (or, in
       order-up-to mode, to a target inventory position minus the current one), then applies, in this
       order: at least ``moq`` if positive, round up to a multiple of ``pack_size``, at most ``max_order``
       and at most ``capacity`` - inventory position (both rounded down to the pack size; if that is below
       ``moq`` nothing is ordered). ``info["order"]`` reports the result;
    3. demand d_t is served from on-hand stock; the rest is lost, or backordered;
    4. the period's cost is charged (below), then period t + 1 starts.

    ## Random lead times and perishable stock (``envs.kernel.step_ext``)
    - ``lead_time_dist: [p0, p1, ...]`` (or an item table's ``lead_time_min`` / ``lead_time_max``, uniform):
      each order draws its own lead time l with P(l) = p_l (drawn with the episode's demand, so every policy
      meets the same lead times); L_max is the longest possible one. With ``crossing: false`` (default) an
      order that would arrive before units ordered earlier arrives with the latest of them instead (orders
      never overtake); ``crossing: true`` lets each order keep its own draw.
    - ``shelf_life: m``: stock is kept by age (periods since arrival; the initial stock is of age 0). Demand
      takes the oldest units first (``issuing: fifo``) or the newest (``lifo``); after holding is charged,
      the units of age m - 1 still on hand expire (``info["outdated"]``, ``outdating_cost`` each), the others
      age by one period and this period's arrival enters at age 0 (after any backorders are filled from it).
    - ``shared: {capacity, budget}``: limits shared by the SKUs of a warehouse (sum of volume x inventory
      position after ordering; sum of unit cost x order per period). When the orders (after step 2's rules)
      exceed one, every order of the warehouse is cut by the same factor, rounded down to its pack and dropped
      below its moq (``envs.kernel.shared_cut``; ``info["cut"]`` = units removed). The warehouse of the
      vector env and of evaluation is each group of n_skus slots (a data set's catalogue); this single env
      steps one SKU, which is then its own warehouse.

    ## Costs (per period, in the scenario's money units)
    ``h * on_hand_end + p * lost`` (lost sales) or ``h * on_hand_end + b * backorders_end`` (backorder),
    ``+ K * [order > 0] + c * order (+ outdating_cost * outdated units)``, where h = ``holding_cost`` (per unit left at the end of the period),
    p or b = ``shortage_cost`` (per lost unit, or per backordered unit per period), K = ``order_cost`` (per
    order), c = ``unit_cost`` (per unit ordered). Per-SKU values come from the item table when one is given.

    ## Rewards
    ``reward = -(cost - offset[sku]) * scale[sku]`` (:class:`envs.reward.Reward`; from the scenario's
    ``reward_offset`` and ``reward_scale`` unless ``env.unwrapped.reward`` is set, e.g. to an agent's per-SKU
    normalisation; a new reward applies from the next ``reset``); ``info["cost"]`` is always the unscaled cost.

    ## Action Space
    ``action.mode``:
    - ``units`` (default): ``Discrete(n)``, index i orders ``i * step`` units (``i * step * scale`` rounded
      when ``action.relative``). The ``lost-sales-L*-p*`` scenarios use n = 21, step = 1: index i = i units.
    - ``order_up_to``: ``Discrete(n)``, index i raises the inventory position to ``i * step`` (times the
      scale when relative): the order is ``max(0, target - inventory position)``.
    - ``continuous``: ``Box(-1, 1, (1,))``, a maps to ``round((a + 1) / 2 * (n - 1) * step)`` units.
    - ``reorder_point``: ``Discrete(n)``, index i sets the reorder point ``s = i * step`` (times the scale when
      relative); when the inventory position IP <= s the order is ``s + lot - IP`` (up to S = s + lot), else
      nothing, with ``lot = max(eoq_cover, 1) * scale`` (the economic order quantity sqrt(2 K scale / h), at least
      one period of demand; see ``eoq_cover`` below): an (s, S) rule with the lot fixed at the EOQ, s chosen
      every period, so orders come in economic lots and a constant action is already a sensible policy.
    ``info["requested"]`` is what the action asked before the order rules (MOQ, pack, caps): units, or the target
    position (order_up_to); with reorder_point the units of the rule (0 above s).

    ## Observation Space
    A flat float32 vector; quantities are divided by the SKU's demand scale (mean demand per period of the
    training window; the mean of the distribution for parametric demand), so one policy can serve SKUs of any
    volume. With W = ``observation.demand_window`` and L_max the largest lead time:

    | index | meaning | range |
    |---|---|---|
    | 0 | net inventory after this period's arrival (on hand; negative = backorders) / scale | [0, inf) lost sales; (-inf, inf) backorder |
    | 1 .. L_max-1 | units arriving in 1 .. L_max-1 periods / scale (0 beyond the SKU's own L) | [0, inf) |
    | L_max | inventory position = net inventory + outstanding orders / scale | as index 0 |
    | next W | demand 1 .. W periods ago, oldest first / scale | [0, inf) |
    | next 2 or 4 | calendar (if dates): sin, cos of month of year; sin, cos of weekday (daily data) | [-1, 1] |
    | next 1 | period index / episode length (if ``observation.period``) | [0, 1] |
    | next 1 | lead time / L_max (if ``observation.lead_time``; "auto" = when SKUs' lead times differ) | [0, 1] |
    | next 1 | ``eoq_cover``: economic lot sqrt(2 K scale / h) / scale, periods of demand per lot (if ``observation.eoq``; "auto" = when some K > 0; 1000 when h = 0) | [0, 1000] |
    | next 1 | ``log_scale``: natural log of the SKU's demand scale (mean demand per period, units; if ``observation.log_scale``): what tells slow SKUs, whose integer orders are several demand scales, from fast ones | (-inf, inf) |
    | next 1 | ``order_cover``: log(1 + the smallest order / scale), the smallest order = the MOQ rounded up to the pack size, at least one pack (if ``observation.order_cover``): what tells a SKU whose every order is a year of demand from one that can order a unit | [0, inf) |
    | next 1 | ``forecast_lead``: simple exponential smoothing (alpha = ``observation.forecast_alpha``, level started at the window's mean) over the last F = ``observation.forecast_window`` demands, level x (L + 1) / scale: the forecast of demand over the SKU's lead time + 1 (if ``observation.forecast``) | [0, inf) |
    | next 1 | ``forecast_error``: mean absolute one-step error of that smoothing over the F demands / scale (if ``observation.forecast``) | [0, inf) |
    | next m_max | perishable stock only: units on hand of age 0 .. m_max-1 / scale (0 beyond the SKU's own m) | [0, inf) |
    | last | shared capacity only: the warehouse's free capacity / capacity before ordering (``shared_room``) | (-inf, 1] |

    ``env.unwrapped.obs_fields`` lists the layout of an instance. The raw state is in ``info``. The demand lags
    and the forecast fields read the episode's demand only (the history before period 0 is the data before the
    episode, or the SKU's scale before its first period of data; parametric: drawn from the demand model), so
    ``deploy.recommend`` rebuilds them from ``--history`` (``invcore.observation.forecast_fields``).

    ## Starting State
    ``initial_state``: ``random`` (on hand ~ U{0..ceil(3 scale)}, each pipeline slot ~ Poisson(scale)),
    ``steady`` (2 periods of mean demand on hand, one per pipeline slot) or ``empty``. Overridable per
    episode with ``reset(options={"initial_state": ...})``.

    ## Episode End
    Never terminated (no terminal state). Truncated after ``episode_length`` periods, or at the end of the
    data window: training windows are replayed from a random start (or block-bootstrapped), val/test windows
    from their start to their end. ``reset(options=...)`` accepts ``sku`` (index or name), ``window``
    (train/val/test/fit), ``start`` (period index), ``periods`` and ``initial_state``.

    ## Info (every step, for that period; raw units)
    ``demand, sales, lost, backordered (at end), received, order (after constraints), requested,
    on_hand (end), inventory_position (end), cost, holding_cost, shortage_cost, ordering_cost,
    purchase_cost, period, sku, on_order`` and, with random lead times, perishable stock or shared limits,
    ``outdated, outdating_cost, cut`` (the L orders outstanding at the end of the period, arriving at the
    start of periods t+1 .. t+L, this period's order last; on_hand - backordered + sum(on_order) =
    inventory_position). Not to be confused with ``pipeline`` of the reset info / :attr:`raw_state` and the
    observation's ``pipeline_k``: the L - 1 slots at the decision point, before this period's order (the slot
    arriving now is already in on hand).

    ## Arguments
    ``gymnasium.make("Inventory-v0", scenario="lost-sales-L2-p9", **overrides)``: ``scenario`` is a built-in
    name, a YAML path or an ``envs.Scenario``; keyword overrides replace any scenario field (nested ones as
    ``demand={"mean": 6}`` or ``**{"demand.mean": 6}``); ``reward=`` an :class:`envs.reward.Reward` replaces the
    scenario's reward.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, scenario: str | Scenario = "lost-sales-L2-p9", render_mode: str | None = None,
                 reward: Reward | None = None, **overrides: Any):
        self.problem = Problem(scenario, **overrides)
        self.scenario = self.problem.scenario
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ScenarioError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        pb = self.problem
        self.action_space = pb.action_space
        self.observation_space = pb.observation_space
        self.obs_fields = pb.obs_fields
        self._state = np.zeros((1, pb.state_width), dtype=np.float64)
        self._params = np.zeros((1, kernel.N_PARAMS), dtype=np.float64)
        self._request = np.zeros(1, dtype=np.float64)
        self._info = np.zeros((1, kernel.N_INFO), dtype=np.float64)
        self._obs = np.zeros((1, pb.obs_dim), dtype=np.float32)
        self._cal_offset = np.full(1, pb.window, dtype=np.int64)  # calendar rows are aligned with the trace
        self._backorder = self.scenario.backorder
        self._order_up_to = pb.order_up_to
        self._reorder = pb.reorder
        self._continuous = self.scenario.action.mode == "continuous"
        self.reward = reward if reward is not None else Reward.from_scenario(self.scenario)
        self._reward_offset, self._reward_scale = 0.0, 1.0
        self._data = pb.source.replays_windows
        self._window_name = self.scenario.data.window if self._data else "train"
        self._sku_pool = pb.source.skus_in(self._window_name)
        if self._sku_pool.size == 0:
            raise ScenarioError(f"no SKU has data in the {self._window_name} window")
        self._table = pb.action_table
        self._sku = 0
        self._t = 0
        self._periods = 0
        self._trace = np.zeros((1, 1))
        self._calendar = _NO_CALENDAR
        self._last_info: dict[str, Any] | None = None
        # views and constants of the hot path, made once
        self._obs0, self._info0 = self._obs[0], self._info[0]
        self._info_plain = self._info[0, :kernel.I_OUTDATED]  # the info columns of a problem without operations
        self._pipe = self._state[0, kernel.RECV:kernel.RECV + 1]
        self._cfg = np.zeros(kernel.N_CFG + 2, dtype=np.float64)  # + kernel.observe's scratch fc_buf (one SKU)
        self._fc_buf = self._cfg[kernel.N_CFG:]
        self._cfg[[kernel.C_WINDOW, kernel.C_BACKORDER, kernel.C_ORDER_UP_TO, kernel.C_N_CALENDAR, kernel.C_WITH_PERIOD, kernel.C_LEAD_NORM,
                   kernel.C_WITH_LEAD, kernel.C_N_PIPE, kernel.C_WITH_EOQ, kernel.C_WITH_SCALE, kernel.C_WITH_ORDER, kernel.C_N_LAGS, kernel.C_N_FORECAST,
                   kernel.C_FORECAST_ALPHA]] = (
            pb.window, self._backorder, self._order_up_to, pb.n_calendar, pb.with_period, pb.lead_norm, pb.with_lead,
            pb.n_pipe, pb.with_eoq, pb.with_scale, pb.with_order, pb.n_lags, pb.n_forecast, pb.forecast[1] if pb.forecast else 0.0)
        # random lead times / perishable stock / shared limits: kernel.step_ext then kernel.observe (two calls)
        self._ops = pb.ops
        if pb.ops:
            self.step = self._step_ops
        self._leads = np.zeros(0)
        self._lead_now = np.zeros(1 if pb.lead_dist is not None else 0)
        self._group = np.zeros(1, dtype=np.int64)  # shared limits: the one SKU of an episode is its warehouse
        self._sums = np.zeros((1, 3))
        self._room = np.zeros(1)

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        pb = self.problem
        rng = self.np_random
        if "sku" in options:
            sku = pb.sku_index(options["sku"])
        elif self._sku_pool.size == 1:
            sku = int(self._sku_pool[0])
        else:
            sku = int(self._sku_pool[rng.integers(self._sku_pool.size)])
        window = options.get("window", self._window_name)
        periods = options.get("periods")
        if periods is None and not (self._data and window not in RANDOM_START_WINDOWS):
            periods = self.scenario.episode_length  # val/test windows: replayed to their end
        eps = make_episodes(pb, window, rng=rng, skus=[sku], periods=None if periods is None else int(periods),
                            start=options.get("start"), with_past=False)
        length = int(eps.lengths[0])
        if length < 1:
            raise ScenarioError(f"SKU {pb.sku_name(sku)!r} has no demand to replay in the {window} window")
        self._sku = sku
        self._sku_name = pb.sku_name(sku)
        self._lead = int(pb.params[sku, kernel.LEAD])
        # units arriving in 1..L periods: the slot received next period (RECV) then the pipeline (PIPE..),
        # side by side in the state row
        self._pipe = self._state[0, kernel.RECV:kernel.RECV + self._lead]
        rows = pb.window + length
        self._trace = np.ascontiguousarray(eps.demand[:rows, :1])
        if pb.n_calendar:  # the calendar rows of the trace (and the period after it), aligned with it
            self._calendar = np.ascontiguousarray(eps.calendar[eps.calendar_rows()[:rows + 1, 0]])
        else:
            self._calendar = _NO_CALENDAR
        self._periods = length
        if pb.lead_dist is not None:
            self._leads = np.ascontiguousarray(eps.leads[:, 0])
        self._cfg[kernel.C_PERIODS] = length
        self._t = 0
        self._params[0] = pb.params[sku]
        self._reward_offset = float(self._reward_tables[0][sku])
        self._reward_scale = float(self._reward_tables[1][sku])
        kind = options.get("initial_state", self.scenario.initial_state)
        self._state[0] = initial_states(kind, self._params, self._state.shape[1], rng, pb.n_age)[0]
        self._last_info = None
        self._observe()
        if pb.with_room:
            self._obs0[-1] = self._room_now()
        info = self.raw_state
        info["scale"] = float(self._params[0, kernel.SCALE])
        return self._obs[0].copy(), info

    def step(self, action):
        t = self._t
        if t >= self._periods:
            raise RuntimeError("step() called after the episode ended; call reset()")
        if self._continuous:
            requested = self.problem.request(action, self._sku)
        else:
            requested = float(self._table[self._sku, action])
        self._request[0] = requested
        if self._reorder:  # the reorder point s -> the units of the (s, s + lot) rule
            kernel.reorder_requests(self._state, self._params, self._request)
            requested = float(self._request[0])
        kernel.step_observe(self._state, self._params, self._request, self._trace, t, self._calendar, self._cal_offset,
                            self._cfg, self._obs, self._info)
        self._t = t + 1
        # (the dict of _result without the operations' columns, written out: the plain path's cost per step)
        (demand, sales, lost, backordered, received, order, on_hand, position, cost, holding, shortage, ordering,
         purchase) = self._info_plain.tolist()
        info = {"demand": demand, "sales": sales, "lost": lost, "backordered": backordered, "received": received,
                "order": order, "on_hand": on_hand, "inventory_position": position, "cost": cost,
                "holding_cost": holding, "shortage_cost": shortage, "ordering_cost": ordering,
                "purchase_cost": purchase, "requested": requested, "period": t, "sku": self._sku_name,
                "on_order": self._pipe.copy()}
        self._last_info = info
        reward = -(cost - self._reward_offset) * self._reward_scale
        return self._obs0.copy(), reward, False, self._t >= self._periods, info

    def _step_ops(self, action):
        """:meth:`step` of a problem with random lead times, perishable stock or shared limits (``Problem.ops``;
        bound as the instance's ``step``): kernel.step_ext, then kernel.observe."""
        t = self._t
        if t >= self._periods:
            raise RuntimeError("step() called after the episode ended; call reset()")
        if self._continuous:
            requested = self.problem.request(action, self._sku)
        else:
            requested = float(self._table[self._sku, action])
        self._request[0] = requested
        if self._reorder:  # the reorder point s -> the units of the (s, s + lot) rule
            kernel.reorder_requests(self._state, self._params, self._request)
            requested = float(self._request[0])
        if self._lead_now.size:
            self._lead_now[0] = self._leads[t]
        pb = self.problem
        kernel.step_ext(self._state, self._params, self._request, self._trace[t + pb.window], self._lead_now,
                        self._backorder, self._order_up_to, pb.crossing, pb.lifo, pb.age_off, self._info,
                        self._group, pb.shared, self._sums)
        self._t = t + 1
        self._observe()
        if pb.with_room:
            self._obs0[-1] = self._room_now()
        return self._result(requested, t)

    def _result(self, requested: float, t: int):
        (demand, sales, lost, backordered, received, order, on_hand, position, cost, holding, shortage, ordering,
         purchase, outdated, outdating, cut) = self._info0.tolist()
        info = {"demand": demand, "sales": sales, "lost": lost, "backordered": backordered, "received": received,
                "order": order, "on_hand": on_hand, "inventory_position": position, "cost": cost,
                "holding_cost": holding, "shortage_cost": shortage, "ordering_cost": ordering,
                "purchase_cost": purchase, "outdated": outdated, "outdating_cost": outdating, "cut": cut,
                "requested": requested, "period": t, "sku": self._sku_name, "on_order": self._pipe.copy()}
        self._last_info = info
        reward = -(cost - self._reward_offset) * self._reward_scale
        return self._obs0.copy(), reward, False, self._t >= self._periods, info

    def render(self):
        if self.render_mode != "ansi":
            return None
        i = self._last_info
        if i is None:
            return f"period 0 sku {self.problem.sku_name(self._sku)}: on hand {self._state[0, kernel.NET]:g}"
        return (f"period {i['period']} sku {i['sku']}: demand {i['demand']:g} sales {i['sales']:g} "
                f"lost {i['lost']:g} backordered {i['backordered']:g} order {i['order']:g} "
                f"on hand {i['on_hand']:g} IP {i['inventory_position']:g} cost {i['cost']:.2f}")

    # ------------------------------------------------------------------ helpers
    @property
    def reward(self) -> Reward:
        """The reward function (:class:`envs.reward.Reward`); set it to change the reward from the next reset."""
        return self._reward

    @reward.setter
    def reward(self, value: Reward) -> None:
        self._reward_tables = value.tables(self.problem.n_skus)
        self._reward = value

    def _observe(self) -> None:
        pb = self.problem
        kernel.observe(self._state, self._params, self._trace, self._t, pb.window, self._calendar, self._cal_offset,
                  pb.n_calendar, self._t / self._periods, pb.with_period, pb.lead_norm, pb.with_lead, pb.n_pipe,
                  pb.with_eoq, pb.with_scale, pb.with_order, pb.n_lags, pb.n_forecast, pb.forecast[1] if pb.forecast else 0.0, self._fc_buf,
                  self._obs)
        if pb.n_age:  # perishable: the on_hand_age_* fields, after lead_time
            kernel.observe_ages(self._state, self._params, pb.n_age, pb.age_off,
                                pb.obs_dim - pb.n_age - int(pb.with_room), self._obs)

    def _room_now(self) -> float:
        kernel.shared_room(self._state, self._params, self._group, self.problem.shared[0], self._sums, self._room)
        return self._room[0]

    @property
    def sku(self) -> int:
        return self._sku

    @property
    def inventory_position(self) -> float:
        L = int(self._params[0, kernel.LEAD])
        return float(self._state[0, kernel.NET] + self._state[0, kernel.PIPE:kernel.PIPE + L].sum())

    @property
    def raw_state(self) -> dict[str, Any]:
        """Net inventory after arrival and the pipeline at the current decision point (raw units): ``pipeline``
        has L - 1 slots, slot k arriving in k + 1 periods (the observation's ``pipeline_k``)."""
        L = int(self._params[0, kernel.LEAD])
        out = {"on_hand": float(self._state[0, kernel.NET]),
               "pipeline": self._state[0, kernel.PIPE:kernel.PIPE + max(L - 1, 0)].copy(),
               "inventory_position": self.inventory_position, "period": self._t,
               "sku": self.problem.sku_name(self._sku)}
        m = int(self._params[0, kernel.SHELF])
        if m:  # perishable: on hand by age (index a: arrived a periods ago)
            out["on_hand_by_age"] = self._state[0, self.problem.age_off:self.problem.age_off + m].copy()
        return out
