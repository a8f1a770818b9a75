"""Exact average-cost optimum of the periodic-review lost-sales inventory problem (relative value iteration).

Model (the convention of Zipkin 2008, "Old and new methods for lost-sales inventory systems", Operations
Research 56(5), 1256-1263; the same timing as :mod:`envs.kernel`). Period t:

1. the order placed in period t - L arrives and is added to on-hand stock (lead time L >= 1 whole periods);
2. the decision maker sees the state ``x = (x_0, x_1, ..., x_{L-1})`` -- ``x_0`` = on hand after that
   arrival, ``x_k`` (k >= 1) = ``pipeline[k-1]`` = units arriving at the start of period t + k -- and orders
   an integer ``q >= 0``, which arrives at the start of period t + L;
3. demand ``D ~ Poisson(mu)`` is served from on hand; excess demand is lost;
4. the period costs ``h (x_0 - D)^+ + p (D - x_0)^+`` (no fixed or unit ordering cost).

Next state: ``x' = ((x_0 - D)^+ + x_1, x_2, ..., x_{L-1}, q)`` (for L = 1: ``x' = (x_0 - D)^+ + q``).

Bellman equation (average cost, unichain) solved here, with gain ``g`` and relative values ``v``::

    g + v(x) = c(x_0) + min_{0 <= q <= qmax(x)}  sum_{r=0}^{x_0} a(x_0, r) v(r + x_1, x_2, ..., x_{L-1}, q)

    c(y)    = h E(y - D)^+ + p E(D - y)^+              expected one-period cost with y on hand
    a(y, r) = P((y - D)^+ = r) = P(D = y - r) for 1 <= r <= y,   a(y, 0) = P(D >= y)

The demand expectation is exact: ``(x_0 - D)^+`` takes only ``x_0 + 1`` values, the tail ``D >= x_0`` is the
single term ``r = 0``; nothing of the Poisson distribution is cut off.

Truncation. ``max_on_hand`` = ``B`` caps the inventory position *after ordering*:
``qmax(x) = min(max_order, B - (x_0 + ... + x_{L-1}))`` on the state set
``X_B = {x >= 0 : x_0 + ... + x_{L-1} <= B, x_k <= max_order for k >= 1}``, which is closed under the
dynamics (on hand never exceeds B either, hence the name). No stock is clipped and no probability is folded:
the truncated problem is an exact MDP whose only restriction is the cap on the order-up-to level. It loses
nothing when B is at least Morton's (1969) bound: the optimal policy never raises the inventory position above
``S_bar = min{S : P(D_1 + ... + D_{L+1} <= S) >= p / (p + h)}``, the newsvendor level of the L + 1 period
demand (see also Zipkin 2008, "On the structure of lost-sales inventory models", Oper. Res. 56(4)). Default:
``B = S_bar + 2`` and ``max_order = B``; if the computed policy ever orders up to B itself (the cap could be
binding), the default B is enlarged by 4 and the problem solved again. Measured: the optimal policy's largest
order-up-to level ("upto" below) is never above S_bar (0 to 2 below it) in all 16 instances, and enlarging B by 6 leaves the
policy unchanged and the gain within the RVI tolerance (tests/test_dp_optimal.py). ``|X_B| = C(B + L, L)``,
e.g. 101,270 states for L = 4, p = 39 (B = 37). Note: the optimal order is NOT bounded by the order of the
best base-stock policy S* (only by Morton's S_bar): q* falls by less than one unit per unit of stock, so it
crosses the base-stock line; e.g. L = 1, p = 9, S* = 13: with 12 on hand the optimal order is 2, not 1, and
the optimal policy orders up to 14 with 9 on hand.

Algorithm. Relative value iteration ``w_{n+1} = T v_n``, ``v_{n+1} = w_{n+1} - w_{n+1}(0)``, stopped when the
span ``max(w_{n+1} - v_n) - min(w_{n+1} - v_n) < tol``; ``min`` and ``max`` of that difference bound the
optimal gain (Odoni 1969), ``avg_cost`` is their midpoint and ``span`` their distance, and the greedy policy of
the last iterate is within ``span`` of optimal. The chains are aperiodic (P(D = 0) > 0 gives self-loops), so no
aperiodicity transform is needed; ``aperiodicity=tau < 1`` applies ``v <- (1 - tau) v + tau T v`` anyway.
Vectorisation: states are a flat index over ``X_B``. The states are grouped by the sum t of their "tail"
``(x_2, ..., x_{L-1})`` (which is carried unchanged into the middle of the next state); within a group the
expectation over demand is one dense matrix product ``K_t @ V_t`` with ``K_t[(x_0, x_1), w] = a(x_0, w - x_1)``
and ``V_t[w, (tail, q)] = v(w, tail, q)``, and the minimum over orders is a masked ``min`` along the q axis.
About 5e7 flops per iteration for L = 4, B = 37 (a few hundred ms of numpy); pure numpy, no numba.

Measured (Poisson mean 5, h = 1, tol 1e-6; ``python benchmarks/dp_table.py`` on a slow shared 2-core
machine; "Zipkin" = the published optimum of Zipkin 2008; B = cap on the position after ordering; upto = the
largest order-up-to level the optimal policy uses; S_bar = Morton's bound; S* = best base-stock level and
"base-stock" its exact cost, gap% its excess over the optimum; CPU s = time.process_time of the solve)::

     L   p   optimum  Zipkin     diff   B  states iter     span upto S_bar  S* base-stock  gap%   CPU s
    ---------------------------------------------------------------------------------------------------
     1   4   4.04071  4.0407 +0.00001  15      16   15  2.0e-07   12    13  12    4.16280  3.02    0.00
     1   9   5.43822  5.4382 +0.00002  16      17   12  6.5e-08   14    14  13    5.54747  2.01    0.00
     1  19   6.67574  6.6757 +0.00004  17      18   10  1.2e-07   15    15  15    6.72779  0.78    0.00
     1  39   7.83595  7.8359 +0.00005  19      20    9  7.1e-08   16    17  16    7.86265  0.34    0.00
     2   4   4.39530  4.3953 -0.00000  20     231   17  1.7e-07   17    18  16    4.63864  5.54    0.00
     2   9   6.09364  6.0936 +0.00004  22     276   18  1.5e-07   19    20  19    6.31626  3.65    0.00
     2  19   7.66442  7.6644 +0.00002  24     325   17  1.5e-07   21    22  21    7.84217  2.32    0.00
     2  39   9.10638  9.1064 -0.00002  25     351   15  6.0e-08   23    23  22    9.19028  0.92    0.00
     3   4   4.59872  4.5987 +0.00002  26    3654   24  1.7e-07   22    24  20    4.97500  8.18    0.03
     3   9   6.53137  6.5314 -0.00003  28    4495   23  3.2e-07   25    26  23    6.86403  5.09    0.03
     3  19   8.36251  8.3625 +0.00001  30    5456   22  3.7e-07   27    28  26    8.60449  2.89    0.03
     3  39  10.03848 10.0385 -0.00002  31    5984   20  8.9e-08   28    29  28   10.21763  1.78    0.03
     4   4   4.72853  4.7285 +0.00003  31   52360   44  7.2e-07   27    29  25    5.19777  9.92    0.65
     4   9   6.83594  6.8359 +0.00004  34   73815   33  7.8e-07   30    32  28    7.27093  6.36    0.84
     4  19   8.88718       -        -  35   82251   28  2.9e-07   32    33  31    9.23193  3.88    0.58
     4  39  10.79441       -        -  37  101270   27  2.9e-07   34    35  33   11.06229  2.48    0.72
    total CPU seconds of the solves: 2.93

The 16 solves take about 3 CPU seconds in all; L = 5, p = 9 (1,086,008 states) took 18 CPU s (7.05802).

Also :func:`policy_cost` (exact gain of any stationary policy: base-stock level, DPSolution or batched callable,
by value determination on its Markov chain) and :func:`best_base_stock`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse, stats

__all__ = ["ZIPKIN_OPTIMA", "DPSolution", "PerishableSolution", "best_base_stock", "best_perishable_base_stock",
           "morton_bound", "perishable_policy_cost", "policy_cost", "solve_lost_sales", "solve_perishable_lost_sales"]

ZIPKIN_OPTIMA: dict[tuple[int, int], float] = {
    # Zipkin (2008), Oper. Res. 56(5): published optimal average costs, Poisson(5) demand, h = 1,
    # keyed by (lead time L, lost-sales penalty p); the paper's table stops at L = 4, p = 9
    (1, 4): 4.0407, (1, 9): 5.4382, (1, 19): 6.6757, (1, 39): 7.8359,
    (2, 4): 4.3953, (2, 9): 6.0936, (2, 19): 7.6644, (2, 39): 9.1064,
    (3, 4): 4.5987, (3, 9): 6.5314, (3, 19): 8.3625, (3, 39): 10.0385,
    (4, 4): 4.7285, (4, 9): 6.8359,
}

_DEFAULTS = {"demand_mean": 5.0, "lead_time": 2, "holding_cost": 1.0, "lost_sales_penalty": 9.0}
_MARGIN = 2  # default B = morton_bound + _MARGIN


# ------------------------------------------------------------------------------------------------ solution
@dataclass(frozen=True, eq=False)
class DPSolution:
    """Optimal stationary policy of the (truncated) lost-sales MDP and its average cost.

    ``policy[x_0, x_1, ..., x_{L-1}]`` is the optimal order in state (on hand ``x_0``, pipeline ``x_1..``);
    shape ``[max_on_hand + 1] + [max_order + 1] * (L - 1)``. Grid points with inventory position above
    ``max_on_hand`` lie outside the state set and hold 0 (the optimal order there, by Morton's bound).
    """

    avg_cost: float
    lead_time: int
    demand_mean: float
    holding_cost: float
    lost_sales_penalty: float
    max_order: int
    max_on_hand: int
    policy: np.ndarray
    iterations: int
    span: float
    lower_bound: float = math.nan  # min (T v - v) at the last iterate: gain >= lower_bound
    upper_bound: float = math.nan  # max (T v - v): gain <= upper_bound
    n_states: int = 0
    max_order_up_to: int = -1  # largest inventory position after a positive order (-1: never orders)
    values: np.ndarray | None = field(default=None, repr=False)  # relative values on the grid (nan outside)

    def order(self, on_hand: int, pipeline: Sequence[int] = ()) -> int:
        """Optimal order in one state; ``pipeline`` has L - 1 entries (oldest first). Clipped to the grid."""
        pipe = np.asarray(pipeline, dtype=np.float64).reshape(1, -1)
        return int(self.orders(np.array([on_hand], dtype=np.float64), pipe)[0])

    def orders(self, on_hand: np.ndarray, pipeline: np.ndarray | None = None) -> np.ndarray:
        """Batched lookup: ``on_hand`` [n], ``pipeline`` [n, L - 1] -> int64 orders [n] (values rounded and
        clipped to the grid ``0..max_on_hand`` / ``0..max_order``)."""
        oh = np.asarray(on_hand, dtype=np.float64).reshape(-1)
        n, L = oh.shape[0], self.lead_time
        idx = [np.clip(np.rint(oh), 0, self.max_on_hand).astype(np.intp)]
        if L > 1:
            if pipeline is None:
                raise ValueError(f"lead time {L} needs a pipeline of {L - 1} entries per state")
            pipe = np.asarray(pipeline, dtype=np.float64).reshape(n, -1)
            if pipe.shape[1] != L - 1:
                raise ValueError(f"pipeline has {pipe.shape[1]} entries, lead time {L} needs {L - 1}")
            pi = np.clip(np.rint(pipe), 0, self.max_order).astype(np.intp)
            idx.extend(pi[:, k] for k in range(L - 1))
        return self.policy[tuple(idx)].astype(np.int64)

    def __call__(self, on_hand: np.ndarray, pipeline: np.ndarray | None = None) -> np.ndarray:
        return self.orders(on_hand, pipeline)


# ------------------------------------------------------------------------------------------ model tables
def morton_bound(demand_mean: float, lead_time: int, holding_cost: float, lost_sales_penalty: float) -> int:
    """Morton's (1969) upper bound on the optimal order-up-to level: the p/(p+h) quantile of L+1 periods'
    demand (the optimal order never raises the inventory position above it)."""
    ratio = lost_sales_penalty / (lost_sales_penalty + holding_cost)
    return int(stats.poisson.ppf(ratio, (lead_time + 1) * demand_mean))


def _enumerate(limits: Sequence[int], total: int) -> np.ndarray:
    """All integer vectors y with 0 <= y_k <= limits[k] and sum(y) <= total, in lexicographic order."""
    coords = np.zeros((1, 0), dtype=np.int64)
    sums = np.zeros(1, dtype=np.int64)
    for lim in limits:
        counts = np.minimum(lim, total - sums) + 1
        keep = counts > 0
        coords, sums, counts = coords[keep], sums[keep], counts[keep]
        rep = np.repeat(np.arange(len(sums)), counts)
        start = np.repeat(np.cumsum(counts) - counts, counts)
        val = np.arange(rep.shape[0], dtype=np.int64) - start
        coords = np.concatenate([coords[rep], val[:, None]], axis=1)
        sums = sums[rep] + val
    return coords


class _Model:
    """State set X_B, demand tables and the grouped Bellman operator."""

    def __init__(self, mean: float, L: int, h: float, p: float, B: int, Q: int):
        if L < 1:
            raise ValueError("lead_time must be >= 1")
        if mean <= 0:
            raise ValueError("demand_mean must be > 0")
        self.L, self.B, self.Q = L, B, Q
        y = np.arange(B + 1)
        pmf = stats.poisson.pmf(y, mean)
        ge = stats.poisson.sf(y - 1, mean)  # P(D >= y)
        # a[y, r] = P((y - D)^+ = r)
        diff = y[:, None] - y[None, :]
        self.a = np.where((diff >= 0) & (y[None, :] >= 1), pmf[np.clip(diff, 0, B)], 0.0)
        self.a[:, 0] = ge
        over = np.array([np.dot(k - y[:k], pmf[:k]) for k in y])  # E(y - D)^+
        self.c = h * over + p * (mean - y + over)
        self.dims = (B + 1,) + (Q + 1,) * (L - 1)
        self.coords = _enumerate((B,) + (Q,) * (L - 1), B)
        self.n = self.coords.shape[0]
        self._box = np.ravel_multi_index(tuple(self.coords.T), self.dims)
        self.cost = self.c[self.coords[:, 0]]

    def index(self, coords: np.ndarray) -> np.ndarray:
        """Flat state index of coordinate rows (..., L); self.n (a dummy slot) for points outside X_B."""
        c = np.asarray(coords, dtype=np.int64)
        ok = (c >= 0).all(-1) & (c[..., 0] <= self.B) & (c[..., 1:] <= self.Q).all(-1) & (c.sum(-1) <= self.B)
        cc = np.where(ok[..., None], c, 0)
        box = np.ravel_multi_index(tuple(np.moveaxis(cc, -1, 0)), self.dims)
        return np.where(ok, np.searchsorted(self._box, box), self.n)

    def transitions(self, orders: np.ndarray) -> sparse.csr_matrix:
        """Transition matrix of the chain under per-state ``orders`` (all must keep the state in X_B)."""
        x, L = self.coords, self.L
        nr = x[:, 0] + 1
        rows = np.repeat(np.arange(self.n), nr)
        r = np.arange(rows.shape[0]) - np.repeat(np.cumsum(nr) - nr, nr)
        nxt = np.empty((rows.shape[0], L), dtype=np.int64)
        if L == 1:
            nxt[:, 0] = r + orders[rows]
        else:
            nxt[:, 0] = r + x[rows, 1]
            nxt[:, 1:L - 1] = x[rows, 2:]
            nxt[:, L - 1] = orders[rows]
        cols = self.index(nxt)
        if (cols == self.n).any():
            raise ValueError("the policy leaves the state set; pass a larger max_position")
        probs = self.a[x[rows, 0], r]
        return sparse.csr_matrix((probs, (rows, cols)), shape=(self.n, self.n))

    # ---------------------------------------------------------------------------------- Bellman operator
    def build_groups(self) -> None:
        B, Q, L = self.B, self.Q, self.L
        self.groups = []
        if L == 1:
            qm = min(Q, B)
            w = np.arange(B + 1)
            q = np.arange(qm + 1)
            rr = w[None, None, :] - q[None, :, None]  # [y0, q, w] -> r
            y0 = np.arange(B + 1)[:, None, None]
            self.K1 = np.where(rr >= 0, self.a[y0, np.clip(rr, 0, B)], 0.0).reshape((B + 1) * (qm + 1), B + 1)
            self.mask1 = np.where(q[None, :] <= B - np.arange(B + 1)[:, None], 0.0, np.inf)
            self.qm1 = qm
            return
        tails = _enumerate((Q,) * (L - 2), B)
        tsum = tails.sum(1)
        for t in range(B + 1):
            T = tails[tsum == t]
            if T.shape[0] == 0:
                continue
            m, nt, qm = B - t, T.shape[0], min(Q, B - t)
            rows = _enumerate((m, Q), m)  # (x_0, x_1) with x_0 + x_1 <= m
            r0, r1 = rows[:, 0], rows[:, 1]
            rr = np.arange(m + 1)[None, :] - r1[:, None]
            K = np.where(rr >= 0, self.a[r0[:, None], np.clip(rr, 0, B)], 0.0)
            # gather: next states (w, tail, q), w = 0..m, q = 0..qm
            g = np.empty((m + 1, nt, qm + 1, L), dtype=np.int64)
            g[..., 0] = np.arange(m + 1)[:, None, None]
            g[..., 1:L - 1] = T[None, :, None, :]
            g[..., L - 1] = np.arange(qm + 1)[None, None, :]
            G = self.index(g).reshape(m + 1, nt * (qm + 1))
            s = np.empty((rows.shape[0], nt, L), dtype=np.int64)
            s[..., :2] = rows[:, None, :]
            s[..., 2:] = T[None, :, :]
            S = self.index(s)
            assert (S < self.n).all()
            mask = np.where(np.arange(qm + 1)[None, None, :] <= (m - r0 - r1)[:, None, None], 0.0, np.inf)
            self.groups.append((K, G, S, mask, self.c[r0][:, None], nt, qm))
        assert sum(gr[2].size for gr in self.groups) == self.n

    def bellman(self, v_ext: np.ndarray, out: np.ndarray, policy: np.ndarray | None = None) -> None:
        """out[:n] = (T v)(x); v_ext has n + 1 entries (last: dummy, only ever multiplied by 0 or masked)."""
        if self.L == 1:
            B, qm = self.B, self.qm1
            ev = (self.K1 @ v_ext[: B + 1]).reshape(B + 1, qm + 1) + self.mask1
            if policy is not None:
                policy[:] = ev.argmin(1)
            out[: self.n] = self.c + ev.min(1)
            return
        for K, G, S, mask, cr, nt, qm in self.groups:
            ev = (K @ v_ext[G]).reshape(K.shape[0], nt, qm + 1)
            ev += mask
            if policy is None:
                out[S] = cr + ev.min(2)
            else:
                a = ev.argmin(2)
                policy[S] = a
                out[S] = cr + np.take_along_axis(ev, a[..., None], 2)[..., 0]


def _resolve(demand_mean, lead_time, holding_cost, lost_sales_penalty):
    vals = dict(zip(_DEFAULTS, (demand_mean, lead_time, holding_cost, lost_sales_penalty), strict=True))
    out = {k: (_DEFAULTS[k] if v is None else v) for k, v in vals.items()}
    return float(out["demand_mean"]), int(out["lead_time"]), float(out["holding_cost"]), float(
        out["lost_sales_penalty"])


# ------------------------------------------------------------------------------------------------ solver
def solve_lost_sales(demand_mean: float = 5.0, lead_time: int = 2, holding_cost: float = 1.0,
                     lost_sales_penalty: float = 9.0, *, max_order: int | None = None,
                     max_on_hand: int | None = None, tol: float = 1e-6, max_iter: int = 100000,
                     aperiodicity: float = 1.0, keep_values: bool = False) -> DPSolution:
    """Optimal average cost and policy of the lost-sales problem by relative value iteration.

    ``max_on_hand`` (B) caps the inventory position after ordering (default: Morton's bound + 2, enlarged
    automatically while the computed policy reaches it); ``max_order`` caps single orders (default B).
    Stops when the span of ``T v - v`` is below ``tol``; ``avg_cost`` is the midpoint of the gain bounds.
    """
    mean, L, h, p = _resolve(demand_mean, lead_time, holding_cost, lost_sales_penalty)
    if not 0.0 < aperiodicity <= 1.0:
        raise ValueError("aperiodicity must be in (0, 1]")
    auto = max_on_hand is None
    B = morton_bound(mean, L, h, p) + _MARGIN if auto else int(max_on_hand)
    while True:
        sol = _solve(mean, L, h, p, B, B if max_order is None else min(int(max_order), B), tol, max_iter,
                     aperiodicity, keep_values)
        if not auto or sol.max_order_up_to < B or B > 4 * morton_bound(mean, L, h, p) + 50:
            return sol
        B += 4


def _solve(mean, L, h, p, B, Q, tol, max_iter, tau, keep_values) -> DPSolution:
    model = _Model(mean, L, h, p, B, Q)
    model.build_groups()
    n = model.n
    v = np.zeros(n + 1)
    w = np.zeros(n + 1)
    lo, hi, it = -math.inf, math.inf, 0
    while it < max_iter:
        it += 1
        model.bellman(v, w)
        d = w[:n] - v[:n]
        lo, hi = float(d.min()), float(d.max())
        if tau != 1.0:  # transformed operator T_tau v = v + tau (T v - v); its gain bounds are tau * (lo, hi)
            w[:n] = v[:n] + tau * d
        v[:n] = w[:n] - w[0]
        if hi - lo < tol:
            break
    if hi - lo >= tol:
        warnings.warn(f"RVI not converged after {max_iter} iterations (span {hi - lo:.3g})", RuntimeWarning,
                      stacklevel=3)
    # greedy policy of the last iterate (one more application: also the final, tightest bounds)
    pol = np.zeros(n, dtype=np.int64)
    model.bellman(v, w, policy=pol)
    d = w[:n] - v[:n]
    lo, hi = max(lo, float(d.min())), min(hi, float(d.max()))
    grid = np.zeros(model.dims, dtype=np.int32 if B < 2**31 else np.int64)
    grid[tuple(model.coords.T)] = pol
    values = None
    if keep_values:
        values = np.full(model.dims, np.nan)
        values[tuple(model.coords.T)] = v[:n]
    pos = model.coords.sum(1) + pol
    up_to = int(pos[pol > 0].max()) if (pol > 0).any() else -1  # highest order-up-to level actually used
    return DPSolution(avg_cost=0.5 * (lo + hi), lead_time=L, demand_mean=mean, holding_cost=h,
                      lost_sales_penalty=p, max_order=Q, max_on_hand=B, policy=grid, iterations=it,
                      span=hi - lo, lower_bound=lo, upper_bound=hi, n_states=n, max_order_up_to=up_to,
                      values=values)


# ------------------------------------------------------------------------------------- policy evaluation
PolicyLike = DPSolution | int | Callable[[np.ndarray, np.ndarray], np.ndarray]


def policy_cost(policy: PolicyLike, demand_mean: float | None = None, lead_time: int | None = None,
                holding_cost: float | None = None, lost_sales_penalty: float | None = None, *,
                max_position: int | None = None, tol: float = 1e-10, max_iter: int = 100000) -> float:
    """Exact long-run average cost of a stationary policy, from the stationary distribution of its chain.

    ``policy``: a :class:`DPSolution` (problem parameters default to its own), an ``int`` S (the base-stock
    policy ``q = (S - on hand - sum(pipeline))^+``), or a batched callable ``f(on_hand [n], pipeline [n, L-1])
    -> orders [n]``. The chain lives on the states with inventory position <= ``max_position`` (default: the
    solution's cap, S, or Morton's bound + 10 for callables); the policy must not order beyond it. The gain
    is computed by value determination (relative value iteration on the fixed chain, aperiodicity transform
    tau = 0.75) until the Odoni bounds on it are closer than ``tol``; the policy must be unichain.
    """
    if isinstance(policy, DPSolution):
        given = (demand_mean, lead_time, holding_cost, lost_sales_penalty)
        own = (policy.demand_mean, policy.lead_time, policy.holding_cost, policy.lost_sales_penalty)
        mean, L, h, p = _resolve(*(g if g is not None else o for g, o in zip(given, own, strict=True)))
        if L != policy.lead_time:
            raise ValueError("a DPSolution's policy needs its own lead time")
        B = policy.max_on_hand if max_position is None else int(max_position)
    else:
        mean, L, h, p = _resolve(demand_mean, lead_time, holding_cost, lost_sales_penalty)
        if isinstance(policy, (int, np.integer)):
            B = int(policy) if max_position is None else int(max_position)
        else:
            B = morton_bound(mean, L, h, p) + 10 if max_position is None else int(max_position)
    model = _Model(mean, L, h, p, B, B)
    x = model.coords
    if isinstance(policy, (int, np.integer)):
        q = np.maximum(int(policy) - x.sum(1), 0)
    else:
        q = np.asarray(policy(x[:, 0], x[:, 1:]) if L > 1 else policy(x[:, 0], np.zeros((model.n, 0))))
        q = np.rint(q).astype(np.int64).reshape(-1)
    if (q < 0).any():
        raise ValueError("negative order")
    P = model.transitions(q)
    # value determination by relative value iteration on the fixed chain, with the aperiodicity transform
    # P_tau = (1 - tau) I + tau P (gain of the transformed chain = tau * gain); stops on the span bound
    tau, c = 0.75, model.cost
    v = np.zeros(model.n)
    lo, hi = -math.inf, math.inf
    for _ in range(max_iter):
        d = c + P @ v - v
        lo, hi = max(lo, float(d.min())), min(hi, float(d.max()))
        if hi - lo < tol:
            break
        v += tau * d
        v -= v[0]
    else:
        warnings.warn(f"policy evaluation not converged (span {hi - lo:.3g})", RuntimeWarning, stacklevel=2)
    return 0.5 * (lo + hi)


def capped_policy_cost(policy: Callable[[np.ndarray, np.ndarray], np.ndarray], demand_mean: float,
                       lead_time: int, holding_cost: float, lost_sales_penalty: float, max_position: int, *,
                       start: Sequence[int] | None = None, tol_mass: float = 1e-6) -> float:
    """Exact long-run average cost of a batched policy ``f(on_hand [n], pipeline [n, L-1]) -> orders [n]`` that
    may order beyond ``max_position`` (a learned policy, say): its orders are rounded and capped so that the
    inventory position after ordering stays <= max_position, and the capped chain is evaluated by
    :func:`policy_cost`. If the capped chain's stationary distribution (lazy power iteration from ``start``,
    default 2 periods of mean demand on hand and one per pipeline slot) puts more than ``tol_mass`` on states
    where the cap binds, the policy's own chain leaves the state set (stock grows without bound) and the cost
    is ``inf``; otherwise the error of the capped cost is of the order of that mass."""
    mean, L, h, p = _resolve(demand_mean, lead_time, holding_cost, lost_sales_penalty)
    B = int(max_position)
    model = _Model(mean, L, h, p, B, B)
    x = model.coords
    ip = x.sum(axis=1)
    pipe = x[:, 1:].astype(np.float64) if L > 1 else np.zeros((model.n, 0))
    q = np.asarray(policy(x[:, 0].astype(np.float64), pipe), dtype=np.float64).reshape(-1)
    binding = q > B - ip
    capped = np.clip(np.rint(q), 0, B - ip).astype(np.int64)
    if start is None:
        start = [round(2 * mean)] + [round(mean)] * (L - 1)
    PT = model.transitions(capped).T.tocsr()
    pi = np.zeros(model.n)
    pi[int(model.index(np.asarray(start)))] = 1.0
    for _ in range(20000):  # lazy power iteration (aperiodic)
        nxt = 0.5 * pi + 0.5 * (PT @ pi)
        done = np.abs(nxt - pi).sum() < 1e-10
        pi = nxt
        if done:
            break
    if pi[binding].sum() > tol_mass:
        return float("inf")

    def orders(on_hand: np.ndarray, pipeline: np.ndarray) -> np.ndarray:  # policy_cost enumerates the same states
        return capped

    return float(policy_cost(orders, mean, L, h, p, max_position=B))


def best_base_stock(demand_mean: float = 5.0, lead_time: int = 2, holding_cost: float = 1.0,
                    lost_sales_penalty: float = 9.0) -> tuple[int, float]:
    """Best base-stock level S* and its exact cost (local search down from Morton's bound; the cost is
    unimodal in S in all instances we know of)."""
    args = (demand_mean, lead_time, holding_cost, lost_sales_penalty)
    s = morton_bound(*_resolve(*args))
    cost = {s: policy_cost(s, *args)}
    while s > 0:
        cost[s - 1] = policy_cost(s - 1, *args)
        if cost[s - 1] >= cost[s]:
            break
        s -= 1
    while True:  # in case the bound was below S*
        cost[s + 1] = cost.get(s + 1) or policy_cost(s + 1, *args)
        if cost[s + 1] >= cost[s]:
            break
        s += 1
    return s, cost[s]


# ------------------------------------------------------------------------------------ perishable stock
# The small perishable lost-sales instance (issue 16): the timing of envs.kernel.step_ext with shelf life m,
# lead time L >= 1, FIFO or LIFO issuing, Poisson demand. Decision state x = (a_0, ..., a_{m-1}, p_1, ...,
# p_{L-1}): on hand by age (a_0 arrived this period) and the pipeline (p_k arrives in k periods); order q
# arrives in L periods at age 0. Demand D is issued oldest first (FIFO) or newest first (LIFO); the period
# costs h (units left, expiring ones included) + p (lost units) + theta (units of age m - 1 left, which
# expire). Next state: (p_1 or q, r_0, ..., r_{m-2}, p_2, ..., p_{L-1}, q) with r the units left by age.
# Every component is one order (no crossing, one arrival per period), so the state set {0..Q}^(m + L - 1)
# with orders 0..Q is closed and exact: Q caps the order only (the default is the newsvendor level of the
# L + 1 period demand + 4, checked not to bind by the solution). The expectation over demand is exact (the
# tail D >= stock on hand is one term, its lost units E(D - stock)^+ in closed form).

@dataclass(frozen=True, eq=False)
class PerishableSolution:
    """Optimal stationary policy of the perishable lost-sales MDP: ``policy[a_0, ..., a_{m-1}, p_1, ...]``."""

    avg_cost: float
    lower_bound: float
    upper_bound: float
    lead_time: int
    shelf_life: int
    max_order: int
    policy: np.ndarray
    iterations: int
    n_states: int

    def orders(self, ages: np.ndarray, pipeline: np.ndarray | None = None) -> np.ndarray:
        """Batched lookup: ages [n, m] (column a = units of age a), pipeline [n, L - 1] -> orders [n]
        (values rounded and clipped to 0..max_order)."""
        cols = [np.asarray(ages, dtype=np.float64).reshape(-1, self.shelf_life)]
        if self.lead_time > 1:
            cols.append(np.asarray(pipeline, dtype=np.float64).reshape(cols[0].shape[0], -1)[:, :self.lead_time - 1])
        x = np.clip(np.rint(np.concatenate(cols, axis=1)), 0, self.max_order).astype(np.intp)
        return self.policy[tuple(x.T)].astype(np.int64)


class _PerishableModel:
    def __init__(self, mean: float, L: int, m: int, h: float, p: float, theta: float, lifo: bool, Q: int):
        if L < 1 or m < 1:
            raise ValueError("the perishable DP needs lead time >= 1 and shelf life >= 1")
        self.L, self.m, self.Q = L, m, Q
        dims = m + L - 1
        self.dims = dims
        grid = np.indices((Q + 1,) * dims).reshape(dims, -1).T  # every state, C order
        self.coords = grid
        self.n = grid.shape[0]
        ages = grid[:, :m]
        stock = ages.sum(axis=1)
        top = int(stock.max())
        pmf = stats.poisson.pmf(np.arange(top + 1), mean)
        sf = stats.poisson.sf(np.arange(top + 1) - 1, mean)  # P(D >= k)
        # E(D - k)^+ = mean - sum_{j < k} P(D > j)
        tail_lost = mean - np.concatenate([[0.0], np.cumsum(stats.poisson.sf(np.arange(top), mean))])
        rows, cols, probs = [], [], []
        cost = p * tail_lost[stock]  # lost units of the tail term D >= stock; the others are 0 below
        radix = (Q + 1) ** np.arange(dims - 1, -1, -1)  # C-order strides
        order = range(m) if lifo else range(m - 1, -1, -1)
        for d in range(top + 1):
            left = ages.copy()
            need = np.full(self.n, d)
            for a in order:
                take = np.minimum(left[:, a], need)
                left[:, a] -= take
                need -= take
            short = d >= stock  # the tail term: everything is sold
            prob = np.where(short, 0.0, pmf[d])
            prob = np.where(d == stock, sf[np.minimum(stock, top)], prob)  # D >= stock, lumped at d = stock
            live = prob > 0
            rem = left.sum(axis=1)
            cost += prob * (h * rem + theta * left[:, m - 1])
            # the next state's components except q: (arrival, r_0..r_{m-2}, p_2..p_{L-1}); q added later
            nxt = np.zeros((self.n, dims), dtype=np.int64)
            if L >= 2:
                nxt[:, 0] = grid[:, m]  # p_1 arrives
                nxt[:, m:dims - 1] = grid[:, m + 1:]
            nxt[:, 1:m] = left[:, :m - 1]
            s = np.flatnonzero(live)
            rows.append(s)
            cols.append(nxt[s] @ radix)
            probs.append(prob[s])
        self.cost = cost
        self.q_stride = int(radix[0] if L == 1 else radix[dims - 1])  # where q goes: a_0 (L = 1) or p_{L-1}
        r, c, pr = np.concatenate(rows), np.concatenate(cols), np.concatenate(probs)
        self.K = sparse.csr_matrix((pr, (r, c)), shape=(self.n, self.n))  # rows sum to 1 (base index, q = 0)
        self.ip = grid.sum(axis=1)

    def q_values(self, v: np.ndarray) -> np.ndarray:
        """[n, Q + 1]: expected next relative value for each state and order q."""
        out = np.empty((self.n, self.Q + 1))
        for q in range(self.Q + 1):
            shifted = np.zeros(self.n)
            idx = np.arange(self.n)
            ok = ((idx // self.q_stride) % (self.Q + 1)) == 0  # base states (q component 0)
            shifted[ok] = v[idx[ok] + q * self.q_stride]
            out[:, q] = self.K @ shifted
        return out

    def transitions(self, q: np.ndarray) -> sparse.csr_matrix:
        K = self.K.tocoo()
        return sparse.csr_matrix((K.data, (K.row, K.col + q[K.row] * self.q_stride)), shape=(self.n, self.n))


def solve_perishable_lost_sales(demand_mean: float = 5.0, lead_time: int = 1, shelf_life: int = 2,
                                holding_cost: float = 1.0, lost_sales_penalty: float = 9.0,
                                outdating_cost: float = 0.0, issuing: str = "fifo", max_order: int | None = None,
                                tol: float = 1e-7, max_iter: int = 100_000) -> PerishableSolution:
    """Exact average-cost optimum of the perishable lost-sales problem (model above) by relative value
    iteration (Odoni bounds on the gain; tau = 0.5 aperiodicity transform). ``max_order`` default: the
    (L + 1)-period newsvendor level + 4, enlarged by 4 while the policy orders it."""
    Q = morton_bound(demand_mean, lead_time, holding_cost, lost_sales_penalty) + 4 if max_order is None \
        else int(max_order)
    while True:
        model = _PerishableModel(demand_mean, lead_time, shelf_life, holding_cost, lost_sales_penalty,
                                 outdating_cost, issuing == "lifo", Q)
        v = np.zeros(model.n)
        lo, hi = -math.inf, math.inf
        it = 0
        while it < max_iter:
            it += 1
            w = model.cost + model.q_values(v).min(axis=1)
            d = w - v
            lo, hi = float(d.min()), float(d.max())
            if hi - lo < tol:
                break
            v = 0.5 * v + 0.5 * w
            v -= v[0]
        policy = model.q_values(v).argmin(axis=1)
        if max_order is not None or policy.max() < Q:
            break
        Q += 4
    return PerishableSolution(0.5 * (lo + hi), lo, hi, lead_time, shelf_life, Q,
                              policy.reshape((Q + 1,) * model.dims), it, model.n)


def perishable_policy_cost(orders: Callable[[np.ndarray], np.ndarray] | int, demand_mean: float = 5.0,
                           lead_time: int = 1, shelf_life: int = 2, holding_cost: float = 1.0,
                           lost_sales_penalty: float = 9.0, outdating_cost: float = 0.0, issuing: str = "fifo",
                           max_order: int | None = None, tol: float = 1e-10, max_iter: int = 100_000) -> float:
    """Exact long-run average cost of a stationary policy of the perishable model: an int S (base-stock on the
    inventory position, orders capped at max_order, default S) or a callable states [n, m + L - 1] -> orders.
    The policy's chain must be unichain (not base-stock with m = 1 and L >= 1: the next state is then S minus
    the current one whatever the demand, and the cost depends on the start; a RuntimeWarning says so)."""
    Q = (int(orders) if isinstance(orders, (int, np.integer)) else morton_bound(
        demand_mean, lead_time, holding_cost, lost_sales_penalty) + 4) if max_order is None else int(max_order)
    model = _PerishableModel(demand_mean, lead_time, shelf_life, holding_cost, lost_sales_penalty, outdating_cost,
                             issuing == "lifo", Q)
    if isinstance(orders, (int, np.integer)):
        q = np.clip(int(orders) - model.ip, 0, Q)
    else:
        q = np.rint(np.asarray(orders(model.coords))).astype(np.int64)
        if (q < 0).any() or (q > Q).any():
            raise ValueError(f"orders must be in 0..{Q}")
    P = model.transitions(q)
    tau, c = 0.75, model.cost
    v = np.zeros(model.n)
    lo, hi = -math.inf, math.inf
    for _ in range(max_iter):
        d = c + P @ v - v
        lo, hi = max(lo, float(d.min())), min(hi, float(d.max()))
        if hi - lo < tol:
            break
        v += tau * d
        v -= v[0]
    else:
        warnings.warn(f"policy evaluation not converged (span {hi - lo:.3g})", RuntimeWarning, stacklevel=2)
    return 0.5 * (lo + hi)


def best_perishable_base_stock(**kw) -> tuple[int, float]:
    """Best base-stock level S* of the perishable model and its exact cost (every S from 0 to the (L + 1)-period
    newsvendor level + 4)."""
    top = morton_bound(kw.get("demand_mean", 5.0), kw.get("lead_time", 1), kw.get("holding_cost", 1.0),
                       kw.get("lost_sales_penalty", 9.0)) + 4
    costs = {s: perishable_policy_cost(s, **kw) for s in range(top + 1)}
    s = min(costs, key=costs.get)
    return s, costs[s]
