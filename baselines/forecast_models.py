"""Model fits of the forecast baselines (:mod:`baselines.forecast`), giving the parameters and prior state that
:mod:`baselines.forecast_engines` rolls forward: Holt-Winters for all series at once (a numba grid search,
:func:`fit_holt_winters_batch`), ARIMA once per series by statsmodels, with the one-BLAS-thread guard around
those fits; statsmodels' Holt-Winters fit (:func:`_fit_holt_winters`) stays as the reference of the engine's
recursion (tests) and of the fit benchmark (``benchmarks/fit_libraries.py``). Imports numpy, numba and the
standard library (statsmodels lazily) only.
"""

from __future__ import annotations

import ctypes
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
from numba import njit

_BLAS_THREADS = (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                 ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
                 ("openblas_get_num_threads", "openblas_set_num_threads"))


_BLAS_DEPTH = 0


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Run the block with every loaded OpenBLAS (numpy's and scipy's copies) on one thread, then restore.

    statsmodels' fits make many tiny matrix products; with OpenBLAS's worker threads on, and more so on a busy
    machine, where they spin-wait, a fit costs 10-40 times the CPU time (measured here: 28 ARIMA(1,0,1) fits of
    38 periods, 0.55 CPU-s on one thread against 5-23 CPU-s with the default threads). What
    ``threadpoolctl.threadpool_limits(1, "blas")`` does (not a dependency): process-wide while the block runs;
    Linux only, a no-op elsewhere.
    """
    global _BLAS_DEPTH
    if _BLAS_DEPTH:  # inside an outer block (e.g. the fitting loop of _ModelPolicy): already on one thread
        yield
        return
    restore = []
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower()})
    except OSError:
        paths = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, put in _BLAS_THREADS:
            g, p = getattr(lib, get, None), getattr(lib, put, None)
            if g is not None and p is not None:
                restore.append((p, int(g())))
                p(1)
                break
    _BLAS_DEPTH += 1
    try:
        yield
    finally:
        _BLAS_DEPTH -= 1
        for p, n in restore:
            p(n)


def _fit_holt_winters(y: np.ndarray, m: int) -> tuple[dict, np.ndarray] | None:
    """statsmodels ExponentialSmoothing on `y`: additive damped trend or no trend (the lower AICc), additive
    season of length m if y holds two full seasons. Returns (parameters, statsmodels' one-step fitted values)
    or None if no fit succeeded. statsmodels' warnings are silenced here only."""
    # imported before catch_warnings: statsmodels sets warning filters when first imported, which the block
    # would discard on exit
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    seasonal = m >= 2 and y.shape[0] >= 2 * m
    best = None
    for trend in ("add", None):
        try:
            with _one_blas_thread(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = ExponentialSmoothing(
                    y, trend=trend, damped_trend=trend is not None, seasonal="add" if seasonal else None,
                    seasonal_periods=m if seasonal else None, initialization_method="estimated").fit(use_brute=False)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            continue
        crit = res.aicc if np.isfinite(res.aicc) else res.aic
        if np.isfinite(crit) and np.all(np.isfinite(res.fittedvalues)) and (best is None or crit < best[0]):
            best = (crit, trend, res)
    if best is None:
        return None
    _, trend, res = best
    p = res.params
    rec = {
        "alpha": float(p["smoothing_level"]),
        "beta": float(p["smoothing_trend"]) if trend else 0.0,
        "phi": float(p["damping_trend"]) if trend else 0.0,
        "gamma": float(p["smoothing_seasonal"]) if seasonal else 0.0,
        "m": m if seasonal else 1,
        "level": float(p["initial_level"]),
        "trend": float(p["initial_trend"]) if trend else 0.0,
        "seasons": np.asarray(p["initial_seasons"], dtype=np.float64) if seasonal else np.zeros(1),
    }
    return rec, np.asarray(res.fittedvalues, dtype=np.float64)


ARIMA_ORDERS = (((1, 0, 1), "c"), ((0, 1, 1), "n"), ((1, 1, 1), "n"))
"""ARIMA orders (and trend) compared by AIC: ARMA(1,1) with a mean, the SES-equivalent IMA(1,1), ARIMA(1,1,1)."""


def _fit_arima(y: np.ndarray, orders=ARIMA_ORDERS) -> tuple[dict, np.ndarray] | None:
    """statsmodels ARIMA on `y` for each order, the lowest AIC kept: its state-space matrices and prior, and
    statsmodels' one-step fitted values; None if no fit succeeded. statsmodels' warnings are silenced here only."""
    from statsmodels.tsa.arima.model import ARIMA as _SMARIMA  # before catch_warnings, see _fit_holt_winters

    best = None
    for order, trend in orders:
        try:
            with _one_blas_thread(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = _SMARIMA(y, order=order, trend=trend).fit(low_memory=True, cov_type="none")
        except (ValueError, ArithmeticError, np.linalg.LinAlgError, IndexError):
            continue
        if np.isfinite(res.aic) and (best is None or res.aic < best[0]):
            best = (res.aic, order, res)
    if best is None:
        return None
    _, order, res = best
    fr = res.filter_results
    R, Q = fr.selection[:, :, 0], fr.state_cov[:, :, 0]
    rec = {
        "order": order,
        "T": np.array(fr.transition[:, :, 0]),
        "Z": np.array(fr.design[0, :, 0]),
        "RQR": R @ Q @ R.T,
        "d": float(np.asarray(fr.obs_intercept)[0, -1]),
        "H": float(fr.obs_cov[0, 0, 0]),
        "a": np.array(fr.initial_state, dtype=np.float64),
        "P": np.array(fr.initial_state_cov, dtype=np.float64),
    }
    return rec, np.asarray(res.fittedvalues, dtype=np.float64)


@lru_cache(maxsize=8192)
def _cached_arima(key: bytes) -> tuple[dict, np.ndarray] | None:
    """One statsmodels ARIMA fit per series: a tuned and an untuned policy on the same training data share it.
    Callers must not modify the returned record."""
    return _fit_arima(np.frombuffer(key, dtype=np.float64))


# ------------------------------------------------------------------ batched Holt-Winters fit (all SKUs at once)
HW_ALPHA = (0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8)
"""Level smoothing constants of the batched Holt-Winters grid."""
HW_BETA = (0.01, 0.05, 0.2)
"""Trend smoothing constants (component form, b_t = beta (l_t - l_{t-1}) + (1 - beta) phi b_{t-1})."""
HW_PHI = (0.8, 0.9, 0.98)
"""Damping factors of the damped-trend candidates."""
HW_GAMMA = (0.01, 0.05, 0.1, 0.2)
"""Seasonal smoothing constants."""


def hw_grid(seasonal: bool) -> np.ndarray:
    """Candidates [G, 5] = (alpha, beta, phi, gamma, seasonal 0/1): level only, damped trend, and (if
    `seasonal`) both with an additive season; beta = phi = 0 means no trend."""
    rows = [(a, 0.0, 0.0, 0.0, 0.0) for a in HW_ALPHA]
    rows += [(a, b, p, 0.0, 0.0) for a in HW_ALPHA for b in HW_BETA for p in HW_PHI]
    if seasonal:
        rows += [(a, b, p, g, 1.0) for a, b, p, _, _ in list(rows) for g in HW_GAMMA]
    return np.array(rows, dtype=np.float64)


@njit(cache=True)
def _hw_grid_sse(Y, first, nobs, burn, phase0, m, level0, seasons0, grid, sse, cnt) -> None:
    """One-step SSE (forecasts clipped at 0, after burn-in) of every grid row on every column: the recursion of
    forecast_engines._HoltWintersEngine from the prior (level0, trend 0, seasons0 or 0) over Y[first:nobs, j]."""
    n, G = Y.shape[1], grid.shape[0]
    s = np.zeros(m)
    for j in range(n):
        for g in range(G):
            a, b, phi, gam = grid[g, 0], grid[g, 1], grid[g, 2], grid[g, 3]
            use_season = grid[g, 4] > 0
            for k in range(m):
                s[k] = seasons0[j, k] if use_season else 0.0
            lv, tr = level0[j], 0.0
            acc, c = 0.0, 0
            for r in range(first[j], nobs[j]):
                pos = (phase0[j] + r - first[j]) % m
                prev = lv + phi * tr
                f = prev + s[pos]
                y = Y[r, j]
                if r - first[j] >= burn[j]:
                    e = y - (f if f > 0.0 else 0.0)
                    acc += e * e
                    c += 1
                new = a * (y - s[pos]) + (1.0 - a) * prev
                tr = b * (new - lv) + (1.0 - b) * phi * tr
                if use_season:
                    s[pos] = gam * (y - prev) + (1.0 - gam) * s[pos]
                lv = new
            sse[j, g] = acc
            cnt[j, g] = c


def fit_holt_winters_batch(Y: np.ndarray, first: np.ndarray, nobs: np.ndarray, burn: np.ndarray, m: int
                           ) -> list[dict | None]:
    """Additive Holt-Winters for every column j of Y on its rows first[j]:nobs[j], all columns in one numba
    pass: the :func:`hw_grid` candidate with the lowest AICc of the one-step errors after burn-in
    (n log(SSE / n) + 2k + 2k(k + 1) / (n - k - 1), k = 2 for the level (alpha, l_0), + 2 for a damped trend
    (beta, phi), + m for a season (gamma, m - 1 free seasonal states)). Prior state: l_0 = the mean of the
    window, b_0 = 0, s_0 = the mean of each phase minus l_0 (zero without a season); a season is tried when the
    window holds two full seasons. Returns per column the record of ``_fit_holt_winters`` (seasons in the
    window's phase: seasons[k] is the term of the window's k-th value mod m), or None (fewer than k + 2
    errors: the caller falls back to SES)."""
    n = Y.shape[1]
    first, nobs, burn = (np.asarray(v, dtype=np.int64) for v in (first, nobs, burn))
    length = nobs - first
    seasonal = m >= 2 and bool(np.any(length >= 2 * m))
    mm = m if seasonal else 1
    seasons0 = np.zeros((n, mm))
    rows = np.arange(Y.shape[0])[:, None]
    inside = (rows >= first[None, :]) & (rows < nobs[None, :])
    level0 = np.where(inside, Y, 0.0).sum(axis=0) / np.maximum(length, 1)
    if seasonal:
        phase = (rows - first[None, :]) % mm
        for k in range(mm):
            sel = inside & (phase == k)
            seasons0[:, k] = np.where(sel, Y, 0.0).sum(axis=0) / np.maximum(sel.sum(axis=0), 1) - level0
    grid = hw_grid(seasonal)
    sse = np.zeros((n, grid.shape[0]))
    cnt = np.zeros((n, grid.shape[0]), dtype=np.int64)
    _hw_grid_sse(np.ascontiguousarray(Y, dtype=np.float64), first, nobs, burn, np.zeros(n, dtype=np.int64), mm,
                 level0, seasons0, grid, sse, cnt)
    k = 2 + 2 * (grid[:, 1] > 0) + mm * (grid[:, 4] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ne = cnt.astype(np.float64)
        aicc = ne * np.log(np.maximum(sse, 1e-12) / ne) + 2 * k + 2 * k * (k + 1) / (ne - k - 1)
    aicc = np.where(ne >= k + 2, aicc, np.inf)
    # a window too short for two seasons may not take a seasonal candidate
    aicc = np.where((grid[None, :, 4] > 0) & (length[:, None] < 2 * mm), np.inf, aicc)
    best = aicc.argmin(axis=1)
    out: list[dict | None] = []
    for j in range(n):
        g = int(best[j])
        if not np.isfinite(aicc[j, g]):
            out.append(None)
            continue
        a, b, phi, gam, seas = grid[g]
        out.append({"alpha": float(a), "beta": float(b), "phi": float(phi), "gamma": float(gam),
                    "m": mm if seas > 0 else 1, "level": float(level0[j]), "trend": 0.0,
                    "seasons": seasons0[j].copy() if seas > 0 else np.zeros(1)})
    return out
