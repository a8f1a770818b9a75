"""Vectorised forecaster engines of the forecast baselines (:mod:`baselines.forecast`).

An engine holds the forecaster state of N columns (episodes, or SKU x candidate pairs) and advances all of
them at once. update(y, idx): y is [N]; idx (optional int array) restricts the update to those columns.
forecast(hmax): per-period forecasts of the next hmax periods, [N] if the same for every horizon (flat
engines) else [N, hmax]. Imports numpy and numba only (no envs, no statsmodels, no policies).
"""

from __future__ import annotations

import numpy as np
from numba import njit


# numba twins of the engines' full updates (idx None): the same float operations as the numpy expressions
@njit(cache=True)
def _ses_update(level, alpha, y) -> None:
    for r in range(level.shape[0]):
        level[r] += alpha[r] * (y[r] - level[r])


@njit(cache=True)
def _croston_update(size, interval, q, alpha, y) -> None:
    for r in range(size.shape[0]):
        if y[r] > 0:
            size[r] = size[r] + alpha[r] * (y[r] - size[r])
            interval[r] = interval[r] + alpha[r] * (q[r] - interval[r])
            q[r] = 1.0
        else:
            q[r] = q[r] + 1.0


@njit(cache=True)
def _tsb_update(size, prob, alpha, beta, y) -> None:
    for r in range(size.shape[0]):
        hit = y[r] > 0
        b = prob[r]
        prob[r] = b + beta[r] * ((1.0 if hit else 0.0) - b)
        if hit:
            size[r] = size[r] + alpha[r] * (y[r] - size[r])


class _SESEngine:
    """Simple exponential smoothing: l_t = l_{t-1} + alpha (y_t - l_{t-1}); forecast l_t for every horizon."""

    flat = True

    def __init__(self, alpha: np.ndarray, level: np.ndarray):
        self.alpha = np.asarray(alpha, dtype=np.float64)
        self.level = np.array(level, dtype=np.float64)

    def update(self, y: np.ndarray, idx: np.ndarray | None = None) -> None:
        if idx is None:
            _ses_update(self.level, self.alpha, np.asarray(y, dtype=np.float64))
        else:
            lv = self.level[idx]
            self.level[idx] = lv + self.alpha[idx] * (y[idx] - lv)

    def forecast(self, hmax: int) -> np.ndarray:
        return self.level


class _MAEngine:
    """Mean of the last k_j values (a ring buffer per column, pre-filled with a prior level)."""

    flat = True

    def __init__(self, k: np.ndarray, level: np.ndarray):
        self.k = np.maximum(np.rint(k), 1).astype(np.int64)
        level = np.asarray(level, dtype=np.float64)
        self.buf = np.repeat(level[:, None], int(self.k.max(initial=1)), axis=1)
        self.sum = level * self.k
        self.pos = np.zeros(self.k.shape[0], dtype=np.int64)
        self.rows = np.arange(self.k.shape[0])

    def update(self, y: np.ndarray, idx: np.ndarray | None = None) -> None:
        r = self.rows if idx is None else np.asarray(idx, dtype=np.int64)
        _ma_update(self.sum, self.buf, self.pos, self.k, np.asarray(y, dtype=np.float64), r)

    def forecast(self, hmax: int) -> np.ndarray:
        return self.sum / self.k


@njit(cache=True)
def _ma_update(total: np.ndarray, buf: np.ndarray, pos: np.ndarray, k: np.ndarray, y: np.ndarray,
               rows: np.ndarray) -> None:
    """The ring-buffer update of _MAEngine for columns `rows` (one loop instead of five fancy-indexed
    numpy passes; the same float operations)."""
    for x in range(rows.shape[0]):
        r = rows[x]
        p = pos[r]
        total[r] += y[r] - buf[r, p]
        buf[r, p] = y[r]
        pos[r] = (p + 1) % k[r]


class _CrostonEngine:
    """Croston (1972): demand size z and inter-demand interval p smoothed only in periods with demand.

    y_t > 0:  z_t = z + alpha (y_t - z),  p_t = p + alpha (q - p),  q = 1;   y_t = 0:  q = q + 1
    (q = periods since the last demand, counting the current one). Per-period forecast c z / p with
    c = 1 (Croston) or c = 1 - alpha / 2 (SBA, Syntetos & Boylan 2005).
    """

    flat = True

    def __init__(self, alpha: np.ndarray, size: np.ndarray, interval: np.ndarray, sba: bool):
        self.alpha = np.asarray(alpha, dtype=np.float64)
        self.size = np.array(size, dtype=np.float64)
        self.interval = np.array(interval, dtype=np.float64)
        self.q = np.ones_like(self.size)
        self.factor = 1.0 - self.alpha / 2.0 if sba else np.ones_like(self.alpha)

    def update(self, y: np.ndarray, idx: np.ndarray | None = None) -> None:
        if idx is None:
            _croston_update(self.size, self.interval, self.q, self.alpha, np.asarray(y, dtype=np.float64))
            return
        i = idx
        yy, a, z, p, q = y[i], self.alpha[i], self.size[i], self.interval[i], self.q[i]
        hit = yy > 0
        self.size[i] = np.where(hit, z + a * (yy - z), z)
        self.interval[i] = np.where(hit, p + a * (q - p), p)
        self.q[i] = np.where(hit, 1.0, q + 1.0)

    def forecast(self, hmax: int) -> np.ndarray:
        return self.factor * self.size / self.interval


class _TSBEngine:
    """Teunter, Syntetos & Babai (2011): demand probability b smoothed every period, size z on demand.

    b_t = b + beta ([y_t > 0] - b);  y_t > 0: z_t = z + alpha (y_t - z).  Per-period forecast b_t z_t.
    """

    flat = True

    def __init__(self, alpha: np.ndarray, beta: np.ndarray, size: np.ndarray, prob: np.ndarray):
        self.alpha = np.asarray(alpha, dtype=np.float64)
        self.beta = np.asarray(beta, dtype=np.float64)
        self.size = np.array(size, dtype=np.float64)
        self.prob = np.array(prob, dtype=np.float64)

    def update(self, y: np.ndarray, idx: np.ndarray | None = None) -> None:
        if idx is None:
            _tsb_update(self.size, self.prob, self.alpha, self.beta, np.asarray(y, dtype=np.float64))
            return
        i = idx
        yy, z, b = y[i], self.size[i], self.prob[i]
        hit = yy > 0
        self.prob[i] = b + self.beta[i] * (hit - b)
        self.size[i] = np.where(hit, z + self.alpha[i] * (yy - z), z)

    def forecast(self, hmax: int) -> np.ndarray:
        return self.prob * self.size


class _HoltWintersEngine:
    """Additive Holt-Winters with damped (or no) trend, the recursion of statsmodels' ExponentialSmoothing:

    l_t = alpha (y_t - s_{t-m}) + (1 - alpha)(l_{t-1} + phi b_{t-1})
    b_t = beta (l_t - l_{t-1}) + (1 - beta) phi b_{t-1}
    s_t = gamma (y_t - l_{t-1} - phi b_{t-1}) + (1 - gamma) s_{t-m}
    forecast h >= 1: l_t + (phi + ... + phi^h) b_t + s_{t+h-m}   (for h <= m; the season repeats)

    No trend: beta = phi = b = 0; no season: m = 1, gamma = 0, s = 0. ``seasons[j, c mod m]`` is the seasonal
    term of the value number c counted from the SKU's training start; ``count[j]`` = that number for the next
    value.
    """

    flat = False

    def __init__(self, alpha, beta, phi, gamma, m, level, trend, seasons, count):
        self.alpha, self.beta, self.phi, self.gamma = (np.asarray(v, dtype=np.float64)
                                                       for v in (alpha, beta, phi, gamma))
        self.m = np.asarray(m, dtype=np.int64)
        self.level = np.array(level, dtype=np.float64)
        self.trend = np.array(trend, dtype=np.float64)
        self.seasons = np.array(seasons, dtype=np.float64)
        self.count = np.array(count, dtype=np.int64)
        self.rows = np.arange(self.level.shape[0])
        self._phisum: dict[int, np.ndarray] = {}

    def update(self, y: np.ndarray, idx: np.ndarray | None = None) -> None:
        i = slice(None) if idx is None else idx
        r = self.rows if idx is None else idx
        pos = self.count[i] % self.m[i]
        s_old = self.seasons[r, pos]
        lv, b, phi, a = self.level[i], self.trend[i], self.phi[i], self.alpha[i]
        prev = lv + phi * b
        yy = y[i]
        new = a * (yy - s_old) + (1.0 - a) * prev
        self.trend[i] = self.beta[i] * (new - lv) + (1.0 - self.beta[i]) * phi * b
        self.seasons[r, pos] = self.gamma[i] * (yy - prev) + (1.0 - self.gamma[i]) * s_old
        self.level[i] = new
        self.count[i] += 1

    def forecast(self, hmax: int) -> np.ndarray:
        ps = self._phisum.get(hmax)
        if ps is None:
            ps = np.cumsum(self.phi[:, None] ** np.arange(1, hmax + 1)[None, :], axis=1)
            self._phisum[hmax] = ps
        pos = (self.count[:, None] + np.arange(hmax)[None, :]) % self.m[:, None]
        return self.level[:, None] + ps * self.trend[:, None] + self.seasons[self.rows[:, None], pos]


class _KalmanEngine:
    """Kalman filter of a linear Gaussian state-space model (the form statsmodels' ARIMA is estimated in):

    y_t = d + Z a_t + eps_t (Var H),   a_{t+1} = T a_t + R eta_t (Var Q);   a = predicted state a_{t|t-1}, P its
    covariance. Update: v = y - d - Z a, F = Z P Z' + H, K = T P Z' / F, a <- T a + K v,
    P <- T P T' + R Q R' - K F K'. Forecast h: d + Z T^{h-1} a (Durbin & Koopman 2012, ch. 4).
    """

    flat = False

    def __init__(self, T, Z, RQR, d, H, a, P):
        self.T, self.Z, self.RQR = (np.ascontiguousarray(v, dtype=np.float64) for v in (T, Z, RQR))
        self.d, self.H = np.ascontiguousarray(d, dtype=np.float64), np.ascontiguousarray(H, dtype=np.float64)
        self.a, self.P = np.array(a, dtype=np.float64), np.array(P, dtype=np.float64)
        self.rows = np.arange(self.a.shape[0])

    def update(self, y: np.ndarray, idx: np.ndarray | None = None) -> None:
        rows = self.rows if idx is None else np.asarray(idx, dtype=np.int64)
        _kalman_update(self.T, self.Z, self.RQR, self.d, self.H, self.a, self.P,
                       np.ascontiguousarray(y, dtype=np.float64), rows)

    def forecast(self, hmax: int) -> np.ndarray:
        out = np.empty((self.a.shape[0], hmax))
        _kalman_forecast(self.T, self.Z, self.d, self.a, out)
        return out


@njit(cache=True)
def _kalman_update(T, Z, RQR, d, H, a, P, y, rows) -> None:
    """The update of _KalmanEngine for columns `rows`, one column at a time (the same floats whichever columns
    are updated together: a SKU chunk gives the whole catalogue's numbers)."""
    r = a.shape[1]
    pz = np.empty(r)
    kg = np.empty(r)
    ta = np.empty(r)
    tp = np.empty((r, r))
    for x in range(rows.shape[0]):
        n = rows[x]
        F = H[n]
        v = y[n] - d[n]
        for i in range(r):
            acc = 0.0
            for j in range(r):
                acc += P[n, i, j] * Z[n, j]
            pz[i] = acc
        for i in range(r):
            F += Z[n, i] * pz[i]
            v -= Z[n, i] * a[n, i]
        if not F > 1e-12:
            F = 1e-12
        for i in range(r):
            acc, acc2 = 0.0, 0.0
            for j in range(r):
                acc += T[n, i, j] * pz[j]
                acc2 += T[n, i, j] * a[n, j]
            kg[i] = acc / F
            ta[i] = acc2
        for i in range(r):
            for k in range(r):
                acc = 0.0
                for j in range(r):
                    acc += T[n, i, j] * P[n, j, k]
                tp[i, k] = acc
        for i in range(r):
            a[n, i] = ta[i] + kg[i] * v
            for m in range(r):
                acc = 0.0
                for k in range(r):
                    acc += tp[i, k] * T[n, m, k]
                P[n, i, m] = acc + RQR[n, i, m] - F * kg[i] * kg[m]


@njit(cache=True)
def _kalman_forecast(T, Z, d, a, out) -> None:
    """out[n, h] = d + Z T^h a (the forecasts h + 1 periods ahead of _KalmanEngine), column by column."""
    N, r = a.shape
    hmax = out.shape[1]
    x = np.empty(r)
    nx = np.empty(r)
    for n in range(N):
        for i in range(r):
            x[i] = a[n, i]
        for h in range(hmax):
            acc = d[n]
            for i in range(r):
                acc += Z[n, i] * x[i]
            out[n, h] = acc
            if h + 1 < hmax:
                for i in range(r):
                    s = 0.0
                    for j in range(r):
                        s += T[n, i, j] * x[j]
                    nx[i] = s
                for i in range(r):
                    x[i] = nx[i]


class _Composite:
    """Several engines, each owning a subset of the columns (fitted model columns + SES columns)."""

    def __init__(self, n: int, parts: list[tuple[np.ndarray, object]]):
        self.n = n
        self.parts = parts
        self.flat = all(e.flat for _, e in parts)

    def update(self, y: np.ndarray, idx: np.ndarray | None = None) -> None:
        sel = None
        if idx is not None:
            sel = np.zeros(self.n, dtype=bool)
            sel[idx] = True
        for cols, e in self.parts:
            if sel is None:
                e.update(y[cols])
            else:
                local = np.flatnonzero(sel[cols])
                if local.size:
                    e.update(y[cols], local)

    def forecast(self, hmax: int) -> np.ndarray:
        out = np.zeros(self.n) if self.flat else np.zeros((self.n, hmax))
        for cols, e in self.parts:
            f = e.forecast(hmax)
            out[cols] = f if (self.flat or f.ndim == 2) else f[:, None]
        return out


def _compose(n: int, parts: list[tuple[np.ndarray, object]]):
    parts = [(c, e) for c, e in parts if c.size]
    if len(parts) == 1:
        return parts[0][1]
    return _Composite(n, parts)


def _one_step(engine) -> np.ndarray:
    f = engine.forecast(1)
    return np.maximum(f if f.ndim == 1 else f[:, 0], 0.0)


def _roll(engine, pasts: list[np.ndarray]) -> None:
    """Advance every column j over its own past values pasts[j] (right-aligned so all end together)."""
    n = len(pasts)
    lens = np.fromiter((p.shape[0] for p in pasts), dtype=np.int64, count=n)
    T = int(lens.max(initial=0))
    if T == 0:
        return
    Y = np.zeros((T, n))
    for j in np.flatnonzero(lens):
        Y[T - lens[j]:, j] = pasts[j]
    order = np.argsort(lens, kind="stable")
    sorted_lens = lens[order]
    for s in range(T):
        first = int(np.searchsorted(sorted_lens, T - s, side="left"))
        engine.update(Y[s], None if first == 0 else order[first:])
