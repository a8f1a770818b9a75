"""The observation layout (names, meanings, order of the fields) and building observations from named state.

``envs.problem.Problem`` lays out the simulator's observation with :func:`obs_layout` (``envs.kernel.observe``
writes it); the deploy job rebuilds the same vector from a state file with :func:`build_observations`.
Quantities are divided by the SKU's demand scale.
"""

from __future__ import annotations

import numpy as np

OBS_LAYOUT_VERSION = 1
"""Version of the layout of :func:`obs_layout`: on_hand, pipeline_1..n, inventory_position, demand_lag_W..1,
calendar_*, period, lead_time, eoq_cover, log_scale (``observation.log_scale`` only), order_cover
(``observation.order_cover`` only), forecast_lead and forecast_error (``observation.forecast`` only), then
on_hand_age_0..m-1 (perishable stock only) and shared_room (shared capacity only): a layout without them is
unchanged. Exported policies record it; bump it with any change to the fields, their order
or their meaning."""

CALENDAR_FIELDS = ("calendar_month_sin", "calendar_month_cos", "calendar_dow_sin", "calendar_dow_cos")
"""Calendar field names, in the column order of :func:`invcore.calendar.calendar_features`."""
KNOWN_FIELDS = ("on_hand", "pipeline_<k>", "inventory_position", "on_hand_age_<a>", "demand_lag_<k>",
                *CALENDAR_FIELDS, "period", "lead_time", "eoq_cover", "log_scale", "order_cover", "forecast_lead",
                "forecast_error", "shared_room")
FORECAST_FIELDS = ("forecast_lead", "forecast_error")
"""The forecast fields (``observation.forecast``), in layout order: see :func:`ses_window`."""
SMALLEST_REQUEST = 1.0
"""The request (units) whose order is the ``order_cover`` field's smallest order: one unit (packs are whole)."""
EOQ_COVER_CAP = 1000.0
"""Upper bound of the ``eoq_cover`` field (periods of demand per economic lot; reached when h = 0)."""


def eoq_cover(order_cost, holding_cost, scale) -> np.ndarray:
    """Economic order quantity sqrt(2 K scale / h) in demand scales, i.e. sqrt(2 K / (h scale)): the periods of
    mean demand an economic lot covers; 0 when K = 0, :data:`EOQ_COVER_CAP` when h = 0 (and at most that).
    ``envs.kernel.observe`` computes the same number per SKU (parity-tested)."""
    K = np.asarray(order_cost, dtype=np.float64)
    h = np.asarray(holding_cost, dtype=np.float64)
    s = np.asarray(scale, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.sqrt(2.0 * K / (h * s))
    v = np.where(h > 0, np.minimum(v, EOQ_COVER_CAP), EOQ_COVER_CAP)
    return np.where(K > 0, v, 0.0)


def log_scale(scale) -> np.ndarray:
    """The ``log_scale`` field: the natural log of the SKU's demand scale (units per period; > 0, checked where
    scales are set). ``envs.kernel.observe`` computes the same number per SKU (parity-tested)."""
    return np.log(np.asarray(scale, dtype=np.float64))


def order_cover(moq, pack_size, scale) -> np.ndarray:
    """The ``order_cover`` field: log(1 + the smallest order the SKU can place / its demand scale), the smallest
    order being what the order rules make of a request of one unit (:data:`SMALLEST_REQUEST`, no cap:
    :func:`invcore.constraints.constrain`, i.e. the MOQ rounded up to the pack size, at least one pack), so
    log(1 + the periods of mean demand it covers). What tells a SKU whose every order is a year of stock from one
    that can order a unit. ``envs.kernel.observe`` computes the same number per SKU with the kernel's
    ``constrain`` (parity-tested)."""
    from .constraints import constrain  # (constraints imports this module)

    pack = np.asarray(pack_size, dtype=np.float64)
    smallest = constrain(np.full(pack.shape, SMALLEST_REQUEST), 0.0, moq, pack, np.inf, np.inf)
    return np.log1p(smallest / np.asarray(scale, dtype=np.float64))


def ses_window(window: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Simple exponential smoothing over each row of `window` [..., F] (demand, oldest first; a strided view
    will do): the level starts at
    the row's mean, l_0 = (y_1 + ... + y_F) / F (summed left to right), and follows the recurrence of
    ``baselines.forecast_engines`` (SES), l_k = l_{k-1} + alpha (y_k - l_{k-1}), k = 1..F. Returns (l_F, the
    mean absolute one-step error (|y_1 - l_0| + ... + |y_F - l_{F-1}|) / F), float64 [...] each.

    The observation's ``forecast_lead`` = l_F (L + 1) / scale (the forecast of demand over the lead time + 1,
    with the SKU's own lead time L) and ``forecast_error`` = that error / scale. A pure function of the last F
    demands, so ``envs.kernel.observe`` (its numba twin, scalar by scalar in the same order),
    ``agents.twin.exogenous_features`` and ``deploy.recommend`` compute the same float64 numbers."""
    y = np.asarray(window, dtype=np.float64)
    F = y.shape[-1]
    total = np.zeros(y.shape[:-1])
    for k in range(F):
        total = total + y[..., k]
    level = total / F
    err = np.zeros(y.shape[:-1])
    for k in range(F):
        e = y[..., k] - level
        err = err + np.abs(e)
        level = level + alpha * e
    return level, err / F


def forecast_fields(recent: np.ndarray, scale: np.ndarray, lead: np.ndarray, window: int, alpha: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(``forecast_lead``, ``forecast_error``) float64 [N] from the recent demand [N, >= 0 columns] (column k-1 =
    k periods ago, NaN where not known): the last `window` periods, the missing ones counted as the SKU's demand
    scale (as the env pads the history before a SKU's first period of data), through :func:`ses_window`."""
    n = recent.shape[0]
    y = np.empty((n, window))
    k = min(window, recent.shape[1])
    y[:, window - k:] = recent[:, :k][:, ::-1]
    y[:, :window - k] = np.asarray(scale, dtype=np.float64)[:, None]
    y = np.where(np.isnan(y), np.asarray(scale, dtype=np.float64)[:, None], y)
    level, err = ses_window(y, alpha)
    return level * (np.asarray(lead, dtype=np.float64) + 1.0) / scale, err / scale


def obs_layout(n_pipe: int, window: int, n_calendar: int, with_period: bool,
               with_lead: bool, with_eoq: bool = False, n_age: int = 0,
               with_room: bool = False, forecast: tuple[int, float] | None = None,
               with_scale: bool = False, with_order: bool = False) -> list[tuple[str, str]]:
    """(name, meaning) of every observation field, in order. n_pipe: pipeline slots (largest lead time - 1);
    window: demand periods; n_calendar: 0, 2 (month) or 4 (month and weekday); forecast: (F, alpha) of the
    forecast fields (after eoq_cover and log_scale; None: none); with_scale: the log_scale field (after
    eoq_cover); with_order: the order_cover field (after log_scale); n_age: perishable stock's longest shelf life (on hand by age, after them; 0 otherwise);
    with_room: a shared capacity (its free share, last)."""
    f = [("on_hand", "net inventory after this period's arrival / scale (on hand; < 0 = backorders)")]
    f += [(f"pipeline_{k + 1}", f"units arriving in {k + 1} period(s) / scale") for k in range(n_pipe)]
    f += [("inventory_position", "net inventory + outstanding orders / scale")]
    f += [(f"demand_lag_{window - k}", f"demand {window - k} period(s) ago / scale") for k in range(window)]
    if n_calendar:
        f += [("calendar_month_sin", "sin(2 pi month/12)"), ("calendar_month_cos", "cos(2 pi month/12)")]
        if n_calendar == 4:
            f += [("calendar_dow_sin", "sin(2 pi weekday/7)"), ("calendar_dow_cos", "cos(2 pi weekday/7)")]
    if with_period:
        f += [("period", "period index / episode length")]
    if with_lead:
        f += [("lead_time", "lead time / largest lead time")]
    if with_eoq:
        f += [("eoq_cover", "economic order quantity sqrt(2 K scale / h) / scale (periods of demand per lot)")]
    if with_scale:
        f += [("log_scale", "natural log of the demand scale (mean demand per period, units)")]
    if with_order:
        f += [("order_cover", "log(1 + the smallest order (MOQ rounded up to the pack size) / scale)")]
    if forecast is not None:
        F, a = forecast
        f += [("forecast_lead", f"SES level (alpha {a:g}) over the last {F} demands x (L + 1) / scale: the forecast "
                                "of demand over the lead time + 1"),
              ("forecast_error", f"mean absolute one-step SES error over the last {F} demands / scale")]
    f += [(f"on_hand_age_{a}", f"units on hand of age {a} period(s) (0: arrived this period) / scale")
          for a in range(n_age)]
    if with_room:
        f += [("shared_room", "free shared capacity of the warehouse / capacity: (capacity - sum of volume x "
                              "inventory position) / capacity, before ordering")]
    return f


def known_field(name: str) -> bool:
    """Whether layout version :data:`OBS_LAYOUT_VERSION` defines a field of this name."""
    if name in ("on_hand", "inventory_position", "period", "lead_time", "eoq_cover", "log_scale", "order_cover", "shared_room",
                *FORECAST_FIELDS) \
            or name.startswith("calendar_"):
        return name in KNOWN_FIELDS
    if name.startswith("on_hand_age_"):
        return name[12:].isdigit()
    for prefix in ("pipeline_", "demand_lag_"):
        if name.startswith(prefix):
            k = name[len(prefix):]
            return k.isdigit() and int(k) >= 1
    return False


def inventory_position(net: np.ndarray, pipeline: np.ndarray) -> np.ndarray:
    """Net inventory + all units in the pipeline [N, P], summed slot by slot as the kernel does."""
    ip = np.array(net, dtype=np.float64, copy=True)
    for k in range(pipeline.shape[1]):
        ip += pipeline[:, k]
    return ip


def build_observations(names: list[str], *, net: np.ndarray, pipeline: np.ndarray, lags: np.ndarray,
                       scale: np.ndarray, lead: np.ndarray, lead_norm: float, calendar: np.ndarray | None = None,
                       extra: dict[str, np.ndarray] | None = None, order_cost: np.ndarray | None = None,
                       holding_cost: np.ndarray | None = None, recent: np.ndarray | None = None,
                       forecast: tuple[int, float] | None = None, moq: np.ndarray | None = None,
                       pack_size: np.ndarray | None = None) -> np.ndarray:
    """The env's observation (``envs.kernel.observe``) for N SKUs at the decision point, float32 [N, D].

    net: net inventory after this period's arrival; pipeline [N, P]: column k-1 = units arriving in k
    periods; lags [N, W]: column k-1 = demand k periods ago; calendar [N, 2 or 4] calendar features of the
    period being planned; order_cost, holding_cost: per SKU (``eoq_cover``); moq, pack_size: per SKU (``order_cover``); recent [N, periods] (column k-1 =
    demand k periods ago, NaN where not known) and forecast = (F, alpha): the forecast fields
    (:func:`forecast_fields`); extra: any other field by name (``period``)."""
    n = net.shape[0]
    obs = np.empty((n, len(names)), dtype=np.float32)
    ip = inventory_position(net, pipeline)
    fc = None
    if any(name in FORECAST_FIELDS for name in names):
        fc = dict(zip(FORECAST_FIELDS, forecast_fields(recent, scale, lead, *forecast)))
    cal_cols = {name: k for k, name in enumerate(CALENDAR_FIELDS)}
    for j, name in enumerate(names):
        if name == "on_hand":
            obs[:, j] = net / scale
        elif name == "inventory_position":
            obs[:, j] = ip / scale
        elif name.startswith("pipeline_"):
            obs[:, j] = pipeline[:, int(name[9:]) - 1] / scale
        elif name.startswith("demand_lag_"):
            obs[:, j] = lags[:, int(name[11:]) - 1] / scale
        elif name in cal_cols:
            obs[:, j] = calendar[:, cal_cols[name]]
        elif name.startswith("on_hand_age_"):  # perishable: extra[name] = units of that age (raw)
            obs[:, j] = extra[name] / scale
        elif name == "lead_time":
            obs[:, j] = lead * lead_norm
        elif name == "eoq_cover":
            obs[:, j] = eoq_cover(order_cost, holding_cost, scale)
        elif name == "log_scale":
            obs[:, j] = log_scale(scale)
        elif name == "order_cover":
            obs[:, j] = order_cover(moq, pack_size, scale)
        elif fc is not None and name in fc:
            obs[:, j] = fc[name]
        else:
            obs[:, j] = extra[name]
    return obs
