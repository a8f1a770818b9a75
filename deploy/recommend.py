"""Recommend today's orders for every SKU from an exported policy (the daily replenishment job).

Usage::

    python -m deploy.recommend --policy policy.onnx --state state.csv --out orders.csv
        [--items items.csv] [--history demand.csv] [--date YYYY-MM-DD] [--covariates known.csv]
        [--service-level 0.95]
    python -m deploy.recommend --policy base_stock.json --state state.csv --out orders_base_stock.csv
    python -m deploy.recommend --policy gru.onnx --state state.csv --history demand.csv --date 2016-04-25 ...

``--policy`` is an ONNX agent exported by ``python -m agents.export RUN_DIR --out policy.onnx`` or a classical
baseline's levels exported by ``python -m agents.export --baseline base_stock ... --out base_stock.json``; the
same state file gives comparable recommendations. This module imports numpy, pandas and onnxruntime only (no
torch, no stable-baselines3, no simulator) and never unpickles a file.

Inputs: the state file (one row per SKU: sku, on_hand, in_transit_*, demand_lag_*, ...), the optional items
file and demand history are described in :mod:`deploy.state`, which reads them; :mod:`deploy.policy` loads
the policy.

Output, one row per SKU in the state's order: order_qty (after MOQ, pack size, max order, capacity, and a
policy trained under a shared capacity / budget: the proportional cut of ``envs.kernel.shared_cut`` over the
state file's SKUs as one warehouse, reported as shared_cut_qty),
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
import os
import sys
import time
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from invcore.atomic import atomic_open, output_file_error
from invcore.constraints import constrain, level_units, shared_cut
from invcore.observation import build_observations, inventory_position

from . import policyfile as pf
from .errors import DeployError
from .policy import DeployedPolicy, load_policy
from .state import RECENT_PERIODS, State, read_history, read_state, read_table, sku_parameters

__all__ = ["RECENT_PERIODS", "DeployError", "DeployedPolicy", "State", "load_policy", "main", "observations",
           "policy_orders",
           "read_history", "read_state", "read_table", "recommend", "run", "sku_parameters", "write_orders"]


# ----------------------------------------------------------------------------------------- recommend
INFERENCE_BATCH = 65_536
"""Rows per onnxruntime call (bounded memory; the results do not depend on it)."""
WRITE_BATCH = 100_000
"""Rows per block of the orders CSV (:func:`write_orders`: no full copy of the table)."""


def observations(policy: DeployedPolicy, st: State) -> np.ndarray:
    """The observation [N, D] float32 of an ONNX policy's SKUs (the env's, ``envs.kernel.observe``)."""
    p, meta = st.params, policy.meta
    return build_observations(meta["obs_names"], net=st.net, pipeline=st.pipeline, lags=st.lags,
                              scale=p["demand_scale"], lead=p["lead_time"],
                              lead_norm=float(meta["observation"]["lead_norm"]), calendar=st.calendar,
                              extra=st.extra, order_cost=p["order_cost"], holding_cost=p["holding_cost"],
                              recent=st.forecast_demand, forecast=pf.forecast_spec(meta), moq=p["moq"],
                              pack_size=p["pack_size"])


def _uses_covariates(policy: DeployedPolicy) -> bool:
    """Whether the policy reads known covariates (a learned forecaster trained with them)."""
    if policy.kind not in ("lgbm", "gru"):
        return False
    from .learned import features

    return bool(features(policy.meta, policy.path).covariates)


def policy_orders(policy: DeployedPolicy, st: State, covariates=None) -> tuple[np.ndarray, np.ndarray]:
    """(requested units before the order rules, inventory position) of every SKU; `covariates`: the table of
    known covariates of a learned policy that uses them (:mod:`deploy.learned`)."""
    p = st.params
    ip = inventory_position(st.net, st.pipeline)
    if policy.kind == "levels":
        lv = policy.meta["levels"]
        i = p["sku_index"]
        levels = {k: np.array([np.inf if x is None else x for x in lv[k]], dtype=np.float64)[i] for k in ("S", "s", "cap")}
        return level_units(levels, ip), ip
    if policy.kind in ("lgbm", "gru"):
        from .learned import learned_levels

        S = learned_levels(policy, st, covariates)
        return level_units({"S": S, "s": S, "cap": np.full(len(S), np.inf)}, ip), ip
    meta = policy.meta
    obs = observations(policy, st)
    # in batches: the hidden layers of 1,000,000 rows at once took 460 MiB in onnxruntime
    action = np.concatenate([policy.session.run(["action"], {"obs": obs[i:i + INFERENCE_BATCH]})[0]
                             for i in range(0, max(len(obs), 1), INFERENCE_BATCH)])
    lot = pf.reorder_lot(p["order_cost"], p["holding_cost"], p["demand_scale"]) \
        if meta["action"]["mode"] == "reorder_point" else None
    return pf.requested_units(action, meta["action"], p["demand_scale"], ip, lot), ip


def recommend(policy: DeployedPolicy, st: State, service_level: float = 0.95,
              requested: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """The orders table (see the module docstring); `requested` = :func:`policy_orders` if already computed.
    Computed in blocks of :data:`WRITE_BATCH` SKUs (every row depends on its own SKU only): the demand
    variability and the projections of 1,000,000 SKUs at once took several [N, periods] temporaries."""
    p = st.params
    want, ip = requested if requested is not None else policy_orders(policy, st)
    z = NormalDist().inv_cdf(service_level)
    n = len(ip)
    order = constrain(want, ip, p["moq"], p["pack_size"], p["max_order"], p["capacity"])
    cut = _shared_cut(policy, p, order, ip)  # across the whole warehouse, before the blocks
    if cut is not None:
        order = order - cut
    cols: dict[str, list[np.ndarray]] = {}
    for i in range(0, max(n, 1), WRITE_BATCH):
        sl = slice(i, i + WRITE_BATCH)
        block = _rows(order[sl], ip[sl], st.net[sl], st.pipeline[sl], st.recent[sl],
                      None if st.safety_stock is None else st.safety_stock[sl],
                      {k: p[k][sl] for k in ("lead_time", "demand_scale")}, z)
        for k, v in block.items():
            cols.setdefault(k, []).append(v)
    c = {k: np.concatenate(v) if len(v) > 1 else v[0] for k, v in cols.items()}
    del cols
    return pd.DataFrame(copy=False, data={
        "sku": st.sku, "order_qty": c["order"], "requested_qty": np.maximum(want, 0.0), "on_hand": st.on_hand,
        "inventory_position": ip, "inventory_position_after": c["after"], "demand_per_period": c["rate"],
        "periods_of_cover": c["cover"], "safety_stock": c["ss"], "lead_time": c["lead"],
        "projected_min_stock": c["low"], "stock_alert": c["alert"], "alert_reason": c["reason"],
        "policy": policy.label,
        **({"shared_cut_qty": cut} if cut is not None else {}),
    })


def _shared_cut(policy: DeployedPolicy, p: dict[str, np.ndarray], order: np.ndarray,
                ip: np.ndarray) -> np.ndarray | None:
    """Units cut from each order by the policy's shared capacity / budget (the state file = one warehouse;
    ``invcore.constraints.shared_cut``, as the engine cuts), or None without a shared limit."""
    ops = policy.meta.get("operations") or {}
    shared = ops.get("shared") or {}
    if shared.get("capacity") is None and shared.get("budget") is None:
        return None
    vol = np.asarray(ops.get("volume"), dtype=np.float64)[p["sku_index"]] if ops.get("volume") is not None \
        else np.ones(len(order))
    vol = np.where(p["sku_index"] >= 0, vol, 1.0)  # SKUs added by --items: volume 1
    inf = float("inf")
    after = shared_cut(order, ip, p["moq"], p["pack_size"], vol, p["unit_cost"] if "unit_cost" in p
                       else np.zeros(len(order)), inf if shared.get("capacity") is None else shared["capacity"],
                       inf if shared.get("budget") is None else shared["budget"])
    return order - after


def _rows(order: np.ndarray, ip: np.ndarray, net: np.ndarray, pipeline: np.ndarray, recent: np.ndarray,
          safety_stock: np.ndarray | None, p: dict[str, np.ndarray], z: float) -> dict[str, np.ndarray]:
    """The columns of :func:`recommend` for a block of SKUs (`order`: after the order rules and any shared cut)."""
    lead = p["lead_time"].astype(np.int64)
    # demand rate and variability: recent demand where given, else the demand scale (Poisson variability)
    n_obs = (~np.isnan(recent)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n_obs > 0, np.nansum(recent, axis=1) / np.maximum(n_obs, 1), p["demand_scale"])
        dev = recent - rate[:, None]
        np.multiply(dev, dev, out=dev)
        var = np.where(n_obs > 1, np.nansum(dev, axis=1) / np.maximum(n_obs - 1, 1), rate)
    del dev
    sigma = np.sqrt(np.maximum(var, 0.0))
    ss = safety_stock if safety_stock is not None else np.maximum(z * sigma * np.sqrt(lead + 1.0), 0.0)
    # projected stock at the end of periods 1..H (H = max(L, 1)): before an order placed now can arrive
    H = max(int(lead.max(initial=0)), 1)
    arrivals = np.zeros((len(ip), H))
    P = pipeline.shape[1]
    if H > 1 and P:
        arrivals[:, 1:min(H, P + 1)] = pipeline[:, :min(H - 1, P)]  # in_transit_k arrives at the start of k+1
    arrivals[:, 0] += np.where(lead == 0, order, 0.0)
    proj = net[:, None] + np.cumsum(arrivals, axis=1) - rate[:, None] * np.arange(1, H + 1)[None, :]
    horizon = np.maximum(lead, 1)
    proj = np.where(np.arange(1, H + 1)[None, :] <= horizon[:, None], proj, np.inf)
    low = proj.min(axis=1, initial=np.inf)
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
    return {"order": order, "lead": lead, "rate": rate, "ss": ss, "low": low, "alert": alert, "reason": reason,
            "after": after, "cover": cover}


def _csv_formats(df: pd.DataFrame) -> dict[str, str]:
    """Per float column: "int" (whole numbers, written as integers: faster, and how people read units), "round4"
    (derived figures: rates, cover, safety stock, projections) or nothing (other quantities kept exact)."""
    out = {}
    for c in df.columns:
        if df[c].dtype != np.float64:
            continue
        a = df[c].to_numpy()
        if np.isfinite(a).all() and (a == np.round(a)).all() and np.abs(a).max(initial=0) < 2**53:
            out[c] = "int"
        elif c in ("demand_per_period", "periods_of_cover", "safety_stock", "projected_min_stock"):
            out[c] = "round4"
    return out


def _for_csv(df: pd.DataFrame, formats: dict[str, str] | None = None) -> pd.DataFrame:
    """The table as written (:func:`_csv_formats`, decided on the whole table when `formats` is given)."""
    formats = _csv_formats(df) if formats is None else formats
    out = df.copy()
    for c, f in formats.items():
        a = out[c].to_numpy()
        out[c] = a.astype(np.int64) if f == "int" else np.round(a, 4)
    return out


def write_orders(df: pd.DataFrame, out: str | Path) -> None:
    """Write to a temporary file beside `out`, then rename it (a failure never leaves a partial file); in
    blocks of :data:`WRITE_BATCH` rows, formatted as decided on the whole table."""
    formats = _csv_formats(df)
    with atomic_open(out, "w", newline="") as f:
        for i in range(0, max(len(df), 1), WRITE_BATCH):
            _for_csv(df.iloc[i:i + WRITE_BATCH], formats).to_csv(f, index=False, header=i == 0)


def run(policy: str | Path, state: str | Path, out: str | Path, items=None, history=None, date=None,
        service_level: float = 0.95, threads: int = 1, timings: dict[str, float] | None = None,
        covariates=None) -> pd.DataFrame:
    """Load, validate, recommend and write; `timings` receives CPU-seconds per stage; `covariates`: the table
    of known covariates (date,sku,<columns>) of a learned policy trained with them (default: `history`)."""
    if not 0 < service_level < 1:
        raise DeployError(f"--service-level {service_level}: expected a probability in (0, 1)")
    check_threads(threads)
    problem = output_file_error(out)
    if problem:
        raise DeployError(f"--out {out}: {problem}")
    t = {} if timings is None else timings
    c0 = time.process_time()
    pol = load_policy(policy, threads)
    if covariates is not None and not _uses_covariates(pol):
        raise DeployError(f"--covariates {covariates}: {policy} uses no known covariates (only a LightGBM or GRU "
                          "forecaster exported from a scenario with data.covariates does)")
    c1 = time.process_time()
    try:
        st = read_state(pol, state, items, history, date)
        c2 = time.process_time()
        requested = policy_orders(pol, st, covariates if covariates is not None else history)
    except (KeyError, TypeError, IndexError, AttributeError) as e:  # metadata that passed the checks, but not use
        raise DeployError(f"{policy}: corrupt policy metadata ({type(e).__name__}: {str(e)[:200]})") from None
    c3 = time.process_time()
    df = recommend(pol, st, service_level, requested)
    c4 = time.process_time()
    try:
        write_orders(df, out)
    except OSError as e:
        raise DeployError(f"--out {out}: cannot write ({e.strerror or e})") from None
    c5 = time.process_time()
    t.update({"load_policy": c1 - c0, "load_validate": c2 - c1, "inference": c3 - c2,
              "rounding_alerts": c4 - c3, "write": c5 - c4, "total": c5 - c0})
    return df


MAX_THREADS_PER_CPU = 4


def check_threads(threads: int) -> None:
    """``--threads`` in 1 .. 4 x the CPUs (onnxruntime's thread pool; 100,000 threads crashed the process)."""
    top = MAX_THREADS_PER_CPU * (os.cpu_count() or 1)
    if not isinstance(threads, int) or not 1 <= threads <= top:
        raise DeployError(f"--threads {threads}: expected 1 to {top} (4 x the {os.cpu_count() or 1} CPUs)")


def main(argv: list[str] | None = None, prog: str = "python -m deploy.recommend") -> int:
    from invcore.cli import HelpFormatter

    ap = argparse.ArgumentParser(prog=prog, formatter_class=HelpFormatter,
                                 description="Recommend orders per SKU from an exported policy (see docs/deploy.md).")
    ap.add_argument("--policy", required=True, help="policy.onnx (agent; gru_quantile), a baseline's levels .json "
                    "or a LightGBM .json")
    ap.add_argument("--state", required=True, help="state file: one row per SKU (CSV, CSV.gz or Parquet)")
    ap.add_argument("--out", required=True, help="orders CSV to write")
    ap.add_argument("--items", help="per-SKU parameters: new SKUs (demand_scale, lead_time, ...) and overrides")
    ap.add_argument("--history", help="long demand table date,sku,demand (instead of demand_lag_* columns)")
    ap.add_argument("--date", help="the period being planned, YYYY-MM-DD (calendar features)")
    ap.add_argument("--covariates", help="long table date,sku,<columns> of the known covariates (price, snap, "
                    "event, ...) of a learned policy trained with them: the periods being planned (--date .. "
                    "--date + L) and the ones before (default: the --history file)")
    ap.add_argument("--service-level", type=float, default=0.95,
                    help="cycle service level of the alert's safety stock z sigma sqrt(L+1) (default 0.95)")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default 1)")
    args = ap.parse_args(argv)
    try:
        t: dict[str, float] = {}
        df = run(args.policy, args.state, args.out, args.items, args.history, args.date, args.service_level,
                 args.threads, t, args.covariates)
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
