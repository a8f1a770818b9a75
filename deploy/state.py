"""Reading the recommend job's inputs: the state file, the items file and the demand history, validated.

State file (CSV, CSV.gz or Parquet), one row per SKU, at the decision point of the period being planned:

* ``sku``: id (text) known to the policy (its training SKUs) or listed in ``--items``;
* ``on_hand``: units on hand after this period's arrivals, >= 0;
* ``in_transit_1`` .. ``in_transit_P``: units arriving in 1 .. P periods (P = the policy's largest lead time
  - 1; orders arriving after the SKU's lead time - 1 periods cannot exist and must be 0);
* ``demand_lag_1`` .. ``demand_lag_W``: demand 1 .. W periods ago (W = the policy's demand window; required
  when W > 0 unless ``--history`` gives a long demand table ``date,sku,demand``); optional otherwise, used for
  the demand rate and its variability; a policy with the forecast fields (``forecast_lead``,
  ``forecast_error``) reads the last F = its ``forecast_window`` periods (``--history``, where a SKU with
  fewer periods counts the missing ones as its demand scale, as training pads the history before a SKU's
  first period of data; or ``demand_lag_1`` .. ``demand_lag_F``);
* optional: ``backorders`` (backorder scenarios; >= 0), ``safety_stock`` (units; else z sigma sqrt(L + 1)),
  ``date`` (the period being planned, for calendar features; or ``--date``), and any other observation field
  the policy needs by its name (``period``; perishable stock: ``on_hand_age_0`` .. ``on_hand_age_<m-1>``,
  units on hand by age in periods since arrival, summing to ``on_hand``).

Items file (optional): ``sku`` and any of demand_scale, lead_time, moq, pack_size, max_order, capacity: adds
SKUs the policy was not trained on (demand_scale required for them) and overrides parameters of known ones.

Every input problem is a :class:`~deploy.errors.DeployError` naming the file, column, line (header = line 1)
or SKU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from invcore import tables
from invcore.calendar import calendar_features
from invcore.tables import Where, excerpt, number_column, sku_column, unquoted_if_linked

from . import policyfile as pf
from .errors import DeployError
from .policy import DeployedPolicy

MAX_UNITS = 1e12
"""Largest quantity (on hand, in transit, demand) a state file may give: beyond it float64 sums of units lose
whole units, and such numbers are typing errors (1e308 on hand was accepted)."""
RECENT_PERIODS = 13
"""Recent demand periods (from --history) used for the demand rate and its standard deviation."""


def read_table(path: str | Path, what: str, required: Sequence[str], **kw) -> tuple[pd.DataFrame, Where]:
    """A CSV / CSV.gz / Parquet table with the `required` columns (sku read as text; `kw`: more of
    :func:`invcore.tables.read_table`'s options); blank lines dropped. Errors are :class:`DeployError`."""
    return tables.read_table(path, what, required, error=DeployError, **kw)


LEARNED_KINDS = ("lgbm", "gru")
"""Policy kinds of the learned forecasters (deploy.learned): levels from the whole demand history."""


@dataclass
class State:
    """Validated per-SKU inputs, aligned with the state file's rows."""

    sku: np.ndarray
    net: np.ndarray
    on_hand: np.ndarray
    pipeline: np.ndarray  # [N, P]
    lags: np.ndarray  # [N, W] the policy's demand window (column k-1 = k periods ago)
    recent: np.ndarray  # [N, R] recent demand for the rate (NaN = not available)
    params: dict[str, np.ndarray]
    calendar: np.ndarray | None
    extra: dict[str, np.ndarray]
    safety_stock: np.ndarray | None
    history: np.ndarray | None = None  # [N, periods] the whole --history (kinds lgbm, gru; column k-1 = k ago)
    forecast_demand: np.ndarray | None = None  # [N, F] the forecast fields' demand (column k-1 = k ago; NaN = none)
    planned: np.ndarray | None = None  # [N] datetime64[D] the period being planned (--date / date column), if given


@unquoted_if_linked("items")
def sku_parameters(policy: DeployedPolicy, skus: np.ndarray, where: Where,
                   items: str | Path | None) -> dict[str, np.ndarray]:
    """Per-SKU parameters: the policy's SKU table, overridden / extended by the items file."""
    table = pf.sku_params(policy.meta)
    known = pd.Index(policy.meta["skus"]["sku"])
    idx = known.get_indexer(pd.Index(skus))
    params = {k: np.where(idx >= 0, v[np.maximum(idx, 0)], np.nan) for k, v in table.items()}
    have_item = np.zeros(len(skus), dtype=bool)
    if items is not None:
        df, iw = read_table(items, "item table", ["sku"])
        isku = sku_column(df, iw)
        cols = [c for c in pf.SKU_PARAMS if c in df.columns]
        if not cols:
            raise DeployError(f"{iw.source}: no item parameter column; expected any of {', '.join(pf.SKU_PARAMS)}")
        pos = pd.Index(isku).get_indexer(pd.Index(skus))
        have_item = pos >= 0
        defaults = policy.meta.get("defaults", {})
        for c in cols:
            integer = c in ("lead_time", "pack_size")
            v = number_column(df, c, iw, isku, c.replace("_", " "), low=1.0 if c == "pack_size" else 0.0,
                         integer=integer, allow_inf=c in ("max_order", "capacity"))
            if c == "demand_scale" and (v <= 0).any():
                i = int(np.flatnonzero(v <= 0)[0])
                raise DeployError(f"{iw.at(c, i)}: demand scale {v[i]:g} (SKU {excerpt(isku[i])}); expected the SKU's "
                                  "mean demand per period, > 0")
            params[c] = np.where(have_item, v[np.maximum(pos, 0)], params[c])
        for c in pf.SKU_PARAMS:  # SKUs new to the policy: scenario defaults for what the items file omits
            d = defaults.get(c)
            if c != "demand_scale" and c not in cols:
                fill = np.inf if d is None and c in ("max_order", "capacity") else d
                if fill is not None:
                    params[c] = np.where(idx < 0, float(fill), params[c])
    unknown = (idx < 0) & ~have_item
    if unknown.any():
        bad = skus[unknown]
        first = int(np.flatnonzero(unknown)[0])
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        hint = ("the level policy only knows the SKUs it was fitted on" if policy.kind in ("levels", "lgbm") else
                "add it to --items with its demand_scale (mean demand per period), lead_time, moq, pack_size")
        raise DeployError(f"{where.at('sku', first)}: unknown SKU {excerpt(bad[0])}{more}: not in the policy's "
                          f"{len(known)} SKUs ({', '.join(known[:3])}{', ...' if len(known) > 3 else ''})"
                          f"{'' if items is None else ' nor in ' + str(items)}; {hint}")
    if policy.kind in ("levels", "lgbm") and (idx < 0).any():
        i = int(np.flatnonzero(idx < 0)[0])
        raise DeployError(f"{where.at('sku', i)}: SKU {excerpt(skus[i])} has no level in the baseline policy "
                          f"{policy.path} (fitted on {len(known)} SKUs)")
    missing_scale = np.isnan(params["demand_scale"])
    if missing_scale.any():
        i = int(np.flatnonzero(missing_scale)[0])
        raise DeployError(f"{items}: SKU {excerpt(skus[i])} is new to the policy and has no demand_scale; expected a "
                          "demand_scale column (mean demand per period)")
    params["sku_index"] = idx
    return params


@unquoted_if_linked("state", "items", "history")
def read_state(policy: DeployedPolicy, state: str | Path, items: str | Path | None = None,
               history: str | Path | None = None, date: str | None = None) -> State:
    """Read and validate the state file (+ items file, + demand history) for `policy`; see the module docstring."""
    meta = policy.meta
    ob = meta["observation"]
    P = int(ob["n_pipe"])
    names = meta.get("obs_names", [])
    W = int(ob["demand_window"]) if policy.kind == "onnx" else 0
    F = int(ob.get("forecast_window") or 0) if any(n in pf.FORECAST_FIELDS for n in names) else 0
    required = ["sku", "on_hand"] + [f"in_transit_{k}" for k in range(1, P + 1)]
    if W and history is None:
        required += [f"demand_lag_{k}" for k in range(1, W + 1)]
    df, where = read_table(state, "state file", required)
    skus = sku_column(df, where)
    on_hand = number_column(df, "on_hand", where, skus, "on hand")
    back = np.zeros(len(df))
    if "backorders" in df.columns:
        back = number_column(df, "backorders", where, skus, "backorders")
        if meta["mode"] != "backorder" and (back > 0).any():
            i = int(np.flatnonzero(back > 0)[0])
            raise DeployError(f"{where.at('backorders', i)}: backorders {back[i]:g} (SKU {excerpt(skus[i])}) but the "
                              "policy was trained for lost sales (unmet demand is lost); expected 0")
    params = sku_parameters(policy, skus, where, items)
    lead = params["lead_time"]
    max_lead = int(ob["max_lead"])
    trained = ob.get("trained_lead_times", [])
    if policy.kind == "onnx":
        bad = lead > max(max_lead, 1) if ob.get("with_lead") or max_lead == 0 else ~np.isin(lead, trained)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            allowed = f"at most {max_lead}" if ob.get("with_lead") else f"one of {trained}"
            raise DeployError(f"SKU {excerpt(skus[i])} ({where.row(i)} of {where.source}): lead time {lead[i]:g} but the "
                              f"policy's observation was built for lead times {allowed}; retrain on a scenario "
                              "with this lead time")
    transit_cols = sorted((c for c in df.columns if str(c).startswith("in_transit_")),
                          key=lambda c: int(c[11:]) if c[11:].isdigit() else 0)
    n_slots = max([P] + [int(c[11:]) for c in transit_cols if c[11:].isdigit()])
    pipeline = np.zeros((len(df), n_slots))
    for c in transit_cols:
        if not c[11:].isdigit() or int(c[11:]) < 1:
            raise DeployError(f"{where.source}: column {excerpt(c)}; expected in_transit_K with K = 1, 2, ... (arriving in "
                              "K periods)")
        k = int(c[11:])
        v = number_column(df, c, where, skus, "units in transit")
        late = (v > 0) & (k > lead - 1)
        if late.any():
            i = int(np.flatnonzero(late)[0])
            raise DeployError(f"{where.at(c, i)}: {v[i]:g} units arriving in {k} periods for SKU {excerpt(skus[i])}, whose "
                              f"lead time is {lead[i]:g} (orders arrive within {max(lead[i] - 1, 0):g} periods); "
                              "expected 0")
        pipeline[:, k - 1] = v
    if n_slots > P:  # extra columns are all 0 past each SKU's lead time (checked above), none the policy sees
        pipeline = pipeline[:, :P] if P else np.zeros((len(df), 0))
    lag_cols = sorted((c for c in df.columns if str(c).startswith("demand_lag_") and c[11:].isdigit()),
                      key=lambda c: int(c[11:]))
    if history is None:  # demand_lag_1 .. demand_lag_M, each once, none missing (the columns place the demand)
        ks = [int(c[11:]) for c in lag_cols]
        gap = next((k for k in range(1, len(ks) + 1) if k not in ks), None)
        if (ks and ks[0] < 1) or len(set(ks)) != len(ks) or gap is not None:
            bad = next((c for c in lag_cols if int(c[11:]) < 1), None) or \
                next((c for c, k in zip(lag_cols, ks) if ks.count(k) > 1), None)
            what = f"column {excerpt(bad)}" if bad else f"demand_lag_{gap} is missing among {len(ks)} demand_lag columns"
            raise DeployError(f"{where.source}: {what}; expected demand_lag_1 .. demand_lag_M (demand 1 .. M periods "
                              "ago), each once")
    R = max(W, RECENT_PERIODS if history is not None else 0, len(lag_cols))
    recent = np.full((len(df), max(R, F)), np.nan)
    full = None
    if policy.kind in LEARNED_KINDS and history is None:
        raise DeployError(f"{where.source}: a {'LightGBM' if policy.kind == 'lgbm' else 'GRU'} policy forecasts "
                          "from the demand history; give --history (date,sku,demand: every period of each SKU)")
    if history is not None:
        if policy.kind in LEARNED_KINDS:  # the whole history: the features read the SKU's mean over all of it
            full = read_history(history, skus, None)
            hist = full[:, :max(W, RECENT_PERIODS)]
        else:
            hist = read_history(history, skus, max(W, RECENT_PERIODS, F))
        recent[:, :hist.shape[1]] = hist
        if W and np.isnan(hist[:, :W]).any():
            i = int(np.flatnonzero(np.isnan(hist[:, :W]).any(axis=1))[0])
            raise DeployError(f"{history}: SKU {excerpt(skus[i])} has fewer than {W} periods of demand; the policy "
                              f"observes the last {W} periods")
    else:
        if F and any(f"demand_lag_{k}" not in lag_cols for k in range(1, F + 1)):
            raise DeployError(f"{where.source}: the policy's forecast fields smooth the last {F} periods of demand; "
                              f"give --history (date,sku,demand) or columns demand_lag_1 .. demand_lag_{F}")
        for c in lag_cols:
            recent[:, int(c[11:]) - 1] = number_column(df, c, where, skus, "demand")
    for what, a in (("on hand", on_hand), ("units in transit", pipeline), ("demand", recent)):
        big = np.abs(np.nan_to_num(a)) > MAX_UNITS
        if big.any():
            i = int(np.flatnonzero(big.reshape(len(df), -1).any(axis=1))[0])
            raise DeployError(f"{where.source}, {where.row(i)}: {what} of SKU {excerpt(skus[i])} beyond {MAX_UNITS:.0e} "
                              "units; expected a count of units")
    lags = recent[:, :W]
    fdemand = recent[:, :F] if F else None
    recent = recent[:, :R]
    calendar = None
    d = None  # the period being planned: checked whenever given, used by calendar features
    if "date" in df.columns:
        dates = pd.to_datetime(df["date"], errors="coerce", format="%Y-%m-%d")
        if dates.isna().any():
            i = int(np.flatnonzero(dates.isna().to_numpy())[0])
            raise DeployError(f"{where.at('date', i)}: cannot parse date {excerpt(df['date'].iloc[i])}; expected "
                              "YYYY-MM-DD (the period being planned)")
        d = dates.to_numpy().astype("datetime64[D]")
    elif date is not None:
        try:
            d = np.full(len(df), np.datetime64(date, "D"))
        except ValueError:
            raise DeployError(f"--date {date!r}: expected YYYY-MM-DD") from None
    if (int(ob.get("n_calendar", 0)) and policy.kind == "onnx") or policy.kind in LEARNED_KINDS:
        if d is None:
            raise DeployError(f"{where.source}: the policy uses calendar features; give the period being planned "
                              "as --date YYYY-MM-DD or a 'date' column")
        daily = meta["features"]["daily"] if policy.kind in LEARNED_KINDS else ob.get("calendar_daily")
        calendar = calendar_features(d, bool(daily))
    extra = {}
    for name in names:
        if name == "period":
            if name not in df.columns:
                raise DeployError(f"{where.source}: the policy observes {name!r} (period index / episode length, "
                                  f"in [0, 1]); expected a column {name!r}")
            extra[name] = number_column(df, name, where, skus, name)
        elif name == "shared_room":  # shared capacity: the warehouse's free share, from the SKUs of the state file
            cap = (policy.meta.get("operations") or {}).get("shared", {}).get("capacity")
            vol = (policy.meta.get("operations") or {}).get("volume")
            v = np.ones(len(df)) if vol is None else np.where(params["sku_index"] >= 0, np.asarray(
                vol, dtype=np.float64)[np.maximum(params["sku_index"], 0)], 1.0)
            ip = on_hand - back + pipeline.sum(axis=1)
            extra[name] = np.full(len(df), (cap - float(np.sum(v * ip))) / cap if cap else 0.0)
        elif name.startswith("on_hand_age_"):  # perishable stock, by age
            if name not in df.columns:
                raise DeployError(f"{where.source}: the policy observes {name!r} (units on hand of age "
                                  f"{name[12:]} periods: perishable stock); expected a column {name!r}")
            extra[name] = number_column(df, name, where, skus, "units on hand")
    ages = [n for n in names if n.startswith("on_hand_age_")]
    if ages:
        off = np.flatnonzero(np.abs(sum(extra[n] for n in ages) - on_hand) > 1e-6)
        if off.size:
            i = int(off[0])
            raise DeployError(f"{where.source}: SKU {excerpt(skus[i])} ({where.row(i)}): on_hand_age_* sum to "
                              f"{sum(extra[n][i] for n in ages):g} but on_hand is {on_hand[i]:g}; expected "
                              "the stock on hand by age to sum to on_hand")
    ss = None
    if "safety_stock" in df.columns:
        ss = number_column(df, "safety_stock", where, skus, "safety stock")
    return State(skus, on_hand - back, on_hand, pipeline, lags, recent, params, calendar, extra, ss, full, fdemand,
                 d)


HISTORY_BLOCK = 1 << 20
"""Rows of the sorted history placed into the output at a time (bounded temporaries)."""


@unquoted_if_linked("path")
def read_history(path, skus: np.ndarray, periods: int | None) -> np.ndarray:
    """The last `periods` demands of every SKU from a long table date,sku,demand: [N, periods], column k-1 =
    k periods ago (NaN where the SKU has fewer rows; `periods` None: all, as many as the longest SKU has). Rows
    of SKUs not in the state file are ignored; other columns are not read.

    Compact throughout (issue 17: 13 M rows, 1,000,000 SKUs peaked at 3.2 GiB): the SKU and date columns are
    read as categoricals (int32 / int8 codes, each distinct text once) and every per-row step works on codes:
    one int32 (or int64) sort key per row (SKU position x distinct days + the day's rank), one stable argsort,
    the demand kept in float32 where that is exact, and the output (float64) filled block by block."""
    df, where = read_table(path, "demand history", ["date", "sku", "demand"], text_columns=("sku", "date"),
                           columns=("date", "sku", "demand"))
    scol = df["sku"]
    codes = scol.cat.codes.to_numpy()
    names = pd.Index(scol.cat.categories).astype("string").str.strip()
    del scol
    empty = names.to_numpy(dtype=object, na_value="") == ""
    bad = (codes < 0) | empty[np.maximum(codes, 0)]
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DeployError(f"{where.at('sku', i)}: empty SKU; expected a non-empty id")
    del bad
    tables.check_sku_length(names, codes, where, "sku")

    class _Sku:  # SKU of row i, for messages only
        def __init__(self, names: pd.Index, codes: np.ndarray):
            self.names, self.codes = names, codes

        def __getitem__(self, i):
            return self.names[self.codes[i]]

    dem = number_column(df, "demand", where, _Sku(names, codes), "demand")
    del df["demand"], df["sku"]
    if np.array_equal(dem.astype(np.float32), dem):  # whole numbers and the like: exact in half the memory
        dem = dem.astype(np.float32)
    dcol = df.pop("date")
    dcodes, dcats = dcol.cat.codes.to_numpy(), pd.Index(dcol.cat.categories)
    del dcol, df
    parsed = pd.to_datetime(pd.Series(dcats.astype(str)), errors="coerce", format="%Y-%m-%d")
    if (dcodes < 0).any() or parsed.isna().any():
        badd = (dcodes < 0) | parsed.isna().to_numpy()[np.maximum(dcodes, 0)]
        i = int(np.flatnonzero(badd)[0])
        raw = None if dcodes[i] < 0 else dcats[dcodes[i]]
        raise DeployError(f"{where.at('date', i)}: cannot parse date {excerpt(raw)}; expected YYYY-MM-DD")
    days, day_rank = np.unique(parsed.to_numpy().astype("datetime64[D]").astype(np.int64), return_inverse=True)
    D = len(days)
    sku_pos = pd.Index(skus).get_indexer(names)  # per distinct id: its row in the state file, -1: not there
    del names
    key_type = np.int32 if (len(skus) + 1) * D < 2**31 else np.int64
    key = sku_pos.astype(key_type)[codes]
    del codes
    key *= D
    key += day_rank.astype(key_type)[dcodes]
    key[key < 0] = np.iinfo(key_type).max  # rows of SKUs not in the state file sort last and are cut
    order = np.argsort(key, kind="stable")  # by SKU, then date; equal (SKU, date) rows in file order
    key = key[order]
    n = int(np.searchsorted(key, np.iinfo(key_type).max))
    key, order = key[:n], order[:n]
    dup = np.flatnonzero(key[1:] == key[:-1])
    if dup.size:
        j = int(dup[0])
        a, b = sorted((int(order[j]), int(order[j + 1])))
        raise DeployError(f"{where.source}: duplicate row for SKU {excerpt(skus[key[j] // D])} and date "
                          f"{dcats[dcodes[a]]}: {where.row(a)} and {where.row(b)}; expected one row per SKU and "
                          "date")
    del dup, dcodes
    dem = dem[order]  # in the sorted order
    del order
    counts = np.bincount(key // D, minlength=len(skus))
    if (counts == 0).any():
        i = int(np.flatnonzero(counts == 0)[0])
        raise DeployError(f"{where.source}: no demand history for SKU {excerpt(skus[i])} (in the state file)")
    if periods is None:
        periods = int(counts.max())
    end = np.cumsum(counts)  # row after each SKU's last (latest) row in the sorted order
    out = np.full((len(skus), periods), np.nan)
    for a in range(0, n, HISTORY_BLOCK):
        ps = key[a:a + HISTORY_BLOCK] // D
        k = end[ps] - 1 - np.arange(a, a + ps.shape[0])  # 0 = the latest period of the SKU
        recent = k < periods
        out[ps[recent], k[recent]] = dem[a:a + HISTORY_BLOCK][recent]
    return out
