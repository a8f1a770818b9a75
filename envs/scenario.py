"""Scenarios: the frozen parameters of one inventory problem.

A scenario is a demand source + costs + lead time + order constraints + episode length + observation and
action settings. It is a built-in name (see :func:`builtin_names`), a YAML file, or a :class:`Scenario`
built in Python; any field can be overridden (``resolve_scenario("lost-sales-L2-p9", lead_time=3,
**{"demand.mean": 6})``).

Built-ins
---------
``lost-sales-L{L}-p{p}``  L in 1..10, p in {4, 9, 19, 39}: Poisson(5) demand, h = 1, lost sales with penalty p,
                          K = c = 0 (Zipkin 2008's test bed). Action ``Discrete(21)``: index i = order i units.
``backorder-L{L}-b{b}``   the same with backorders at b per unit and period.
``random-lead-demo``      Poisson(5), lost sales p = 9, h = 1, lead time 1..4 periods (P = 0.1, 0.4, 0.3, 0.2), orders
                          do not cross.
``perishable-demo``       Poisson(5), lost sales p = 9, h = 1, lead time 1, shelf life 3 periods (FIFO), outdating
                          cost 4 per unit.
``shared-capacity-demo``  20 Poisson SKUs (means 1..20), lost sales p = 9, h = 1, lead time 2; each group of 20
                          episodes is one warehouse whose inventory positions may total 600 units.
``demo``                  four synthetic e-commerce SKUs (daily, weekly seasonality, trend, promotion spikes,
                          negative-binomial noise), lead time 3 days, order cost and purchase cost.

YAML layout (every key optional; unknown keys and wrong types are errors)::

    name: my-scenario
    mode: lost_sales            # or backorder
    lead_time: 2
    holding_cost: 1.0           # h, per unit on hand at the end of a period
    shortage_cost: 9.0          # p per lost unit (lost_sales) or b per backordered unit per period
    order_cost: 0.0             # K, per order placed
    unit_cost: 0.0              # c, per unit ordered (stock left at the end of an evaluation is credited at c)
    holding_rate: null          # or h = this fraction of c per period (per SKU, with item-table unit costs)
    moq: 0                      # minimum order quantity (an order is 0 or >= moq)
    pack_size: 1                # orders are rounded up to a multiple of this
    max_order: null             # cap on one order (units)
    capacity: null              # cap on inventory position after ordering (units)
    lead_time_dist: null        # or [p0, p1, ...]: P(lead time = 0, 1, ... periods), drawn per order
    crossing: false             # random lead times: may an order overtake an earlier one?
    shelf_life: null            # or m: units expire m periods after arrival (perishable stock)
    issuing: fifo               # perishable: fifo (oldest first) or lifo
    outdating_cost: 0.0         # perishable: cost per expired unit
    shared: {capacity: null, budget: null}  # warehouse limits across SKUs (volume x position; money per period)
    episode_length: 500
    initial_state: random       # random | steady | empty
    reward_scale: 1.0           # reward = -(cost - reward_offset) * reward_scale
    reward_offset: 0.0
    demand: {kind: poisson, mean: 5.0}
    data: {path: demand.csv.gz, items: items.csv, train: 0.7, test: 0.3}
    # an ERP export: data: {path: sales.csv, sep: ";", dayfirst: true, aggregate: sum,
    #                       columns: {date: Datum, sku: Artikel, demand: Menge}}
    # each SKU's demand scale: the mean of its train window (default) or of its last N periods of train + val:
    #   data: {..., window: fit, scale_window: fit, scale_periods: 12}
    observation: {demand_window: 0, period: false, calendar: auto, lead_time: auto, eoq: auto, log_scale: false,
                  order_cover: false,
                  forecast: false, forecast_window: 28, forecast_alpha: 0.2}
    action: {mode: units, n: 21, step: 1.0, relative: false}   # mode: units | order_up_to | continuous | reorder_point
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
import reprlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from invcore import yamlio

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxdict = 8
_REPR.maxlevel = 3


def _short(value: Any) -> str:
    """A bounded repr for messages (a huge or deeply nested value is cut)."""
    text = value if isinstance(value, BaseException) else None
    if text is not None:
        t = " ".join(str(text).split())
        return t if len(t) <= 300 else t[:300] + "..."
    return _REPR.repr(value)


class ScenarioError(ValueError):
    """A scenario name, file, field or value that cannot be used (message says which and why)."""


@dataclass(frozen=True)
class DemandConfig:
    """Parametric demand: a stationary distribution times optional seasonal, trend and promotion multipliers."""

    kind: Literal["poisson", "negative_binomial", "normal"] = "poisson"
    """Distribution of one period's demand (normal is truncated at 0 and rounded to units)."""
    mean: float | list[float] = 5.0
    """Mean demand per period; a list gives several SKUs (one is drawn per episode)."""
    std: float | list[float] | None = None
    """Standard deviation (negative_binomial: must exceed sqrt(mean); normal: required)."""
    weekly: list[float] | None = None
    """Seven multipliers applied by period index mod 7 (daily data); normalised to mean 1."""
    trend: float = 0.0
    """Relative growth per period: the mean in period t is multiplied by max(0, 1 + trend * t)."""
    promo_prob: float = 0.0
    """Probability that a period is a promotion period."""
    promo_lift: float = 1.0
    """Demand multiplier in a promotion period."""
    start_date: str | None = None
    """Calendar date of period 0 (daily periods); enables calendar features in the observation."""


@dataclass(frozen=True)
class DataConfig:
    """Historical demand: a long table date, sku, demand (+ an optional item table of per-SKU parameters)."""

    path: str = ""
    """Demand file (CSV, CSV.gz or Parquet); relative paths are relative to the scenario YAML file."""
    items: str | None = None
    """Item table with `sku` and any of lead_time, unit_cost, order_cost, holding_cost, shortage_cost, moq, pack_size."""
    item_columns: dict[str, str] | None = None
    """Map from parameter name to the item table's column name, e.g. {lead_time: lead_time_weeks}."""
    item_scale: dict[str, float] | None = None
    """Factor applied to an item parameter after loading, e.g. {holding_cost: 0.01923} for per-year to per-week."""
    ignore_unknown_items: bool = False
    """Item-table SKUs that are not in the demand file are ignored instead of being an error."""
    fill_missing: bool = False
    """Missing periods inside a SKU's date range are filled with zero demand instead of being an error."""
    columns: dict[str, str] | None = None
    """The demand file's names of the date, sku and demand columns, e.g. {date: Datum, sku: Artikel, demand: Menge}."""
    sep: str | None = None
    """CSV field separator (default: detected from the header line: ',', ';', tab or '|')."""
    decimal: str | None = None
    """Decimal mark '.' or ',' (default: ',' when the separator is not ',' and numbers like 12,5 occur)."""
    date_format: str | None = None
    """strftime format of the dates, e.g. '%d.%m.%Y' (default: YYYY-MM-DD)."""
    dayfirst: bool = False
    """Dates are day-first, e.g. 31/01/2016."""
    wide: bool = False
    """The demand file is wide: a date column, then one demand column per SKU (named by the SKU id)."""
    aggregate: Literal["sum"] | None = None
    """sum: several rows of one (date, sku) are summed into the period (order lines); else a duplicate is an error."""
    items_ignore: list[str] | None = None
    """Item-table columns to ignore by name (any other column that is not a parameter or mapped is an error)."""
    covariates: list[str] | dict[str, str] | None = None
    """Known covariate columns of the demand file for the learned forecasters, e.g. [price, snap, event], or with
    their kinds {price: level, snap: flag, event: flag} (level: a price, compared with its recent mean; flag:
    0/1, a count, or text that is 1 where not empty); a list infers the kinds (envs.data.load_covariates)."""
    train: float | str | None = None
    """Train window: a share of the date range (0..1) or a start date; the default split is 70 / 0 / 30 %."""
    val: float | str | None = None
    """Validation window (share or start date)."""
    test: float | str | None = None
    """Test window (share or start date)."""
    window: Literal["train", "val", "test", "fit"] = "train"
    """Window of the training episodes: train (default) and fit (train + val, what the classical rules are fitted
    on before the test window: for a final agent whose settings were chosen on the val window) start at random;
    val / test replay from the window start."""
    bootstrap_block: int = 0
    """If > 0, training episodes are a block bootstrap of the train window with blocks of this length."""
    min_periods: int = 1
    """SKUs with fewer periods than this in the window are left out of episodes."""
    scale_window: Literal["train", "fit"] = "train"
    """Window of each SKU's demand scale (the unit of the observation and of relative actions; the level of the
    history padding before a SKU's first period and of the steady / random initial states): train (default), or
    fit (train + val: for a final agent trained with data.window fit, whose inputs then have the scale of the
    demand the rules are fitted on; with data.window train, the training verdict on the val window says it is in
    sample)."""
    scale_periods: int = 0
    """If > 0, the scale is the mean of the last this many periods of the SKU's scale window (the whole window's
    mean where those are all 0; 1 where that is 0 too): a recent scale, for SKUs whose demand rises or falls."""
    scale_prior: float = 0.0
    """With scale_periods N > 0: c > 0 shrinks the recent mean towards the whole window's mean m with c
    pseudo-periods, scale = (sum of the last N periods + c m) / (N + c), so a SKU that sold nothing in its last N
    periods gets c m / (N + c) rather than m; 0 (default): the recent mean, or m where the last N are all 0."""


@dataclass(frozen=True)
class ObservationConfig:
    demand_window: int = 0
    """Number of recent periods of demand in the observation (oldest first)."""
    period: bool = False
    """Include the period index as a share of the episode length."""
    calendar: bool | Literal["auto"] = "auto"
    """Include calendar features (sin/cos of day of week and of month of year) when the periods have dates."""
    lead_time: bool | Literal["auto"] = "auto"
    """Include the SKU's lead time divided by the scenario's largest lead time ("auto": when lead times differ)."""
    eoq: bool | Literal["auto"] = "auto"
    """Include the SKU's economic lot in periods of demand, sqrt(2 K / (h scale)) ("auto": when an order cost K > 0):
    with a fixed order cost, what separates SKUs that should order in large lots from those that should not."""
    log_scale: bool = False
    """Include ``log_scale``, the natural log of the SKU's demand scale (mean demand per period, in units): the
    other fields are divided by the scale, so this is what tells a SKU selling 0.3 units a period (one unit = 3
    demand scales: integer orders matter) from one selling 300."""
    order_cover: bool = False
    """Include ``order_cover``, log(1 + the smallest order / the demand scale), the smallest order being the MOQ
    rounded up to the pack size (at least one pack): what tells a SKU whose every order is a year of demand (an
    order rounded up to a pack of 500 for a part selling 20 a year) from one that can order a unit."""
    forecast: bool = False
    """Include ``forecast_lead`` and ``forecast_error``: simple exponential smoothing (``forecast_alpha``) run over
    the last ``forecast_window`` demands gives the forecast of demand over the lead time + 1 and the mean absolute
    one-step error, each / the SKU's demand scale (:func:`invcore.observation.ses_window`)."""
    forecast_window: int = 28
    """Periods of demand the forecast fields are computed from (the episodes then carry max(demand_window,
    forecast_window) periods of history)."""
    forecast_alpha: float = 0.2
    """Smoothing constant of the forecast fields' exponential smoothing, in (0, 1]."""


@dataclass(frozen=True)
class ActionConfig:
    mode: Literal["units", "order_up_to", "continuous", "reorder_point"] = "units"
    """units: index i orders i*step; order_up_to: index i raises inventory position to i*step;
    continuous: a in [-1, 1] orders round((a + 1) / 2 * (n - 1) * step); reorder_point: index i sets the reorder
    point s = i*step and, when the inventory position IP <= s, orders up to S = s + lot (the units S - IP), with
    lot = max(eoq_cover, 1) x the SKU's demand scale, the economic order quantity sqrt(2 K scale / h) (at least one
    period of demand): an (s, S) rule whose lot is fixed at the EOQ and whose s the agent picks every period."""
    n: int = 21
    """Number of discrete actions (for continuous: the range is 0..(n-1)*step)."""
    step: float = 1.0
    """Units per action index (a multiple of the SKU's demand scale when relative)."""
    relative: bool = False
    """Step is a multiple of the SKU's demand scale (mean training demand) rather than absolute units."""


@dataclass(frozen=True)
class SharedConfig:
    """Limits shared by the SKUs of one warehouse (the SKUs stepped together: a data set's catalogue, or each
    group of ``n_skus`` consecutive episodes / vector-env slots of a multi-SKU parametric scenario)."""

    capacity: float | None = None
    """Cap on the warehouse's stock: sum over its SKUs of volume x inventory position after ordering (so the
    stock after arrivals can never exceed it); volume per unit from the item table's ``volume`` column (1 by
    default: units)."""
    budget: float | None = None
    """Cap on the money spent on the orders placed in one period: sum of unit cost x order (needs unit costs)."""


@dataclass(frozen=True)
class Scenario:
    """All parameters of an inventory problem. Costs are per unit and per period unless stated."""

    name: str = "custom"
    mode: Literal["lost_sales", "backorder"] = "lost_sales"
    lead_time: int = 2
    holding_cost: float = 1.0
    shortage_cost: float = 9.0
    order_cost: float = 0.0
    unit_cost: float = 0.0
    holding_rate: float | None = None
    """Holding cost per period as a fraction of each SKU's unit cost (e.g. 0.25 / 52 for 25 % a year on weekly
    periods): replaces ``holding_cost`` and an item table's holding costs; needs a unit cost > 0 for every SKU."""
    moq: int = 0
    pack_size: int = 1
    max_order: float | None = None
    capacity: float | None = None
    lead_time_dist: list[float] | None = None
    """Random lead times: the probability of a lead time of 0, 1, 2, ... periods (replaces ``lead_time``; an
    item table's ``lead_time_min`` / ``lead_time_max`` give a uniform range per SKU instead). Each order draws
    its own lead time."""
    crossing: bool = False
    """With random lead times: whether an order may arrive before an earlier one (false: it arrives with the
    latest outstanding units when its own lead time would make it overtake them)."""
    shelf_life: int | None = None
    """Perishable stock: units expire m periods after they arrive (m = 1: at the end of the period they arrive
    in); null: they never do. An item table's ``shelf_life`` column gives it per SKU."""
    issuing: Literal["fifo", "lifo"] = "fifo"
    """Perishable stock: demand takes the oldest units first (fifo) or the newest (lifo)."""
    outdating_cost: float = 0.0
    """Perishable stock: cost per unit that expires (on top of its holding cost in its last period)."""
    shared: SharedConfig | None = None
    """Shared capacity / budget across the SKUs of a warehouse; orders beyond them are cut proportionally
    (``envs.kernel.shared_cut``: after MOQ and pack rounding; ``info["cut"]`` reports the units removed)."""
    episode_length: int = 500
    initial_state: Literal["random", "steady", "empty"] = "random"
    reward_scale: float = 1.0
    reward_offset: float = 0.0
    demand: DemandConfig = field(default_factory=DemandConfig)
    data: DataConfig | None = None
    observation: ObservationConfig = field(default_factory=ObservationConfig)
    action: ActionConfig = field(default_factory=ActionConfig)
    source: str | None = None
    """Where the scenario came from (YAML path or built-in name); relative data paths resolve against it."""

    def __post_init__(self) -> None:
        _check_values(self)

    @property
    def backorder(self) -> bool:
        return self.mode == "backorder"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **overrides: Any) -> Scenario:
        """A copy with fields replaced; nested fields by dotted keys ("demand.mean") or dicts (demand={...})."""
        return _apply_overrides(self, overrides, where="override")


# --------------------------------------------------------------------------------------------------- built-ins

ZIPKIN_PENALTIES = (4, 9, 19, 39)
_LOST_RE = re.compile(r"^lost-sales-L(\d+)-p(\d+)$")
_BACK_RE = re.compile(r"^backorder-L(\d+)-b(\d+)$")


def builtin_names() -> list[str]:
    names = [f"lost-sales-L{L}-p{p}" for L in range(1, 11) for p in ZIPKIN_PENALTIES]
    names += [f"backorder-L{L}-b{b}" for L in range(1, 11) for b in ZIPKIN_PENALTIES]
    return names + ["demo", "random-lead-demo", "perishable-demo", "shared-capacity-demo"]


def builtin(name: str) -> Scenario:
    for regex, mode in ((_LOST_RE, "lost_sales"), (_BACK_RE, "backorder")):
        m = regex.match(name)
        if m:
            L, p = int(m.group(1)), int(m.group(2))
            if not 1 <= L <= 10 or p not in ZIPKIN_PENALTIES:
                break
            return Scenario(
                name=name, mode=mode, lead_time=L, holding_cost=1.0, shortage_cost=float(p),
                demand=DemandConfig(kind="poisson", mean=5.0), episode_length=500,
                action=ActionConfig(mode="units", n=21, step=1.0), source=name,
            )
    if name == "random-lead-demo":
        return Scenario(
            name=name, mode="lost_sales", lead_time_dist=[0.0, 0.1, 0.4, 0.3, 0.2], crossing=False,
            holding_cost=1.0, shortage_cost=9.0, demand=DemandConfig(kind="poisson", mean=5.0), episode_length=500,
            action=ActionConfig(mode="units", n=31, step=1.0), source=name,
        )
    if name == "perishable-demo":
        return Scenario(
            name=name, mode="lost_sales", lead_time=1, holding_cost=1.0, shortage_cost=9.0, shelf_life=3,
            issuing="fifo", outdating_cost=4.0, demand=DemandConfig(kind="poisson", mean=5.0), episode_length=500,
            action=ActionConfig(mode="units", n=21, step=1.0), source=name,
        )
    if name == "shared-capacity-demo":
        return Scenario(
            name=name, mode="lost_sales", lead_time=2, holding_cost=1.0, shortage_cost=9.0,
            demand=DemandConfig(kind="poisson", mean=[float(k) for k in range(1, 21)]), episode_length=300,
            shared=SharedConfig(capacity=600.0, budget=None), initial_state="steady",
            action=ActionConfig(mode="units", n=31, step=0.5, relative=True), source=name,
        )
    if name == "demo":
        return Scenario(
            name="demo", mode="lost_sales", lead_time=3, holding_cost=0.05, shortage_cost=2.0,
            order_cost=5.0, unit_cost=0.0, episode_length=364, initial_state="random",
            demand=DemandConfig(
                kind="negative_binomial", mean=[40.0, 12.0, 4.0, 1.0], std=[14.0, 6.0, 3.0, 1.5],
                weekly=[0.9, 0.85, 0.9, 0.95, 1.1, 1.25, 1.05], trend=0.0005,
                promo_prob=0.03, promo_lift=2.5, start_date="2024-01-01",
            ),
            observation=ObservationConfig(demand_window=7, calendar="auto"),
            action=ActionConfig(mode="units", n=21, step=0.5, relative=True),
            source="demo",
        )
    raise ScenarioError(
        f"unknown scenario {name!r}: expected a YAML file path or a built-in name "
        f"(lost-sales-L<1..10>-p<{'|'.join(map(str, ZIPKIN_PENALTIES))}>, backorder-L<1..10>-b<...>, demo, "
        "random-lead-demo, perishable-demo, shared-capacity-demo)"
    )


# --------------------------------------------------------------------------------------------------- loading

def load_yaml(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        raw = yamlio.load_file(path)
    except OSError as e:
        raise ScenarioError(f"cannot read scenario file {path}: {e.strerror or e}") from None
    except yamlio.YamlLimitError as e:
        raise ScenarioError(str(e)) from None
    except yaml.YAMLError as e:
        raise ScenarioError(f"{path}: not valid YAML: {_short(e)}") from None
    if raw is None:
        raise ScenarioError(f"{path}: the scenario file is empty")
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: expected a mapping of scenario fields, got {type(raw).__name__}")
    base = Scenario(name=path.stem, source=str(path))
    return _apply_overrides(base, raw, where=str(path), nested_as_replace=False)


def resolve_scenario(scenario: str | Path | Scenario = "lost-sales-L2-p9", **overrides: Any) -> Scenario:
    """Scenario from a built-in name, a YAML path or a Scenario, with field overrides applied."""
    if isinstance(scenario, Scenario):
        sc = scenario
    elif isinstance(scenario, (str, Path)):
        s = str(scenario)
        if s.endswith((".yaml", ".yml")) or Path(s).is_file():
            sc = load_yaml(s)
        else:
            sc = builtin(s)
    else:
        raise ScenarioError(f"scenario must be a name, a YAML path or a Scenario, got {type(scenario).__name__}")
    return _apply_overrides(sc, overrides, where="override") if overrides else sc


def parse_override(text: str) -> tuple[str, Any]:
    """'KEY=VALUE' from a command line; VALUE is parsed as YAML (numbers, lists, null, true...)."""
    if "=" not in text:
        raise ScenarioError(f"override {text!r}: expected KEY=VALUE, e.g. lead_time=3 or demand.mean=6")
    key, value = text.split("=", 1)
    try:
        return key.strip(), yamlio.safe_load(value, f"override {_short(key.strip())}")
    except yamlio.YamlLimitError as e:
        raise ScenarioError(str(e)) from None
    except yaml.YAMLError:
        return key.strip(), value


# --------------------------------------------------------------------------------------------------- validation

def _apply_overrides(obj: Any, overrides: dict[str, Any], where: str, nested_as_replace: bool = False) -> Any:
    """Return a copy of dataclass `obj` with `overrides` applied, checking names and types."""
    cls = type(obj)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    changes: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        head, _, rest = str(key).partition(".")
        if head not in fields:
            raise ScenarioError(
                f"{where}: unknown field {_short(_qual(cls, head))}; known fields: {', '.join(sorted(fields))}"
            )
        sub_cls = _dataclass_of(hints[head])
        if rest:
            if sub_cls is None:
                raise ScenarioError(f"{where}: field {head!r} has no sub-field {_short(rest)}")
            nested.setdefault(head, {})[rest] = value
        elif sub_cls is not None and isinstance(value, dict):
            nested.setdefault(head, {}).update(value)
        elif sub_cls is not None and value is not None and not isinstance(value, sub_cls):
            raise ScenarioError(f"{where}: field {head!r} expects a mapping of {sub_cls.__name__} fields, got {_short(value)}")
        else:
            changes[head] = _coerce(value, hints[head], f"{where}: field {_qual(cls, head)!r}")
    for head, sub in nested.items():
        sub_cls = _dataclass_of(hints[head])
        current = changes.get(head, getattr(obj, head))
        if current is None:
            current = sub_cls()
        changes[head] = _apply_overrides(current, sub, f"{where}: {head}")
    try:
        return dataclasses.replace(obj, **changes)
    except ScenarioError as e:
        raise ScenarioError(f"{where}: {e}") from None


def _qual(cls: type, name: str) -> str:
    prefix = {"DemandConfig": "demand.", "DataConfig": "data.", "ObservationConfig": "observation.",
              "ActionConfig": "action.", "SharedConfig": "shared."}.get(cls.__name__, "")
    return prefix + name


def _dataclass_of(tp: Any) -> type | None:
    for t in (tp, *typing.get_args(tp)):
        if dataclasses.is_dataclass(t):
            return t
    return None


def _coerce(value: Any, tp: Any, what: str) -> Any:
    """Check `value` against the annotation `tp`; ints are accepted for floats. Raise ScenarioError if wrong."""
    ok, out = _match(value, tp)
    if not ok:
        raise ScenarioError(f"{what} expects {_describe(tp)}, got {_short(value)} ({type(value).__name__})")
    return out


def _match(value: Any, tp: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return True, value
    if origin in (typing.Union, types.UnionType):
        for a in args:
            ok, out = _match(value, a)
            if ok:
                return True, out
        return False, None
    if origin is Literal:
        return (value in args), value
    if tp is type(None):
        return value is None, None
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        if isinstance(value, bool):
            return False, None
        if isinstance(value, int):
            return True, value
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        return False, None
    if tp is float:
        if isinstance(value, bool):
            return False, None
        return (isinstance(value, (int, float)), float(value) if isinstance(value, (int, float)) else None)
    if tp is str:
        if isinstance(value, Path):
            return True, str(value)
        if isinstance(value, datetime.date):  # YAML reads an unquoted 2001-04-01 as a date: the text written
            return True, value.isoformat()
        return isinstance(value, str), value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            return False, None
        out = []
        for v in value:
            ok, o = _match(v, args[0])
            if not ok:
                return False, None
            out.append(o)
        return True, out
    if origin is dict:
        if not isinstance(value, dict):
            return False, None
        out = {}
        for k, v in value.items():
            ok_k, k2 = _match(k, args[0])
            ok_v, v2 = _match(v, args[1])
            if not (ok_k and ok_v):
                return False, None
            out[k2] = v2
        return True, out
    if dataclasses.is_dataclass(tp):
        return isinstance(value, tp), value
    return isinstance(value, tp), value


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is list:
        return f"a list of {_describe(args[0])}"
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    return {float: "a number", int: "an integer", bool: "true/false", str: "a string"}.get(tp, getattr(tp, "__name__", str(tp)))


MAX_LEAD_TIME = 1000
"""The longest lead time in periods (the state holds one pipeline slot per period of every SKU)."""
MAX_SHELF_LIFE = 1000
"""The longest shelf life in periods (the state holds the stock on hand by age)."""
MAX_ACTIONS = 10_000
MAX_DEMAND_WINDOW = 1000
"""Upper bounds that keep the per-slot tables (action table, observation) within memory for many SKUs."""


def _check_values(sc: Scenario) -> None:
    def bad(name: str, expected: str) -> None:
        raise ScenarioError(f"field {name!r} must be {expected}, got {_short(getattr(sc, name))}")

    if sc.mode not in ("lost_sales", "backorder"):
        bad("mode", "'lost_sales' or 'backorder'")
    if not isinstance(sc.lead_time, int) or not 0 <= sc.lead_time <= MAX_LEAD_TIME:
        bad("lead_time", f"an integer in 0..{MAX_LEAD_TIME} (the pipeline is kept period by period)")
    dist = sc.lead_time_dist
    if dist is not None:
        if not 1 <= len(dist) <= MAX_LEAD_TIME + 1 or any(not math.isfinite(v) or v < 0 for v in dist) \
                or abs(sum(dist) - 1.0) > 1e-6 or dist[-1] <= 0:
            bad("lead_time_dist", f"null or a list of at most {MAX_LEAD_TIME + 1} probabilities >= 0 of lead times "
                "0, 1, 2, ... periods, summing to 1, the last one > 0")
    if not isinstance(sc.crossing, bool):
        bad("crossing", "true or false")
    m = sc.shelf_life
    if m is not None and (isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= MAX_SHELF_LIFE):
        bad("shelf_life", f"null (no expiry) or an integer in 1..{MAX_SHELF_LIFE} (periods after arrival)")
    if sc.issuing not in ("fifo", "lifo"):
        bad("issuing", "'fifo' or 'lifo'")
    if sc.shared is not None:
        for name in ("capacity", "budget"):
            v = getattr(sc.shared, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                                  or v < 0):
                raise ScenarioError(f"field 'shared.{name}' must be null (no limit) or a finite number >= 0, got "
                                    f"{_short(v)}")
    for name in ("holding_cost", "shortage_cost", "order_cost", "unit_cost", "outdating_cost"):
        v = getattr(sc, name)
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            bad(name, "a finite number >= 0")
    r = sc.holding_rate
    if r is not None and (isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r) or r <= 0
                          or r >= 1):
        bad("holding_rate", "null or a fraction of the unit cost per period in (0, 1)")
    if not isinstance(sc.moq, int) or sc.moq < 0:
        bad("moq", "an integer >= 0")
    if not isinstance(sc.pack_size, int) or sc.pack_size < 1:
        bad("pack_size", "an integer >= 1")
    for name in ("max_order", "capacity"):
        v = getattr(sc, name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0):
            bad(name, "null (no limit) or a finite number >= 0")
    if sc.max_order is not None and sc.moq > sc.max_order:
        raise ScenarioError(f"field 'moq' {sc.moq} is above 'max_order' {sc.max_order:g}: no order could ever be "
                            "placed; expected moq <= max_order")
    for name in ("reward_scale", "reward_offset"):
        v = getattr(sc, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or \
                (name == "reward_scale" and v <= 0):
            bad(name, "a finite number" + (" > 0" if name == "reward_scale" else ""))
    if not isinstance(sc.episode_length, int) or sc.episode_length < 1:
        bad("episode_length", "an integer >= 1")
    if sc.initial_state not in ("random", "steady", "empty"):
        bad("initial_state", "'random', 'steady' or 'empty'")
    d = sc.demand
    means = d.mean if isinstance(d.mean, list) else [d.mean]
    if not means or any((not isinstance(m, (int, float))) or m < 0 or not math.isfinite(m) for m in means):
        raise ScenarioError(f"field 'demand.mean' must be a number >= 0 or a non-empty list of them, got {d.mean!r}")
    if d.std is not None:
        stds = d.std if isinstance(d.std, list) else [d.std] * len(means)
        if len(stds) != len(means):
            raise ScenarioError(f"'demand.std' has {len(stds)} values but 'demand.mean' has {len(means)}")
        if any(s < 0 for s in stds):
            raise ScenarioError(f"'demand.std' must be >= 0, got {d.std!r}")
        if d.kind == "negative_binomial" and any(s * s <= m for s, m in zip(stds, means) if m > 0):
            raise ScenarioError("negative_binomial demand needs std**2 > mean (over-dispersion); use poisson otherwise")
    elif d.kind in ("negative_binomial", "normal"):
        raise ScenarioError(f"demand.kind {d.kind!r} needs 'demand.std'")
    if d.kind not in ("poisson", "negative_binomial", "normal"):
        raise ScenarioError(f"'demand.kind' must be poisson, negative_binomial or normal, got {d.kind!r}")
    if d.weekly is not None and (len(d.weekly) != 7 or any(w < 0 for w in d.weekly) or sum(d.weekly) <= 0):
        raise ScenarioError(f"'demand.weekly' must be 7 non-negative multipliers, got {d.weekly!r}")
    if not 0 <= d.promo_prob <= 1 or d.promo_lift < 0:
        raise ScenarioError("'demand.promo_prob' must be in [0, 1] and 'demand.promo_lift' >= 0")
    a = sc.action
    if a.mode not in ("units", "order_up_to", "continuous", "reorder_point"):
        raise ScenarioError(f"'action.mode' must be units, order_up_to, continuous or reorder_point, got {a.mode!r}")
    if not isinstance(a.n, int) or not 2 <= a.n <= MAX_ACTIONS or not isinstance(a.step, (int, float)) \
            or isinstance(a.step, bool) or not math.isfinite(a.step) or a.step <= 0:
        raise ScenarioError(f"'action.n' must be an integer in 2..{MAX_ACTIONS} and 'action.step' a finite number > 0, "
                            f"got n={_short(a.n)}, step={_short(a.step)}")
    o = sc.observation
    if not isinstance(o.demand_window, int) or not 0 <= o.demand_window <= MAX_DEMAND_WINDOW:
        raise ScenarioError(f"'observation.demand_window' must be an integer in 0..{MAX_DEMAND_WINDOW} (periods of "
                            f"demand in every observation), got {_short(o.demand_window)}")
    if o.forecast and (not isinstance(o.forecast_window, int) or not 2 <= o.forecast_window <= MAX_DEMAND_WINDOW):
        raise ScenarioError(f"'observation.forecast_window' must be an integer in 2..{MAX_DEMAND_WINDOW} (periods of "
                            f"demand the forecast fields smooth), got {_short(o.forecast_window)}")
    if o.forecast and not (isinstance(o.forecast_alpha, (int, float)) and not isinstance(o.forecast_alpha, bool)
                           and 0.0 < o.forecast_alpha <= 1.0):
        raise ScenarioError("'observation.forecast_alpha' must be a number in (0, 1] (the smoothing constant of the "
                            f"forecast fields), got {_short(o.forecast_alpha)}")
    if sc.data is not None:
        if not sc.data.path:
            raise ScenarioError("'data.path' is required when a 'data' section is given")
        if sc.data.window not in ("train", "val", "test", "fit"):
            raise ScenarioError(f"'data.window' must be train, val, test or fit (train + val), got "
                                f"{sc.data.window!r}")
        if sc.data.aggregate not in (None, "sum"):
            raise ScenarioError(f"'data.aggregate' must be sum or null, got {sc.data.aggregate!r}")
        if sc.data.bootstrap_block < 0 or sc.data.min_periods < 1:
            raise ScenarioError("'data.bootstrap_block' must be >= 0 and 'data.min_periods' >= 1")
        if sc.data.scale_periods < 0:
            raise ScenarioError(f"'data.scale_periods' must be >= 0 (0: the whole window), got {sc.data.scale_periods}")
        if not (isinstance(sc.data.scale_prior, (int, float)) and not isinstance(sc.data.scale_prior, bool)
                and 0 <= sc.data.scale_prior < float("inf")):
            raise ScenarioError("'data.scale_prior' must be a number >= 0 (pseudo-periods at the window mean), got "
                                f"{_short(sc.data.scale_prior)}")
        if sc.data.scale_window not in ("train", "fit"):
            raise ScenarioError(f"'data.scale_window' must be train or fit, got {sc.data.scale_window!r}")
