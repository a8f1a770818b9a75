"""A resolved problem: scenario + demand source + per-SKU parameter table + action mapping + observation layout.

Everything that simulates (the Gymnasium env, batched rollouts, evaluation) builds one :class:`Problem` and
shares its numpy tables with the kernel, so the single env and batched simulators cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from invcore.constraints import action_table, continuous_max
from invcore.observation import obs_layout

from . import kernel
from .demand import DemandSource, make_source
from .scenario import Scenario, ScenarioError, resolve_scenario

_ITEM_TO_PARAM = {
    "lead_time": kernel.LEAD, "holding_cost": kernel.HOLD, "shortage_cost": kernel.SHORT, "order_cost": kernel.ORDER_COST,
    "unit_cost": kernel.UNIT_COST, "moq": kernel.MOQ, "pack_size": kernel.PACK, "shelf_life": kernel.SHELF,
    "outdating_cost": kernel.OUTDATE, "volume": kernel.VOLUME,
}


@dataclass(frozen=True)
class ObsField:
    index: int
    name: str
    meaning: str


class Problem:
    """Tables derived once from a scenario. ``params`` is [n_skus, kernel.N_PARAMS]."""

    def __init__(self, scenario: Scenario | str = "lost-sales-L2-p9", *, demand_data=None, **overrides):
        """`demand_data`: a data scenario's :class:`envs.data.DemandData` already in memory (the scenario's
        ``data.path`` is then not read; see :class:`envs.demand.HistoricalDemand`)."""
        sc = resolve_scenario(scenario, **overrides)
        self.scenario = sc
        self.source: DemandSource = make_source(sc, demand_data)
        n = self.source.n_skus
        p = np.empty((n, kernel.N_PARAMS), dtype=np.float64)
        p[:, kernel.LEAD] = sc.lead_time
        p[:, kernel.HOLD] = sc.holding_cost
        p[:, kernel.SHORT] = sc.shortage_cost
        p[:, kernel.ORDER_COST] = sc.order_cost
        p[:, kernel.UNIT_COST] = sc.unit_cost
        p[:, kernel.MOQ] = sc.moq
        p[:, kernel.PACK] = sc.pack_size
        p[:, kernel.MAX_ORDER] = math.inf if sc.max_order is None else sc.max_order
        p[:, kernel.CAPACITY] = math.inf if sc.capacity is None else sc.capacity
        p[:, kernel.SCALE] = self.source.scales
        p[:, kernel.SHELF] = 0 if sc.shelf_life is None else sc.shelf_life
        p[:, kernel.OUTDATE] = sc.outdating_cost
        p[:, kernel.VOLUME] = 1.0
        items = getattr(self.source, "items", None)
        if items is not None:
            for name, col in _ITEM_TO_PARAM.items():
                v = items.values.get(name)
                if v is not None:
                    given = ~np.isnan(v)
                    p[given, col] = v[given]
        if sc.holding_rate is not None:
            self._holding_from_rate(p, sc.holding_rate, items)
        self.lead_dist = self._lead_distributions(p, sc, items)
        self._check_sku_params(p)
        p[:, kernel.PACK] = np.maximum(p[:, kernel.PACK], 1.0)
        self.params = p
        self.n_skus = n
        self.max_lead = int(p[:, kernel.LEAD].max())
        self.n_pipe = max(self.max_lead - 1, 0)
        self.n_age = int(p[:, kernel.SHELF].max())
        """Perishable stock: the longest shelf life (columns of on hand by age in the state and observation)."""
        self.age_off = kernel.PIPE + max(self.max_lead, 1)
        self.state_width = self.age_off + self.n_age
        self.crossing = sc.crossing
        self.lifo = sc.issuing == "lifo"
        sh = sc.shared
        self.shared = np.array([math.inf if sh is None or sh.capacity is None else sh.capacity,
                                math.inf if sh is None or sh.budget is None else sh.budget])
        """(capacity, budget) shared by the SKUs of a warehouse (inf: none); see ``kernel.shared_cut``."""
        if self.shared[1] < math.inf and not (p[:, kernel.UNIT_COST] > 0).any():
            raise ScenarioError("field 'shared.budget' limits the money spent on orders but no SKU has a unit cost; "
                                "give unit_cost or an item-table unit_cost column")
        if np.isfinite(self.shared).any() and not (p[:, kernel.VOLUME] > 0).all():
            i = int(np.flatnonzero(~(p[:, kernel.VOLUME] > 0))[0])
            raise ScenarioError(f"SKU {self.source.sku_name(i)!r} has volume {p[i, kernel.VOLUME]:g}; expected a "
                                "volume > 0 per unit (the item table's volume column)")
        self.with_room = bool(np.isfinite(self.shared[0]))
        """The observation ends with ``shared_room``: the warehouse's free capacity / capacity."""
        self.ops = self.lead_dist is not None or self.n_age > 0 or bool(np.isfinite(self.shared).any())
        """Whether the problem needs ``kernel.step_ext`` (random lead times, perishable stock, shared limits)."""
        o = sc.observation
        self.n_lags = o.demand_window
        """The observation's demand lags (``observation.demand_window``)."""
        self.forecast = (o.forecast_window, float(o.forecast_alpha)) if o.forecast else None
        """(F, alpha) of the observation's forecast fields (``observation.forecast``), or None."""
        self.n_forecast = o.forecast_window if o.forecast else 0
        self.window = max(self.n_lags, self.n_forecast)
        """Periods of demand history before each episode (trace rows before period 0): what the demand lags and
        the forecast fields read."""
        want_cal = self.source.has_calendar if o.calendar == "auto" else bool(o.calendar)
        if want_cal and not self.source.has_calendar:
            raise ScenarioError("observation.calendar is true but the demand has no dates "
                                "(give demand.start_date or use a data file)")
        self.n_calendar = 0
        if want_cal:
            self.n_calendar = 4 if self.source.daily_calendar else 2
        leads = p[:, kernel.LEAD]
        self.with_lead = bool(leads.min() != leads.max()) if o.lead_time == "auto" else bool(o.lead_time)
        self.lead_norm = 1.0 / max(self.max_lead, 1)
        self.with_period = o.period
        self.with_eoq = bool((p[:, kernel.ORDER_COST] > 0).any()) if o.eoq == "auto" else bool(o.eoq)
        self.with_scale = bool(o.log_scale)
        self.with_order = bool(o.order_cover)
        self.obs_fields = self._layout()
        self.obs_dim = len(self.obs_fields)
        a = sc.action
        self.action_table = action_table(a.mode, a.n, a.step, a.relative, p[:, kernel.SCALE])
        self.order_up_to = a.mode == "order_up_to"
        self.reorder = a.mode == "reorder_point"
        """The action table holds reorder points s: ``kernel.reorder_requests`` turns them into units (of the
        (s, s + lot) rule) before each step, and the kernel steps with units (``order_up_to`` false)."""
        if a.mode == "continuous":
            self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
            self._cont_max = continuous_max(a.n, a.step, a.relative, p[:, kernel.SCALE])
        else:
            self.action_space = gym.spaces.Discrete(a.n)
        low = np.full(self.obs_dim, -np.inf if sc.backorder else 0.0, dtype=np.float32)
        for f in self.obs_fields:
            if f.name.startswith("calendar"):
                low[f.index] = -1.0
            elif f.name == "shared_room":  # (a start above the capacity)
                low[f.index] = -np.inf
        high = np.full(self.obs_dim, np.inf, dtype=np.float32)
        for f in self.obs_fields:
            if f.name.startswith("calendar") or f.name in ("period", "lead_time", "shared_room"):
                high[f.index] = 1.0
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)

    def _lead_distributions(self, p: np.ndarray, sc: Scenario, items) -> np.ndarray | None:
        """Random lead times: P(lead time = l) per SKU [n, L_max + 1] (None: every lead time is fixed), from the
        scenario's ``lead_time_dist`` and an item table's ``lead_time_min`` / ``lead_time_max`` (uniform on the
        range; a SKU with neither keeps its fixed lead time as a one-point distribution). Sets ``LEAD`` to each
        SKU's longest lead time (the pipeline's length)."""
        from .scenario import MAX_LEAD_TIME

        n = p.shape[0]
        lo = hi = None
        if items is not None:
            lo, hi = items.values.get("lead_time_min"), items.values.get("lead_time_max")
        if sc.lead_time_dist is None and lo is None and hi is None:
            return None
        given = np.zeros(n, bool)
        if lo is not None or hi is not None:
            lo = np.full(n, np.nan) if lo is None else lo
            hi = np.full(n, np.nan) if hi is None else hi
            half = np.flatnonzero(np.isnan(lo) != np.isnan(hi))
            if half.size:
                i = int(half[0])
                raise ScenarioError(f"SKU {self.source.sku_name(i)!r} has only one of lead_time_min / lead_time_max in "
                                    "the item table; expected both (a uniform lead time on that range) or neither")
            given = ~np.isnan(lo)
            wrong = np.flatnonzero(given & ((lo > hi) | (hi > MAX_LEAD_TIME)))
            if wrong.size:
                i = int(wrong[0])
                raise ScenarioError(f"SKU {self.source.sku_name(i)!r} has lead_time_min {lo[i]:g} and lead_time_max "
                                    f"{hi[i]:g}; expected lead_time_min <= lead_time_max <= {MAX_LEAD_TIME}")
        fixed = p[:, kernel.LEAD].copy()
        if np.any(fixed[~given] > MAX_LEAD_TIME):
            return None  # (_check_sku_params names the SKU)
        base = None if sc.lead_time_dist is None else np.asarray(sc.lead_time_dist, dtype=np.float64)
        top = int(max(fixed.max(initial=0), 0 if base is None else base.size - 1,
                      hi[given].max(initial=0) if given.any() else 0))
        dist = np.zeros((n, top + 1))
        for i in range(n):
            if given[i]:
                dist[i, int(lo[i]):int(hi[i]) + 1] = 1.0 / (hi[i] - lo[i] + 1)
            elif base is not None and (items is None or items.values.get("lead_time") is None
                                       or np.isnan(items.values["lead_time"][i])):
                dist[i, :base.size] = base / base.sum()
            else:
                dist[i, int(fixed[i])] = 1.0
            p[i, kernel.LEAD] = int(np.flatnonzero(dist[i] > 0).max())
        return dist

    def _check_sku_params(self, p: np.ndarray) -> None:
        """Per-SKU limits an item table can break (the scenario's own values are checked with the scenario)."""
        from .scenario import MAX_LEAD_TIME

        long = np.flatnonzero(p[:, kernel.LEAD] > MAX_LEAD_TIME)
        if long.size:
            i = int(long[0])
            raise ScenarioError(f"SKU {self.source.sku_name(i)!r} has lead time {p[i, kernel.LEAD]:g}; expected at "
                                f"most {MAX_LEAD_TIME} periods (the pipeline is kept period by period)")
        never = np.flatnonzero(p[:, kernel.MOQ] > p[:, kernel.MAX_ORDER])
        if never.size:
            i = int(never[0])
            raise ScenarioError(f"SKU {self.source.sku_name(i)!r} has moq {p[i, kernel.MOQ]:g} above max_order "
                                f"{p[i, kernel.MAX_ORDER]:g} ({never.size} SKUs): it could never be ordered; expected "
                                "moq <= max_order")

    def _holding_from_rate(self, p: np.ndarray, rate: float, items) -> None:
        """holding cost = holding_rate x unit cost, per SKU (see ``Scenario.holding_rate``)."""
        if items is not None and items.values.get("holding_cost") is not None \
                and not np.isnan(items.values["holding_cost"]).all():
            raise ScenarioError("holding_rate is given and the item table has holding costs: give one of them "
                                "(holding_rate: holding cost = rate x unit cost)")
        zero = np.flatnonzero(~(p[:, kernel.UNIT_COST] > 0))
        if zero.size:
            raise ScenarioError(f"holding_rate {rate:g} needs a unit cost > 0 for every SKU; SKU "
                                f"{self.source.sku_name(int(zero[0]))!r} has unit cost "
                                f"{p[zero[0], kernel.UNIT_COST]:g} ({zero.size} SKUs without one); give "
                                "unit_cost or an item-table unit_cost column")
        p[:, kernel.HOLD] = rate * p[:, kernel.UNIT_COST]

    def subset(self, skus) -> Problem:
        """The problem restricted to the SKUs `skus` (sorted global indices of a data scenario; SKU j of the
        result is ``skus[j]``): their parameter and action-table rows, the source's :meth:`subset`, and the
        parent's observation layout, pipeline width and lead-time normalisation, so that every SKU is simulated
        and observed exactly as in the parent. Parametric sources draw all SKUs from one random stream, so they
        have no subset (ScenarioError)."""
        if not hasattr(self.source, "subset"):
            raise ScenarioError("only data scenarios can be split by SKU (parametric demand draws all SKUs from "
                                "one random stream)")
        skus = np.asarray(skus, dtype=np.int64)
        out = object.__new__(Problem)
        out.__dict__.update(self.__dict__)
        out.__dict__.pop("_training_episodes", None)  # baselines.tuning's cache of the parent's episodes
        out.source = self.source.subset(skus)
        out.params = self.params[skus].copy()
        out.n_skus = int(skus.shape[0])
        out.action_table = self.action_table[skus].copy()
        if self.lead_dist is not None:
            out.lead_dist = self.lead_dist[skus].copy()
        if hasattr(self, "_cont_max"):
            out._cont_max = self._cont_max[skus].copy()
        return out

    def without_shared(self) -> Problem:
        """The same problem with every SKU on its own (no shared capacity or budget): what per-SKU tuning
        simulates (its columns are candidates, not a warehouse)."""
        if not np.isfinite(self.shared).any():
            return self
        out = object.__new__(Problem)
        out.__dict__.update(self.__dict__)
        out.__dict__.pop("_training_episodes", None)
        out.shared = np.array([math.inf, math.inf])
        out.ops = self.lead_dist is not None or self.n_age > 0
        return out

    def _layout(self) -> list[ObsField]:
        """The observation layout (:func:`invcore.observation.obs_layout`, shared with the deploy side)."""
        pairs = obs_layout(self.n_pipe, self.n_lags, self.n_calendar, self.with_period, self.with_lead,
                           self.with_eoq, n_age=self.n_age, with_scale=self.with_scale, with_order=self.with_order, with_room=self.with_room, forecast=self.forecast)
        return [ObsField(i, name, meaning) for i, (name, meaning) in enumerate(pairs)]

    def request(self, action, sku: int) -> float:
        """Requested quantity (units, the target inventory position, or the reorder point s) for an action of
        SKU `sku`."""
        if self.scenario.action.mode == "continuous":
            a = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
            return float(np.rint((a + 1.0) * 0.5 * self._cont_max[sku]))
        return float(self.action_table[sku, int(action)])

    def sku_name(self, sku: int) -> str:
        return self.source.sku_name(sku)

    def sku_index(self, sku) -> int:
        if isinstance(sku, (int, np.integer)):
            if not 0 <= sku < self.n_skus:
                raise ScenarioError(f"SKU index {sku} out of range 0..{self.n_skus - 1}")
            return int(sku)
        i = self.source.sku_index(sku)
        if i is not None:
            return i
        raise ScenarioError(f"unknown SKU {sku!r}")
