"""Fast sampling of stationary parametric demand by inversion (one uniform per draw, a guide table per
distinct demand distribution). Used by the episode factory for the vector env's own random stream; may import
numpy, numba and scipy.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .demand import ParametricDemand, negative_binomial_params

# ---------------------------------------------------------------------------------- fast demand sampler
# Inverse-CDF sampling from one uniform per draw, with a guide table (Chen & Asau 1974) per distinct demand
# distribution. Used only for the vector env's own stream of stationary parametric demand; the
# distributions are the same as ParametricDemand.sample's (exact CDFs from scipy, see InverseCDFDemand).

_TAIL = 2.0 ** -54
"""Probability left out at each end of a table (below the uniforms' resolution of 2^-53)."""
MAX_TABLE_ENTRIES = 4_000_000
"""Largest total size of the CDF tables (float64 + int64 guide: 16 bytes an entry); beyond it, numpy draws."""


class InverseCDFDemand:
    """Stationary ``ParametricDemand`` (Poisson, negative binomial or rounded normal) sampled by inversion.

    For each distinct (mean, std) of the SKUs, the CDF F(x) = P(X <= x) is tabulated over lo..hi, where
    P(X < lo) and P(X > hi) are below 2^-54 (the resolution of a float64 uniform is 2^-53), with scipy's
    exact distribution functions and the same parameters as ``ParametricDemand.sample`` (negative binomial:
    ``r = mean^2 / (var - mean)``, ``p = r / (r + mean)``, numpy's convention; normal: ``max(0, rint(N(mean,
    std)))``, so F(x) = Phi((x + 0.5 - mean) / std) for x >= 0). A draw is X = min{x : u < F(x)} for
    u ~ U[0, 1) (``rng.random``), which has exactly the tabulated probabilities F(x) - F(x - 1); the guide
    table makes the search O(1). Build with :meth:`build`, which returns None where the fast path does not
    apply (demand with multipliers, or tables too large).
    """

    def __init__(self, lo, start, size, cdf, guide, table_of_sku):
        self.lo, self.start, self.size = lo, start, size
        self.cdf, self.guide = cdf, guide
        self.table_of_sku = table_of_sku

    @classmethod
    def build(cls, src: ParametricDemand, skus: np.ndarray | None = None) -> InverseCDFDemand | None:
        from scipy import stats

        if not src.stationary:
            return None
        kind = src.config.kind
        skus = np.arange(src.n_skus) if skus is None else np.unique(skus)
        keys = np.stack([src.means[skus], src.stds[skus]], axis=1)
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        table_of_sku = np.zeros(src.n_skus, dtype=np.int64)
        table_of_sku[skus] = inv.reshape(-1)
        m, s = uniq[:, 0], uniq[:, 1]
        if kind == "poisson":
            dist = stats.poisson(m)
            spread = np.sqrt(m)
        elif kind == "negative_binomial":
            dist = stats.nbinom(*negative_binomial_params(m, s))
            spread = s
        else:
            spread = s
        # bounds: lo = first x with F(x) >= 2^-54, hi = first x with P(X > x) <= 2^-54 (widened until true)
        lo = np.zeros(m.shape[0], dtype=np.int64)
        hi = np.ceil(m + 12 * spread + 40).astype(np.int64)
        if kind == "normal":
            det = s == 0  # std 0: the rounded mean, clipped at 0
            with np.errstate(divide="ignore", invalid="ignore"):
                lo = np.where(det, np.maximum(np.rint(m), 0), np.maximum(np.floor(m - 9 * s), 0)).astype(np.int64)
                hi = np.where(det, lo, hi)
        else:
            lo = np.maximum(np.floor(m - 12 * spread - 40), 0).astype(np.int64)
            lo = np.where(dist.cdf(lo - 1) >= _TAIL, 0, lo)  # the left tail must not be cut where it matters
        while True:
            if int((hi - lo + 1).sum()) > MAX_TABLE_ENTRIES:
                return None
            sf = cls._sf(kind, dist if kind != "normal" else None, m, s, hi)
            wide = sf > _TAIL
            if not wide.any():
                break
            hi = np.where(wide, 2 * hi + 1, hi)
        size = hi - lo + 1
        start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
        tab = np.repeat(np.arange(m.shape[0]), size)
        x = (np.arange(int(size.sum())) - start[tab] + lo[tab]).astype(np.float64)
        if kind == "normal":
            with np.errstate(divide="ignore", invalid="ignore"):
                cdf = stats.norm.cdf((x + 0.5 - m[tab]) / s[tab])
            cdf = np.where(s[tab] == 0, 1.0, cdf)
        else:
            cdf = cls._cdf(kind, x, m[tab], s[tab])
        cdf = np.asarray(cdf, dtype=np.float64)
        cdf[start + size - 1] = 2.0  # every u < 1 stops at the table's end (the < 2^-54 tail is folded in)
        guide = np.empty(cdf.shape[0], dtype=np.int64)
        _build_guides(cdf, start, size, guide)
        return cls(lo, start, size, cdf, guide, table_of_sku)

    @staticmethod
    def _sf(kind, dist, m, s, x):
        from scipy import stats

        if kind == "normal":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(s > 0, stats.norm.sf((x + 0.5 - m) / s), 0.0)
        return dist.sf(x)

    @staticmethod
    def _cdf(kind, x, m, s):
        from scipy import stats

        if kind == "poisson":
            return stats.poisson.cdf(x, m)
        return stats.nbinom.cdf(x, *negative_binomial_params(m, s))

    def sample(self, rng: np.random.Generator, sku: np.ndarray, n: int) -> np.ndarray:
        """Demand of n periods for each SKU in `sku`: float64 [n, len(sku)]."""
        u = rng.random((n, sku.shape[0]))
        _invert(u, self.table_of_sku[sku], self.lo, self.start, self.size, self.cdf, self.guide)
        return u


@njit(cache=True)
def _build_guides(cdf, start, size, guide) -> None:
    """guide[start + b] = the first index i of the table with cdf[start + i] > b / size (b = 0..size-1)."""
    for k in range(start.shape[0]):
        s, G = start[k], size[k]
        i = 0
        for b in range(G):
            while cdf[s + i] <= b / G:
                i += 1
            guide[s + b] = i


@njit(cache=True)
def _invert(u, table, lo, start, size, cdf, guide) -> None:
    """In place: u[r, j] <- lo + min{i : u[r, j] < cdf[i]} in the table of column j."""
    for r in range(u.shape[0]):
        for j in range(u.shape[1]):
            k = table[j]
            s = start[k]
            x = u[r, j]
            i = guide[s + int(x * size[k])]
            while cdf[s + i] <= x:
                i += 1
            u[r, j] = lo[k] + i
