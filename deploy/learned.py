"""The learned forecasters' order-up-to levels at deploy time: policy files of kind ``lgbm`` (``python -m
agents.export --baseline lgbm_quantile``, a JSON file) and ``gru`` (``--baseline gru_quantile``, an ONNX file).

An ``lgbm`` file holds the booster in LightGBM's own text format (loaded with ``lightgbm.Booster(model_str=...)``:
no pickle), the features (:class:`invcore.forecast_features.Features`, the same code that made the training rows)
and each SKU's safety stock. A ``gru`` file is the GRU and its head in ONNX (input ``x`` float32 [T, N, d]: the
GRU's inputs period by period, oldest first, :func:`invcore.forecast_features.gru_inputs`; ``h0`` [1, N, hidden]
zeros; ``lh`` [N] log(L + 2); output ``mean`` [N]: the mean demand per period over L + 1 in units of s) with the
same metadata in ``metadata_props``. From the demand history (``--history``: every period of each SKU since its
first, as the policy saw it in training) and the date of the period being planned (``--date`` or a ``date``
column: the calendar features), the level is ``S = (L + 1) max(model, 0) s + safety_stock`` (s = the SKU's mean
demand over its history); the order is ``S - inventory position`` before MOQ / pack size / caps.

A policy trained with known covariates (``data: covariates:``, e.g. M5's price, snap and event) reads them from
``--covariates`` (default: the ``--history`` file): a long table ``date,sku,<the columns>`` with the rows of the
periods being planned (--date .. --date + L: required, one line names a missing one) and of the
``Features.recent`` periods before (the GRU: of its whole history); a period without a row counts as unknown,
as before a SKU's first row in training. The period grid is the training data's (``freq`` in the file).

LightGBM is imported only for ``lgbm`` policies; deploy needs neither torch nor the training code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from invcore.forecast_features import (
    CovariateTable,
    Features,
    covariate_values,
    gru_inputs,
    history_inputs,
    scale,
)

from .errors import DeployError


def load_booster(meta: dict[str, Any], source: str):
    """The booster of a ``kind: lgbm`` policy (metadata already checked by ``policyfile.check_metadata``)."""
    try:
        import lightgbm as lgb
    except ImportError:
        raise DeployError(f"{source}: a LightGBM policy needs the lightgbm package (pip install lightgbm)") from None
    try:
        booster = lgb.Booster(model_str=meta["model"])
    except lgb.basic.LightGBMError as e:
        raise DeployError(f"{source}: corrupt LightGBM model text ({str(e).splitlines()[0]})") from None
    spec = features(meta, source)
    if booster.num_feature() != len(spec.names):
        raise DeployError(f"{source}: the LightGBM model reads {booster.num_feature()} features, the policy's feature "
                          f"list has {len(spec.names)}: re-export the policy")
    return booster


def check_gru_session(sess, meta: dict[str, Any], source: str) -> None:
    """The ONNX graph of a ``kind: gru`` policy has the inputs x, h0, lh and the output mean, x of the width its
    features give."""
    spec = features(meta, source)
    d = 4 + spec.n_calendar + len(spec.covariate_names)
    ins = {i.name: i.shape for i in sess.get_inputs()}
    outs = [o.name for o in sess.get_outputs()]
    if set(ins) != {"x", "h0", "lh"} or outs != ["mean"] or len(ins["x"]) != 3 or ins["x"][2] != d:
        raise DeployError(f"{source}: the GRU graph's inputs {ins} / outputs {outs} do not match its metadata "
                          f"(x [T, N, {d}], h0, lh -> mean): re-export the policy")


def features(meta: dict[str, Any], source: str) -> Features:
    try:
        return Features.from_json(meta["features"], source)
    except ValueError as e:
        raise DeployError(str(e)) from None


def _check_lead(meta: dict[str, Any], sku_index: np.ndarray, lead: np.ndarray, what: str) -> None:
    names = meta["skus"]["sku"]
    trained = np.array(meta["skus"]["lead_time"], dtype=np.float64)[sku_index]
    bad = np.flatnonzero(trained != lead)
    if bad.size:
        i = int(bad[0])
        raise DeployError(f"SKU {names[sku_index[i]]!r}: lead time {lead[i]:g} but the {what} policy's safety stock "
                          f"was computed for lead time {trained[i]:g}; re-export the policy with this lead time")


def learned_levels(policy, st, covariates=None) -> np.ndarray:
    """Order-up-to levels [N] of the state's SKUs for a ``lgbm`` or ``gru`` policy (:class:`deploy.state.State`
    with the whole history; `covariates`: the ``--covariates`` table, default the history file)."""
    p = st.params
    if policy.kind == "lgbm":
        return lgbm_levels(policy, st.history, st.calendar, p["sku_index"], p["lead_time"],
                           _covariates(policy, st, covariates, back=0))
    return gru_levels(policy, st, covariates)


def lgbm_levels(policy, history: np.ndarray, calendar: np.ndarray, sku_index: np.ndarray,
                lead: np.ndarray, cov: tuple[CovariateTable, int] | None = None) -> np.ndarray:
    """Order-up-to levels [N] of the state's SKUs: `history` [N, periods] (column k-1 = k periods ago, NaN
    before a SKU's first period), `calendar` [N, c] of the period being planned, the SKUs' rows of the policy's
    SKU table (all known: ``deploy.state.sku_parameters`` refuses others), their lead times and (a policy with
    covariates) their table with the period being planned at the given index."""
    meta = policy.meta
    spec = features(meta, policy.path)
    _check_lead(meta, sku_index, lead, "LightGBM")
    buf, total, count = history_inputs(history, spec.window)
    H = lead + 1
    known = calendar
    if spec.covariates:
        table, origin = cov
        n = len(lead)
        known = np.concatenate([calendar, spec.covariate_features(table, np.arange(n), np.full(n, origin),
                                                                  H.astype(np.int64))], axis=1)
    X, s = spec.compute(buf, total, count, H, known)
    mean = np.maximum(np.asarray(policy.session.predict(X, num_threads=1), dtype=np.float64), 0.0) * s
    return H * mean + np.array(meta["safety_stock"], dtype=np.float64)[sku_index]


def gru_levels(policy, st, covariates=None) -> np.ndarray:
    """Order-up-to levels of a ``gru`` policy: the GRU run over each SKU's whole history (one ONNX call per
    history length), its head read after the last value."""
    meta = policy.meta
    spec = features(meta, policy.path)
    p = st.params
    lead, sku_index = p["lead_time"], p["sku_index"]
    _check_lead(meta, sku_index, lead, "GRU")
    hist = st.history  # [N, K] column k-1 = k periods ago
    n, K = hist.shape
    length = np.isfinite(hist).sum(axis=1)
    H = (lead + 1).astype(np.int64)
    # period j = 0 .. K of the sequence: the value K - j periods ago (j < K), the period being planned (j = K)
    seq = hist[:, ::-1]  # oldest first, NaN-padded at the start
    known = np.zeros((n, K, spec.n_calendar + len(spec.covariate_names)))
    if K:
        offsets = np.arange(-K + 1, 1)  # the period after value j, in periods from the one being planned
        dates = _period_dates(meta, st.planned, offsets)  # [N, K]
        from invcore.calendar import calendar_features

        known[:, :, :spec.n_calendar] = calendar_features(dates.reshape(-1), spec.daily).reshape(n, K, -1)
        if spec.covariates:
            table, origin = _covariates(policy, st, covariates, back=K - 1)
            orig = origin + offsets
            cf = spec.covariate_features(table, np.repeat(np.arange(n), K), np.tile(orig, n), np.repeat(H, K))
            known[:, :, spec.n_calendar:] = cf.reshape(n, K, -1)
    mean = np.zeros(n)
    hidden = int(meta["gru"]["hidden"])
    lh = np.log1p(H.astype(np.float64)).astype(np.float32)
    for ell in np.unique(length):  # read_history refuses a SKU without history: ell >= 1
        rows = np.flatnonzero(length == ell)
        y = seq[rows, K - ell:]
        total = np.cumsum(y, axis=1)
        count = np.broadcast_to(np.arange(1, ell + 1, dtype=np.float64), y.shape)
        x = gru_inputs(y, total, count, known[rows, K - ell:]).transpose(1, 0, 2)  # [ell, n_g, d]
        h0 = np.zeros((1, rows.size, hidden), np.float32)
        out = policy.session.run(["mean"], {"x": np.ascontiguousarray(x), "h0": h0, "lh": lh[rows]})[0]
        mean[rows] = np.maximum(out.astype(np.float64), 0.0) * scale(total[:, -1], count[:, -1])
    return H * mean + np.array(meta["safety_stock"], dtype=np.float64)[sku_index]


# ------------------------------------------------------------------------------------------ covariates
def _period_dates(meta: dict[str, Any], planned: np.ndarray | None, offsets: np.ndarray) -> np.ndarray:
    """[N, len(offsets)] datetime64[D]: the period `offsets[j]` periods from each SKU's planned one on the
    training data's grid (``freq`` of the policy file)."""
    import pandas as pd

    if planned is None:
        raise DeployError("the policy uses calendar features; give the period being planned as --date YYYY-MM-DD "
                          "or a 'date' column")
    freq = meta.get("freq")
    if not isinstance(freq, str):
        raise DeployError("corrupt learned policy metadata (no period grid 'freq'): re-export the policy")
    off = pd.tseries.frequencies.to_offset(freq)
    out = np.empty((len(planned), len(offsets)), dtype="datetime64[D]")
    lo, hi = int(min(offsets.min(initial=0), 0)), int(max(offsets.max(initial=0), 0))
    for u in np.unique(planned):
        ts = pd.Timestamp(u)
        if not off.is_on_offset(ts):
            raise DeployError(f"--date {str(u)}: not a period of the policy's {freq} grid (the training data's "
                              "periods); expected the first day of the period being planned")
        back = pd.date_range(end=ts, periods=-lo + 1, freq=off)
        ahead = pd.date_range(start=ts, periods=hi + 1, freq=off)
        grid = np.concatenate([back[:-1].to_numpy(), ahead.to_numpy()]).astype("datetime64[D]")
        out[planned == u] = grid[offsets - lo]
    return out


def _covariates(policy, st, path, back: int) -> tuple[CovariateTable, int] | None:
    """The covariates of the state's SKUs from `path` (default: the history file) as a table whose period
    ``back + recent`` is the one being planned: the `back` + ``recent`` periods before it (unknown where the file
    has no row) and the L + 1 from it (a row each required)."""
    meta = policy.meta
    spec = features(meta, policy.path)
    if not spec.covariates:
        return None
    cols = [c for c, _ in spec.covariates]
    if path is None:
        raise DeployError(f"{policy.path}: the policy uses the known covariates {', '.join(cols)}; give --covariates "
                          f"(date,sku,{','.join(cols)}: the periods being planned and the {spec.recent} before)")
    from .state import read_table

    df, where = read_table(path, "covariates", ["date", "sku", *cols])
    import pandas as pd

    B = back + spec.recent
    H = (st.params["lead_time"] + 1).astype(np.int64)
    offsets = np.arange(-B, int(H.max(initial=1)))
    dates = _period_dates(meta, st.planned, offsets)  # [N, P]
    n, P = dates.shape
    names = pd.Index(df["sku"].astype("string").str.strip())
    pos = pd.Index(st.sku).get_indexer(names)
    day = pd.to_datetime(df["date"].astype("string"), errors="coerce", format="%Y-%m-%d")
    bad = day.isna().to_numpy() & (pos >= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DeployError(f"{where.at('date', i)}: cannot parse date {df['date'].iloc[i]!r}; expected YYYY-MM-DD")
    day = day.to_numpy().astype("datetime64[D]")
    keep = np.flatnonzero(pos >= 0)
    r = pos[keep]
    # period index of each kept row in its SKU's grid (the grid is sorted)
    p = np.zeros(keep.size, dtype=np.int64)
    for u in np.unique(st.planned):  # one grid per planned date (usually one)
        g = np.flatnonzero(st.planned[r] == u)
        p[g] = np.searchsorted(dates[r[g[0]]], day[keep][g]) if g.size else 0
    on = (p < P) & (dates[r, np.minimum(p, P - 1)] == day[keep])
    keep, r, p = keep[on], r[on], p[on]
    values = np.full((len(cols), n, P), np.nan)
    have = np.zeros((n, P), dtype=bool)
    have[r, p] = True
    sub = df.iloc[keep].reset_index(drop=True)
    sub_where = _Rows(where, keep)
    for j, (c, kind) in enumerate(spec.covariates):
        values[j, r, p] = covariate_values(sub[c], kind, sub_where, c)
    need = (offsets[None, :] >= 0) & (offsets[None, :] < H[:, None])
    miss = need & ~have
    if miss.any():
        i, q = (int(v[0]) for v in np.nonzero(miss))
        raise DeployError(f"{where.source}: no covariate row for SKU {st.sku[i]!r} on {dates[i, q]}; the policy reads "
                          f"{', '.join(cols)} of the periods being planned ({dates[i, B]} .. "
                          f"{dates[i, B + H[i] - 1]}): add those rows (--covariates)")
    return CovariateTable(tuple(cols), values), B


class _Rows:
    """A :class:`invcore.tables.Where` for a subset of a table's rows (messages name the original rows)."""

    def __init__(self, where, rows: np.ndarray):
        self._w, self._rows = where, rows
        self.source, self.error = where.source, where.error

    def row(self, i: int) -> str:
        return self._w.row(int(self._rows[i]))

    def at(self, column: str, i: int) -> str:
        return self._w.at(column, int(self._rows[i]))
