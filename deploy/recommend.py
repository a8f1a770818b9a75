"""Recommend today's orders for every SKU from an exported policy (the daily replenishment job).

Usage::

    python -m deploy.recommend --policy policy.onnx --state state.csv --out orders.csv
        [--items items.csv] [--history demand.csv] [--date YYYY-MM-DD] [--service-level 0.95]
    python -m deploy.recommend --policy base_stock.json --state state.csv --out orders_base_stock.csv

``--policy`` is an ONNX agent exported by ``python -m agents.export RUN_DIR --out policy.onnx`` or a classical
baseline's levels exported by ``python -m agents.export --baseline base_stock ... --out base_stock.json``; the
same state file gives comparable recommendations. This module imports numpy, pandas and onnxruntime only (no
torch, no stable-baselines3, no simulator) and never unpickles a file.

State file (CSV, CSV.gz or Parquet), one row per SKU, at the decision point of the period being planned:

* ``sku``: id (text) known to the policy (its training SKUs) or listed in ``--items``;
* ``on_hand``: units on hand after this period's arrivals, >= 0;
* ``in_transit_1`` .. ``in_transit_P``: units arriving in 1 .. P periods (P = the policy's largest lead time
  - 1; orders arriving after the SKU's lead time - 1 periods cannot exist and must be 0);
* ``demand_lag_1`` .. ``demand_lag_W``: demand 1 .. W periods ago (W = the policy's demand window; required
  when W > 0 unless ``--history`` gives a long demand table ``date,sku,demand``); optional otherwise, used for
  the demand rate and its variability;
* optional: ``backorders`` (backorder scenarios; >= 0), ``safety_stock`` (units; else z sigma sqrt(L + 1)),
  ``date`` (the period being planned, for calendar features; or ``--date``), and any other observation field
  the policy needs by its name (``period``).

Items file (optional): ``sku`` and any of demand_scale, lead_time, moq, pack_size, max_order, capacity: adds
SKUs the policy was not trained on (demand_scale required for them) and overrides parameters of known ones.

Output, one row per SKU in the state's order: order_qty (after MOQ, pack size, max order, capacity),
requested_qty (the policy's order before those rules), inventory_position (before ordering),
inventory_position_after, demand_per_period, periods_of_cover (= inventory_position_after /
demand_per_period), safety_stock, lead_time, projected_min_stock (lowest projected stock before an order
placed now can arrive), stock_alert and alert_reason (projected stock below safety stock within the lead
time: an early warning to expedite), policy.

Every input problem is an error naming the file, column, line (header = line 1) or SKU; the exit status is
2 and no output file is written (the output is written to a temporary file and renamed when complete).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from . import policyfile as pf

RECENT_PERIODS = 13
"""Recent demand periods (from --history) used for the demand rate and its standard deviation."""
_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


class DeployError(ValueError):
    """Bad input to the recommend command: the message names the file, column, line or SKU."""


# ----------------------------------------------------------------------------------------- policy
@dataclass
class Policy:
    path: str
    meta: dict[str, Any]
    session: Any = None  # onnxruntime.InferenceSession for kind onnx

    @property
    def kind(self) -> str:
        return self.meta["kind"]

    @property
    def label(self) -> str:
        if self.kind == "levels":
            return f"baseline:{self.meta['baseline']}"
        return f"{self.meta['algorithm']}:{self.meta['run']['id']}"


def load_policy(path: str | Path, threads: int = 1) -> Policy:
    """Read an ONNX policy (metadata from ``metadata_props``) or a JSON level policy; check its metadata."""
    src = str(path)
    p = Path(path)
    if not p.is_file():
        raise DeployError(f"{src}: no such policy file")
    if p.suffix.lower() == ".json":
        try:
            meta = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DeployError(f"{src}: not a JSON policy file ({e})") from None
        meta = _check(meta, src)
        if meta["kind"] != "levels":
            raise DeployError(f"{src}: a JSON policy must be a level policy (kind levels); this one is "
                              f"{meta['kind']!r} (a sidecar? pass the .onnx file)")
        return Policy(src, meta)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    try:
        sess = ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        raise DeployError(f"{src}: not a valid ONNX model ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    raw = sess.get_modelmeta().custom_metadata_map.get(pf.METADATA_KEY)
    if raw is None:
        raise DeployError(f"{src}: the ONNX model has no invrl metadata ({pf.METADATA_KEY!r} in metadata_props); "
                          "export it with python -m agents.export")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as e:
        raise DeployError(f"{src}: corrupt invrl metadata ({e})") from None
    meta = _check(meta, src)
    if meta["kind"] != "onnx":
        raise DeployError(f"{src}: metadata kind {meta['kind']!r} in an ONNX file")
    inputs = sess.get_inputs()
    dim = inputs[0].shape[1] if inputs and len(inputs[0].shape) == 2 else None
    if len(inputs) != 1 or inputs[0].name != "obs" or dim != len(meta["obs_names"]):
        raise DeployError(f"{src}: the network's input ({[(i.name, i.shape) for i in inputs]}) does not match "
                          f"the observation layout of its metadata ({len(meta['obs_names'])} fields "
                          f"{', '.join(meta['obs_names'])})")
    return Policy(src, meta, sess)


def _check(meta, src: str) -> dict[str, Any]:
    try:
        return pf.check_metadata(meta, src)
    except pf.PolicyFileError as e:
        raise DeployError(str(e)) from None


# ----------------------------------------------------------------------------------------- reading tables
class _Where:
    def __init__(self, source: str, lines: np.ndarray | None):
        self.source, self.lines = source, lines

    def row(self, i: int) -> str:
        return f"line {int(self.lines[i])}" if self.lines is not None else f"row {i}"

    def at(self, column: str, i: int) -> str:
        return f"{self.source}, column {column!r}, {self.row(i)}"


def read_table(path: str | Path, what: str, required: list[str]) -> tuple[pd.DataFrame, _Where]:
    """A CSV / CSV.gz / Parquet table with the `required` columns (sku read as text); blank lines dropped."""
    p = Path(path)
    src = str(path)
    name = p.name.lower()
    if not any(name.endswith(s) for s in _SUFFIXES):
        raise DeployError(f"{src}: unsupported file type for the {what}; expected {', '.join(_SUFFIXES)}")
    if not p.is_file():
        raise DeployError(f"{src}: no such file")
    if p.stat().st_size == 0:
        raise DeployError(f"{src}: the file is empty (0 bytes); expected a header line with columns "
                          f"{', '.join(required)}")
    lines = None
    try:
        if name.endswith((".parquet", ".pq")):
            df = pd.read_parquet(p)
            if "sku" in df.columns:
                df["sku"] = df["sku"].astype("string")
        else:
            df = pd.read_csv(p, dtype={"sku": str}, skip_blank_lines=False)
            blank = df.isna().all(axis=1).to_numpy()
            lines = np.arange(2, len(df) + 2, dtype=np.int64)
            if blank.any():
                df = df.loc[~blank].reset_index(drop=True)
                lines = lines[~blank]
    except pd.errors.EmptyDataError:
        raise DeployError(f"{src}: the file is empty; expected a header line with columns "
                          f"{', '.join(required)}") from None
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DeployError(f"{src}: cannot read the {what}: {e}") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        label = "column" if len(missing) == 1 else "columns"
        raise DeployError(f"{src}: missing required {label} {', '.join(map(repr, missing))} in the {what}; "
                          f"expected columns {', '.join(required)}, found {', '.join(map(repr, map(str, df.columns)))}")
    if len(df) == 0:
        raise DeployError(f"{src}: no data rows (only a header); expected one row per SKU")
    return df, _Where(src, lines)


def _skus(df: pd.DataFrame, where: _Where, unique: bool = True) -> np.ndarray:
    col = df["sku"]
    text = col.astype("string").str.strip()
    empty = text.isna().to_numpy() | (text == "").to_numpy(dtype=bool, na_value=True)
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise DeployError(f"{where.at('sku', i)}: empty SKU; expected a non-empty id")
    arr = text.to_numpy(dtype=object)
    if unique:
        dup = pd.Index(arr).duplicated()
        if dup.any():
            j = int(np.flatnonzero(dup)[0])
            first = int(np.flatnonzero(arr == arr[j])[0])
            raise DeployError(f"{where.source}: duplicate SKU {arr[j]!r} in column 'sku': {where.row(first)} and "
                              f"{where.row(j)}; expected one row per SKU")
    return arr


def _numbers(df: pd.DataFrame, column: str, where: _Where, skus: np.ndarray | None, what: str, *,
             low: float | None = 0.0, integer: bool = False, allow_inf: bool = False) -> np.ndarray:
    """A column as float64: errors for text, empty/NaN, infinite and values below `low`."""
    col = df[column]

    def ctx(i: int) -> str:
        return f" (SKU {skus[i]!r})" if skus is not None else ""

    if pd.api.types.is_bool_dtype(col.dtype):
        raise DeployError(f"{where.at(column, 0)}: {what} is {col.iloc[0]!r}{ctx(0)}; expected a number")
    if pd.api.types.is_numeric_dtype(col.dtype):
        v = col.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        text = np.isnan(v) & ~col.isna().to_numpy()
        if text.any():
            i = int(np.flatnonzero(text)[0])
            raw = col.iloc[i]
            if not (isinstance(raw, str) and raw.strip().lower() in ("nan", "")):
                raise DeployError(f"{where.at(column, i)}: {what} {raw!r} is not a number{ctx(i)}; expected a number")
    bad = np.isnan(v)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DeployError(f"{where.at(column, i)}: empty or NaN {what}{ctx(i)}; expected a number")
    if not allow_inf and np.isinf(v).any():
        i = int(np.flatnonzero(np.isinf(v))[0])
        raise DeployError(f"{where.at(column, i)}: infinite {what}{ctx(i)}; expected a finite number")
    if low is not None and (v < low).any():
        i = int(np.flatnonzero(v < low)[0])
        neg = " (negative stock)" if low == 0 and column in ("on_hand", "backorders") else ""
        raise DeployError(f"{where.at(column, i)}: {what} {v[i]:g}{ctx(i)}{neg}; expected a number >= {low:g}")
    if integer:
        frac = np.isfinite(v) & (v != np.round(v))
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise DeployError(f"{where.at(column, i)}: {what} {v[i]:g}{ctx(i)}; expected a whole number")
    return v


# ----------------------------------------------------------------------------------------- state
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


def sku_parameters(policy: Policy, skus: np.ndarray, where: _Where,
                   items: str | Path | None) -> dict[str, np.ndarray]:
    """Per-SKU parameters: the policy's SKU table, overridden / extended by the items file."""
    table = pf.sku_params(policy.meta)
    known = pd.Index(policy.meta["skus"]["sku"])
    idx = known.get_indexer(pd.Index(skus))
    params = {k: np.where(idx >= 0, v[np.maximum(idx, 0)], np.nan) for k, v in table.items()}
    have_item = np.zeros(len(skus), dtype=bool)
    if items is not None:
        df, iw = read_table(items, "item table", ["sku"])
        isku = _skus(df, iw)
        cols = [c for c in pf.SKU_PARAMS if c in df.columns]
        if not cols:
            raise DeployError(f"{iw.source}: no item parameter column; expected any of {', '.join(pf.SKU_PARAMS)}")
        pos = pd.Index(isku).get_indexer(pd.Index(skus))
        have_item = pos >= 0
        defaults = policy.meta.get("defaults", {})
        for c in cols:
            integer = c in ("lead_time", "pack_size")
            v = _numbers(df, c, iw, isku, c.replace("_", " "), low=1.0 if c == "pack_size" else 0.0,
                         integer=integer, allow_inf=c in ("max_order", "capacity"))
            if c == "demand_scale" and (v <= 0).any():
                i = int(np.flatnonzero(v <= 0)[0])
                raise DeployError(f"{iw.at(c, i)}: demand scale {v[i]:g} (SKU {isku[i]!r}); expected the SKU's "
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
        hint = ("the level policy only knows the SKUs it was fitted on" if policy.kind == "levels" else
                "add it to --items with its demand_scale (mean demand per period), lead_time, moq, pack_size")
        raise DeployError(f"{where.at('sku', first)}: unknown SKU {bad[0]!r}{more}: not in the policy's "
                          f"{len(known)} SKUs ({', '.join(known[:3])}{', ...' if len(known) > 3 else ''})"
                          f"{'' if items is None else ' nor in ' + str(items)}; {hint}")
    if policy.kind == "levels" and (idx < 0).any():
        i = int(np.flatnonzero(idx < 0)[0])
        raise DeployError(f"{where.at('sku', i)}: SKU {skus[i]!r} has no level in the baseline policy "
                          f"{policy.path} (fitted on {len(known)} SKUs)")
    missing_scale = np.isnan(params["demand_scale"])
    if missing_scale.any():
        i = int(np.flatnonzero(missing_scale)[0])
        raise DeployError(f"{items}: SKU {skus[i]!r} is new to the policy and has no demand_scale; expected a "
                          "demand_scale column (mean demand per period)")
    params["sku_index"] = idx
    return params


def read_state(policy: Policy, state: str | Path, items: str | Path | None = None,
               history: str | Path | None = None, date: str | None = None) -> State:
    meta = policy.meta
    ob = meta["observation"]
    P = int(ob["n_pipe"])
    names = meta.get("obs_names", [])
    W = int(ob["demand_window"]) if policy.kind == "onnx" else 0
    required = ["sku", "on_hand"] + [f"in_transit_{k}" for k in range(1, P + 1)]
    if W and history is None:
        required += [f"demand_lag_{k}" for k in range(1, W + 1)]
    df, where = read_table(state, "state file", required)
    skus = _skus(df, where)
    on_hand = _numbers(df, "on_hand", where, skus, "on hand")
    back = np.zeros(len(df))
    if "backorders" in df.columns:
        back = _numbers(df, "backorders", where, skus, "backorders")
        if meta["mode"] != "backorder" and (back > 0).any():
            i = int(np.flatnonzero(back > 0)[0])
            raise DeployError(f"{where.at('backorders', i)}: backorders {back[i]:g} (SKU {skus[i]!r}) but the "
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
            raise DeployError(f"SKU {skus[i]!r} ({where.row(i)} of {where.source}): lead time {lead[i]:g} but the "
                              f"policy's observation was built for lead times {allowed}; retrain on a scenario "
                              "with this lead time")
    transit_cols = sorted((c for c in df.columns if str(c).startswith("in_transit_")),
                          key=lambda c: int(c[11:]) if c[11:].isdigit() else 0)
    n_slots = max([P] + [int(c[11:]) for c in transit_cols if c[11:].isdigit()])
    pipeline = np.zeros((len(df), n_slots))
    for c in transit_cols:
        if not c[11:].isdigit() or int(c[11:]) < 1:
            raise DeployError(f"{where.source}: column {c!r}; expected in_transit_K with K = 1, 2, ... (arriving in "
                              "K periods)")
        k = int(c[11:])
        v = _numbers(df, c, where, skus, "units in transit")
        late = (v > 0) & (k > lead - 1)
        if late.any():
            i = int(np.flatnonzero(late)[0])
            raise DeployError(f"{where.at(c, i)}: {v[i]:g} units arriving in {k} periods for SKU {skus[i]!r}, whose "
                              f"lead time is {lead[i]:g} (orders arrive within {max(lead[i] - 1, 0):g} periods); "
                              "expected 0")
        pipeline[:, k - 1] = v
    if n_slots > P:  # extra columns are all 0 past each SKU's lead time (checked above), none the policy sees
        pipeline = pipeline[:, :P] if P else np.zeros((len(df), 0))
    lag_cols = sorted((c for c in df.columns if str(c).startswith("demand_lag_") and c[11:].isdigit()),
                      key=lambda c: int(c[11:]))
    recent = np.full((len(df), max(W, RECENT_PERIODS if history is not None else 0, len(lag_cols))), np.nan)
    if history is not None:
        hist = _read_history(history, skus, max(W, RECENT_PERIODS))
        recent[:, :hist.shape[1]] = hist
        if W and np.isnan(hist[:, :W]).any():
            i = int(np.flatnonzero(np.isnan(hist[:, :W]).any(axis=1))[0])
            raise DeployError(f"{history}: SKU {skus[i]!r} has fewer than {W} periods of demand; the policy "
                              f"observes the last {W} periods")
    else:
        for c in lag_cols:
            recent[:, int(c[11:]) - 1] = _numbers(df, c, where, skus, "demand")
    lags = recent[:, :W]
    calendar = None
    if int(ob.get("n_calendar", 0)) and policy.kind == "onnx":
        if "date" in df.columns:
            dates = pd.to_datetime(df["date"], errors="coerce", format="%Y-%m-%d")
            if dates.isna().any():
                i = int(np.flatnonzero(dates.isna().to_numpy())[0])
                raise DeployError(f"{where.at('date', i)}: cannot parse date {df['date'].iloc[i]!r}; expected "
                                  "YYYY-MM-DD (the period being planned)")
            d = dates.to_numpy().astype("datetime64[D]")
        elif date is not None:
            try:
                d = np.full(len(df), np.datetime64(date, "D"))
            except ValueError:
                raise DeployError(f"--date {date!r}: expected YYYY-MM-DD") from None
        else:
            raise DeployError(f"{where.source}: the policy uses calendar features; give the period being planned "
                              "as --date YYYY-MM-DD or a 'date' column")
        calendar = pf.calendar_features(d, bool(ob.get("calendar_daily")))
    extra = {}
    for name in names:
        if name == "period":
            if name not in df.columns:
                raise DeployError(f"{where.source}: the policy observes {name!r} (period index / episode length, "
                                  f"in [0, 1]); expected a column {name!r}")
            extra[name] = _numbers(df, name, where, skus, name)
    ss = None
    if "safety_stock" in df.columns:
        ss = _numbers(df, "safety_stock", where, skus, "safety stock")
    return State(skus, on_hand - back, on_hand, pipeline, lags, recent, params, calendar, extra, ss)


def _read_history(path, skus: np.ndarray, periods: int) -> np.ndarray:
    """The last `periods` demands of every SKU from a long table date,sku,demand: [N, periods], column k-1 =
    k periods ago (NaN where the SKU has fewer rows). Rows of SKUs not in the state file are ignored.
    Vectorised over factorised SKU ids and dates (a million rows in well under a CPU-second)."""
    df, where = read_table(path, "demand history", ["date", "sku", "demand"])
    codes, uniq = pd.factorize(df["sku"])
    names = pd.Index(uniq).astype("string").str.strip()
    bad = (codes < 0) | (names.to_numpy(dtype=object, na_value="") == "")[np.maximum(codes, 0)]
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DeployError(f"{where.at('sku', i)}: empty SKU; expected a non-empty id")

    class _Sku:  # SKU of row i, for messages only
        def __getitem__(self, i):
            return names[codes[i]]

    dem = _numbers(df, "demand", where, _Sku(), "demand")
    dcodes, duniq = pd.factorize(df["date"])
    parsed = pd.to_datetime(pd.Series(np.asarray(duniq, dtype=object)).astype(str), errors="coerce",
                            format="%Y-%m-%d")
    if (dcodes < 0).any() or parsed.isna().any():
        badd = (dcodes < 0) | parsed.isna().to_numpy()[np.maximum(dcodes, 0)]
        i = int(np.flatnonzero(badd)[0])
        raise DeployError(f"{where.at('date', i)}: cannot parse date {df['date'].iloc[i]!r}; expected YYYY-MM-DD")
    day = parsed.to_numpy().astype("datetime64[D]").astype(np.int64)[dcodes]
    pos = pd.Index(skus).get_indexer(names)[codes]
    keep = np.flatnonzero(pos >= 0)
    order = keep[np.lexsort((day[keep], pos[keep]))]
    ps, ds = pos[order], day[order]
    dup = (ps[1:] == ps[:-1]) & (ds[1:] == ds[:-1])
    if dup.any():
        j = int(np.flatnonzero(dup)[0])
        a, b = sorted((int(order[j]), int(order[j + 1])))
        raise DeployError(f"{where.source}: duplicate row for SKU {skus[ps[j]]!r} and date {df['date'].iloc[a]}: "
                          f"{where.row(a)} and {where.row(b)}; expected one row per SKU and date")
    counts = np.bincount(ps, minlength=len(skus))
    if (counts == 0).any():
        i = int(np.flatnonzero(counts == 0)[0])
        raise DeployError(f"{where.source}: no demand history for SKU {skus[i]!r} (in the state file)")
    k = np.cumsum(counts)[ps] - 1 - np.arange(len(ps))  # 0 = the latest period of the SKU
    recent = k < periods
    out = np.full((len(skus), periods), np.nan)
    out[ps[recent], k[recent]] = dem[order][recent]
    return out


# ----------------------------------------------------------------------------------------- recommend
def policy_orders(policy: Policy, st: State) -> tuple[np.ndarray, np.ndarray]:
    """(requested units before the order rules, inventory position) of every SKU."""
    p = st.params
    ip = st.net.copy()
    for k in range(st.pipeline.shape[1]):
        ip += st.pipeline[:, k]
    if policy.kind == "levels":
        lv = policy.meta["levels"]
        i = p["sku_index"]
        levels = {k: np.array([np.inf if x is None else x for x in lv[k]], dtype=np.float64)[i] for k in ("S", "s", "cap")}
        return pf.level_units(levels, ip), ip
    meta = policy.meta
    obs = pf.build_observations(meta["obs_names"], net=st.net, pipeline=st.pipeline, lags=st.lags,
                                scale=p["demand_scale"], lead=p["lead_time"],
                                lead_norm=float(meta["observation"]["lead_norm"]), calendar=st.calendar,
                                extra=st.extra)
    action = policy.session.run(["action"], {"obs": obs})[0]
    return pf.requested_units(action, meta["action"], p["demand_scale"], ip), ip


def recommend(policy: Policy, st: State, service_level: float = 0.95,
              requested: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """The orders table (see the module docstring); `requested` = :func:`policy_orders` if already computed."""
    p = st.params
    want, ip = requested if requested is not None else policy_orders(policy, st)
    order = pf.constrain(want, ip, p["moq"], p["pack_size"], p["max_order"], p["capacity"])
    lead = p["lead_time"].astype(np.int64)
    # demand rate and variability: recent demand where given, else the demand scale (Poisson variability)
    n_obs = (~np.isnan(st.recent)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n_obs > 0, np.nansum(st.recent, axis=1) / np.maximum(n_obs, 1), p["demand_scale"])
        dev = st.recent - rate[:, None]
        var = np.where(n_obs > 1, np.nansum(dev * dev, axis=1) / np.maximum(n_obs - 1, 1), rate)
    sigma = np.sqrt(np.maximum(var, 0.0))
    z = NormalDist().inv_cdf(service_level)
    ss = st.safety_stock if st.safety_stock is not None else np.maximum(z * sigma * np.sqrt(lead + 1.0), 0.0)
    # projected stock at the end of periods 1..H (H = max(L, 1)): before an order placed now can arrive
    H = max(int(lead.max()), 1)
    arrivals = np.zeros((len(ip), H))
    P = st.pipeline.shape[1]
    if H > 1 and P:
        arrivals[:, 1:min(H, P + 1)] = st.pipeline[:, :min(H - 1, P)]  # in_transit_k arrives at the start of k+1
    arrivals[:, 0] += np.where(lead == 0, order, 0.0)
    proj = st.net[:, None] + np.cumsum(arrivals, axis=1) - rate[:, None] * np.arange(1, H + 1)[None, :]
    horizon = np.maximum(lead, 1)
    proj = np.where(np.arange(1, H + 1)[None, :] <= horizon[:, None], proj, np.inf)
    low = proj.min(axis=1)
    below = proj < ss[:, None]
    alert = below.any(axis=1)
    first = below.argmax(axis=1)
    reason = np.full(len(ip), "", dtype=object)
    for i in np.flatnonzero(alert):
        k, x = int(first[i]) + 1, float(proj[i, first[i]])
        if x < 0:
            reason[i] = (f"stockout projected in period {k}: {-x:.1f} units short before an order placed now can "
                         f"arrive (lead time {lead[i]})")
        else:
            reason[i] = (f"projected stock {x:.1f} in period {k} below safety stock {ss[i]:.1f} before an order "
                         f"placed now can arrive (lead time {lead[i]})")
    after = ip + order
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(rate > 0, after / rate, np.inf)
    return pd.DataFrame({
        "sku": st.sku, "order_qty": order, "requested_qty": np.maximum(want, 0.0), "on_hand": st.on_hand,
        "inventory_position": ip, "inventory_position_after": after, "demand_per_period": rate,
        "periods_of_cover": cover, "safety_stock": ss, "lead_time": lead, "projected_min_stock": low,
        "stock_alert": alert, "alert_reason": reason, "policy": policy.label,
    })


def _for_csv(df: pd.DataFrame) -> pd.DataFrame:
    """Whole-number columns written as integers (faster, and how people read units); derived figures
    (rates, cover, safety stock, projections) rounded to 4 decimals; other quantities kept exact."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype != np.float64:
            continue
        a = out[c].to_numpy()
        if np.isfinite(a).all() and (a == np.round(a)).all() and np.abs(a).max(initial=0) < 2**53:
            out[c] = a.astype(np.int64)
        elif c in ("demand_per_period", "periods_of_cover", "safety_stock", "projected_min_stock"):
            out[c] = np.round(a, 4)
    return out


def write_orders(df: pd.DataFrame, out: str | Path) -> None:
    """Write to a temporary file beside `out`, then rename it (a failure never leaves a partial file)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            _for_csv(df).to_csv(f, index=False)
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def run(policy: str | Path, state: str | Path, out: str | Path, items=None, history=None, date=None,
        service_level: float = 0.95, threads: int = 1, timings: dict[str, float] | None = None) -> pd.DataFrame:
    """Load, validate, recommend and write; `timings` receives CPU-seconds per stage."""
    if not 0 < service_level < 1:
        raise DeployError(f"--service-level {service_level}: expected a probability in (0, 1)")
    t = {} if timings is None else timings
    c0 = time.process_time()
    pol = load_policy(policy, threads)
    c1 = time.process_time()
    st = read_state(pol, state, items, history, date)
    c2 = time.process_time()
    requested = policy_orders(pol, st)
    c3 = time.process_time()
    df = recommend(pol, st, service_level, requested)
    c4 = time.process_time()
    write_orders(df, out)
    c5 = time.process_time()
    t.update({"load_policy": c1 - c0, "load_validate": c2 - c1, "inference": c3 - c2,
              "rounding_alerts": c4 - c3, "write": c5 - c4, "total": c5 - c0})
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deploy.recommend",
                                 description="Recommend orders per SKU from an exported policy (see docs/deploy.md).")
    ap.add_argument("--policy", required=True, help="policy.onnx (agent) or a baseline's levels .json")
    ap.add_argument("--state", required=True, help="state file: one row per SKU (CSV, CSV.gz or Parquet)")
    ap.add_argument("--out", required=True, help="orders CSV to write")
    ap.add_argument("--items", help="per-SKU parameters: new SKUs (demand_scale, lead_time, ...) and overrides")
    ap.add_argument("--history", help="long demand table date,sku,demand (instead of demand_lag_* columns)")
    ap.add_argument("--date", help="the period being planned, YYYY-MM-DD (calendar features)")
    ap.add_argument("--service-level", type=float, default=0.95,
                    help="cycle service level of the alert's safety stock z sigma sqrt(L+1) (default 0.95)")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default 1)")
    args = ap.parse_args(argv)
    try:
        t: dict[str, float] = {}
        df = run(args.policy, args.state, args.out, args.items, args.history, args.date, args.service_level,
                 args.threads, t)
    except DeployError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    n_alert = int(df["stock_alert"].sum())
    print(f"wrote {args.out}: {len(df)} SKUs, {int((df['order_qty'] > 0).sum())} orders "
          f"({df['order_qty'].sum():g} units), {n_alert} stock alert{'s' if n_alert != 1 else ''}; "
          f"policy {df['policy'].iloc[0]}; {t['total']:.2f} CPU-s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
