"""statsmodels fits of the forecast baselines (:mod:`baselines.forecast`): Holt-Winters and ARIMA fitted once
per series, giving the parameters and prior state that :mod:`baselines.forecast_engines` rolls forward, and the
one-BLAS-thread guard around the fits. Imports numpy and the standard library (statsmodels lazily) only.
"""

from __future__ import annotations

import ctypes
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

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
def _cached_fit(kind: str, key: bytes, m: int) -> tuple[dict, np.ndarray] | None:
    """One statsmodels fit per (model, series, season): a tuned and an untuned policy on the same training data
    share it. Callers must not modify the returned record."""
    y = np.frombuffer(key, dtype=np.float64)
    return _fit_holt_winters(y, m) if kind == "hw" else _fit_arima(y)
