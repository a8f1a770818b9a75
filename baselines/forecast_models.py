"""Model fits of the forecast baselines (:mod:`baselines.forecast`), giving the parameters and prior state that
:mod:`baselines.forecast_engines` rolls forward, for all series at once in one numba pass each: Holt-Winters (a
grid search, :func:`fit_holt_winters_batch`) and ARIMA (exact maximum likelihood, :func:`fit_arima_batch`).
statsmodels' fits of the same models (:func:`_fit_holt_winters`, :func:`_fit_arima`, with the one-BLAS-thread
guard around them) stay as the references of the engines' recursions and of the batched fits (tests) and of
the fit benchmark (``benchmarks/fit_libraries.py``). Imports numpy, numba and the standard library
(statsmodels lazily) only.
"""

from __future__ import annotations

import ctypes
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

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
    if _BLAS_DEPTH:  # inside an outer block (e.g. a benchmark timing many fits): already on one thread
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
        "aic": float(res.aic),
    }
    return rec, np.asarray(res.fittedvalues, dtype=np.float64)


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


# ------------------------------------------------------------------------ batched ARIMA fit (all SKUs at once)
ARIMA_DIFFUSE = 1e6
"""Prior variance of the integrated state of a d = 1 model (statsmodels' approximate diffuse initialisation)."""
ARIMA_STATES = 3
"""State dimension every ARIMA record is padded to: max(p, q + 1) + d over :data:`ARIMA_ORDERS`. One size for
every catalogue and SKU chunk, so that the Kalman engine's arrays (and floats) do not depend on which SKUs were
fitted together."""
_NM_FTOL = 1e-4
"""Nelder-Mead stops when the simplex's values of -2 llf agree to this (and its size is under _NM_XTOL)."""
_NM_XTOL = 1e-3
_NM_STEP = 0.5
"""Nelder-Mead's first simplex: the best grid point and steps of this size in x."""
_X_MAX = 60.0
"""Bound of the unconstrained parameters x: phi, theta = x / sqrt(1 + x^2), |phi|, |theta| <= 0.99986."""


@njit(cache=True)
def _arma_profile(w, start, stop, phi, theta, demean):
    """-2 x the exact Gaussian log-likelihood of w[start:stop] under a stationary ARMA(1, 1)
    w_t - mu = phi (w_{t-1} - mu) + e_t + theta e_{t-1}, with the mean (if `demean`, else mu = 0) and the
    innovation variance at their maximum-likelihood values given (phi, theta); returns (-2 llf, mu, sigma2).

    The Kalman filter of the state-space form statsmodels uses (state (w_t - mu, theta e_t), T = [[phi, 1],
    [0, 0]], Z = (1, 0), R = (1, theta)', stationary prior), run with unit innovation variance: its second
    predicted state is always 0 and only P_11 moves, F_1 = (1 + 2 phi theta + theta^2) / (1 - phi^2),
    F_{t+1} = 1 + theta^2 - theta^2 / F_t -> 1, gain phi + theta / F_t (the steady state F = 1 once F - 1 <
    1e-13). The same filter on a column of ones gives the GLS mean (Harvey 1989, sec. 3.4: the likelihood is
    concentrated in mu and sigma2)."""
    n = stop - start
    F = (1.0 + 2.0 * phi * theta + theta * theta) / (1.0 - phi * phi)
    a, b = 0.0, 0.0
    syy, sy1, s11 = 0.0, 0.0, 0.0
    slog, prod = 0.0, 1.0
    th2 = theta * theta
    t = start
    while t < stop:
        inv = 1.0 / F
        v = w[t] - a
        v1 = 1.0 - b
        syy += v * v * inv
        sy1 += v * v1 * inv
        s11 += v1 * v1 * inv
        prod *= F
        if prod > 1e100:
            slog += np.log(prod)
            prod = 1.0
        g = phi + theta * inv
        a = phi * a + g * v
        b = phi * b + g * v1
        F = 1.0 + th2 - th2 * inv
        t += 1
        if F - 1.0 < 1e-13:  # converged (F_t -> 1 geometrically): the steady-state filter, F = 1
            break
    g = phi + theta
    while t < stop:
        v = w[t] - a
        v1 = 1.0 - b
        syy += v * v
        sy1 += v * v1
        s11 += v1 * v1
        a = phi * a + g * v
        b = phi * b + g * v1
        t += 1
    slog += np.log(prod)
    mu, ssr = 0.0, syy
    if demean and s11 > 0.0:
        mu = sy1 / s11
        ssr = syy - sy1 * mu
    sigma2 = ssr / n
    if not sigma2 > 1e-12:
        return np.inf, mu, sigma2
    return n * (np.log(2.0 * np.pi) + 1.0 + np.log(sigma2)) + slog, mu, sigma2


@njit(cache=True)
def _arma_objective(w, start, stop, x0, x1, ar, demean):
    phi = x0 / np.sqrt(1.0 + x0 * x0) if ar else 0.0
    return _arma_profile(w, start, stop, phi, x1 / np.sqrt(1.0 + x1 * x1), demean)[0]


@njit(cache=True)
def _arma_nelder_mead(w, start, stop, ar, demean, max_evals):
    """Minimise :func:`_arma_objective` over x = (x_phi, x_theta) (x_theta alone if not `ar`): the best point
    of a small grid, then Nelder-Mead (standard coefficients) until the simplex's values agree to 1e-8 and its
    size is under 1e-4, or max_evals evaluations. Returns (x_phi, x_theta, value, evaluations)."""
    k = 2 if ar else 1
    best_f, bx0, bx1 = np.inf, 0.0, 0.0
    phis = np.array([-0.5, 0.2, 0.6, 0.9]) if ar else np.zeros(1)
    thetas = np.array([-0.9, -0.6, -0.2, 0.3])
    for p0 in phis:
        for t0 in thetas:
            x0, x1 = p0 / np.sqrt(1.0 - p0 * p0), t0 / np.sqrt(1.0 - t0 * t0)
            f = _arma_objective(w, start, stop, x0, x1, ar, demean)
            if f < best_f:
                best_f, bx0, bx1 = f, x0, x1
    evals = phis.shape[0] * thetas.shape[0]
    sx = np.empty((k + 1, 2))
    sf = np.empty(k + 1)
    for i in range(k + 1):
        sx[i, 0], sx[i, 1] = bx0, bx1
    for i in range(1, k + 1):
        d = 2 - k + i - 1  # the coordinate moved: ar: 0 then 1; no ar: 1
        sx[i, d] += _NM_STEP
    for i in range(k + 1):
        sf[i] = best_f if i == 0 else _arma_objective(w, start, stop, sx[i, 0], sx[i, 1], ar, demean)
    evals += k
    c = np.empty(2)
    xr = np.empty(2)
    xe = np.empty(2)
    while evals < max_evals:
        order = np.argsort(sf)
        sx, sf = sx[order], sf[order]
        size = 0.0
        for i in range(1, k + 1):
            for d in range(2):
                size = max(size, abs(sx[i, d] - sx[0, d]))
        if sf[k] - sf[0] <= _NM_FTOL and size < _NM_XTOL:
            break
        c[:] = 0.0
        for i in range(k):
            c += sx[i]
        c /= k
        for d in range(2):
            xr[d] = min(max(c[d] + (c[d] - sx[k, d]), -_X_MAX), _X_MAX)
        fr = _arma_objective(w, start, stop, xr[0], xr[1], ar, demean)
        evals += 1
        if fr < sf[0]:
            for d in range(2):
                xe[d] = min(max(c[d] + 2.0 * (c[d] - sx[k, d]), -_X_MAX), _X_MAX)
            fe = _arma_objective(w, start, stop, xe[0], xe[1], ar, demean)
            evals += 1
            if fe < fr:
                sx[k], sf[k] = xe, fe
            else:
                sx[k], sf[k] = xr, fr
        elif fr < sf[k - 1]:
            sx[k], sf[k] = xr, fr
        else:
            outside = fr < sf[k]
            for d in range(2):
                xe[d] = c[d] + 0.5 * ((xr[d] if outside else sx[k, d]) - c[d])
            fc = _arma_objective(w, start, stop, xe[0], xe[1], ar, demean)
            evals += 1
            if fc < min(fr, sf[k]):
                sx[k], sf[k] = xe, fc
            else:  # shrink towards the best vertex
                for i in range(1, k + 1):
                    for d in range(2):
                        sx[i, d] = sx[0, d] + 0.5 * (sx[i, d] - sx[0, d])
                    sf[i] = _arma_objective(w, start, stop, sx[i, 0], sx[i, 1], ar, demean)
                evals += k
    i = int(np.argmin(sf))
    return sx[i, 0], sx[i, 1], sf[i], evals


@njit(cache=True)
def _arima_batch(Y, first, nobs, orders, max_evals, out):
    """For every column j of Y [n, T] (a row per series) and every order o of `orders` [(p, d, q, mean)]:
    out[j, o] = (phi, theta, mu, sigma2, -2 llf, evaluations) of the maximum-likelihood ARMA(p, q) fit of the
    window Y[j, first[j]:nobs[j]] (differenced once for d = 1: the exact likelihood of the d = 1 model from
    the second value on, what statsmodels' approximate diffuse prior gives with its first value burnt)."""
    n, T = Y.shape
    w = np.empty(T)
    for j in range(n):
        for o in range(orders.shape[0]):
            p, d, mean = orders[o, 0], orders[o, 1], orders[o, 3]
            s, e = first[j], nobs[j]
            if d == 1:
                for t in range(s + 1, e):
                    w[t] = Y[j, t] - Y[j, t - 1]
                s += 1
            else:
                for t in range(s, e):
                    w[t] = Y[j, t]
            if e - s < 3:
                out[j, o, :] = np.nan
                out[j, o, 4] = np.inf
                continue
            x0, x1, f, ev = _arma_nelder_mead(w, s, e, p > 0, mean > 0, max_evals)
            phi = x0 / np.sqrt(1.0 + x0 * x0) if p > 0 else 0.0
            theta = x1 / np.sqrt(1.0 + x1 * x1)
            f, mu, sigma2 = _arma_profile(w, s, e, phi, theta, mean > 0)
            out[j, o, 0], out[j, o, 1], out[j, o, 2], out[j, o, 3] = phi, theta, mu, sigma2
            out[j, o, 4], out[j, o, 5] = f, ev


def arima_state_space(order: tuple[int, int, int], phi: float, theta: float, mu: float, sigma2: float) -> dict:
    """The record of ``_fit_arima`` (statsmodels' state-space matrices and prior, padded to
    :data:`ARIMA_STATES` states) of an ARIMA(p, d, 1) (p, d in {0, 1}) with these parameters: the ARMA part
    in Harvey's form (state (w_t, theta e_t), stationary prior of variance sigma2 ((1 + 2 phi theta +
    theta^2) / (1 - phi^2), theta, theta^2)), obs intercept mu (d = 0); d = 1 puts the previous value first
    (T[0] = (1, 1, 0), Z = (1, 1, 0)) with the approximate diffuse prior :data:`ARIMA_DIFFUSE`."""
    p, d, _ = order
    r, k = ARIMA_STATES, d  # k: index of the ARMA part's first state
    T, RQR, P = np.zeros((r, r)), np.zeros((r, r)), np.zeros((r, r))
    Z, a = np.zeros(r), np.zeros(r)
    T[k, k], T[k, k + 1] = (phi if p else 0.0), 1.0
    Z[k] = 1.0
    RQR[k:k + 2, k:k + 2] = sigma2 * np.array([[1.0, theta], [theta, theta * theta]])
    ph = phi if p else 0.0
    P[k:k + 2, k:k + 2] = sigma2 * np.array([[(1.0 + 2.0 * ph * theta + theta * theta) / (1.0 - ph * ph), theta],
                                              [theta, theta * theta]])
    if d:
        T[0, 0], T[0, 1], Z[0], P[0, 0] = 1.0, 1.0, 1.0, ARIMA_DIFFUSE
    return {"order": tuple(order), "T": T, "Z": Z, "RQR": RQR, "d": float(mu) if not d else 0.0, "H": 0.0,
            "a": a, "P": P, "phi": float(ph), "theta": float(theta), "mu": float(mu), "sigma2": float(sigma2)}


def fit_arima_batch(Y: np.ndarray, first: np.ndarray, nobs: np.ndarray, orders=ARIMA_ORDERS,
                    max_evals: int = 400) -> list[dict | None]:
    """ARIMA for every column j of Y on its rows first[j]:nobs[j], all columns in one numba pass: each order
    of `orders` ((p, d, q) with p, d in {0, 1}, q = 1; trend "c" = a mean, d = 0 only) fitted by exact
    maximum likelihood (:func:`_arma_profile`: the mean and sigma2 concentrated out, (phi, theta) by
    Nelder-Mead in statsmodels' stationarity / invertibility transform x / sqrt(1 + x^2)), the lowest AIC
    (-2 llf + 2 k, k = p + q + 1 + [mean]) kept, as statsmodels' ``ARIMA(y, order, trend).fit()`` and
    ``_fit_arima`` do. Returns per column the record of :func:`arima_state_space` plus "aic", or None (no
    order fitted: fewer than k + 2 values after differencing, or a constant window)."""
    Yt = np.ascontiguousarray(np.asarray(Y, dtype=np.float64).T)
    first, nobs = (np.asarray(v, dtype=np.int64) for v in (first, nobs))
    spec = []
    for (p, d, q), trend in orders:
        if p > 1 or d > 1 or q != 1 or (trend == "c" and d) or trend not in ("c", "n"):
            raise ValueError(f"fit_arima_batch fits ARIMA(p<=1, d<=1, 1) with trend 'c' (d = 0) or 'n', "
                             f"got {(p, d, q)} trend {trend!r}")
        spec.append((p, d, q, 1 if trend == "c" else 0))
    spec_a = np.array(spec, dtype=np.int64).reshape(-1, 4)
    n = Yt.shape[0]
    out = np.zeros((n, len(spec), 6))
    _arima_batch(Yt, first, nobs, spec_a, int(max_evals), out)
    k = spec_a[:, 0] + spec_a[:, 2] + 1 + spec_a[:, 3]
    aic = out[:, :, 4] + 2 * k[None, :]
    n_eff = (nobs - first)[:, None] - spec_a[None, :, 1]
    aic = np.where(np.isfinite(aic) & (n_eff >= k[None, :] + 2), aic, np.inf)
    best = aic.argmin(axis=1) if len(spec) else np.zeros(n, dtype=np.int64)
    recs: list[dict | None] = []
    for j in range(n):
        o = int(best[j])
        if not np.isfinite(aic[j, o]):
            recs.append(None)
            continue
        phi, theta, mu, sigma2 = out[j, o, :4]
        rec = arima_state_space(orders[o][0], phi, theta, mu, sigma2)
        rec["aic"] = float(aic[j, o])
        recs.append(rec)
    return recs
