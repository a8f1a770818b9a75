"""``lp_allocation``: each period, the orders of all SKUs of a warehouse from one mixed-integer program under
the scenario's shared capacity / budget (HiGHS through ``scipy.optimize.milp``).

For SKU i with inventory position x_i before ordering, the program chooses its order q_i = pack_i n_i (n_i
integer; q_i = 0 or q_i >= moq_i through a binary; q_i <= max order and the SKU's own capacity) to minimise

    sum_i G_i(x_i + q_i),   G_i(y) = h_i E(y - X_i)^+ + p_i E(X_i - y)^+,

X_i the demand over the SKU's protection period (lead time + 1 periods: the empirical distribution of the
(L + 1)-period sums of its training demand; the mean lead time with random lead times), subject to
sum_i volume_i (x_i + q_i) <= capacity and sum_i unit_cost_i q_i <= budget per warehouse. G_i is convex and
piecewise linear between integers, G_i(y + 1) - G_i(y) = (h_i + p_i) P(X_i <= y) - p_i, so it enters as one
bounded variable per pack of the order (the segment [x + k pack, x + (k + 1) pack] with its average slope;
the slopes increase, so the program fills the segments in order), and the order is never raised past the
SKU's newsvendor level S_i (the first y whose slope is >= 0) unless the MOQ forces it. Without a binding
limit the orders are those of base-stock at S_i; under one, stock goes where a unit of room buys the most
expected cost, instead of the engine's proportional cut (``envs.kernel.shared_cut``), which the orders of
this program never trigger (they respect the limits already).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from envs import kernel

from .base import Policy, TrainData, lead_times, rolling_sums


class LPAllocation(Policy):
    """Orders of all SKUs of a warehouse from a MILP each period (module docstring)."""

    name = "lp_allocation"
    sku_separable = False  # the SKUs of a warehouse are allocated together

    def __init__(self, time_limit: float = 10.0):
        self.time_limit = time_limit
        self.cdf: list[np.ndarray] = []
        self.levels = np.zeros(0)
        self.cpu_s = 0.0
        self.solves = 0
        self.last_size = 0  # variables of the last program

    def fit(self, problem, train: TrainData) -> LPAllocation:
        self.problem = problem
        L = lead_times(problem)
        p = problem.params
        self.cdf, levels = [], []
        for i, d in enumerate(train.demand):
            x = np.rint(rolling_sums(np.asarray(d, dtype=np.float64), int(L[i]) + 1)) if d.size else np.zeros(1)
            top = int(max(x.max(), 0)) + 1
            cdf = np.cumsum(np.bincount(np.maximum(x, 0).astype(np.int64), minlength=top + 1)) / x.size
            self.cdf.append(cdf)
            h, b = p[i, kernel.HOLD], p[i, kernel.SHORT]
            slope = (h + b) * cdf - b
            levels.append(float(np.flatnonzero(slope >= 0)[0]) if (slope >= 0).any() else float(top))
        self.levels = np.array(levels)
        return self

    def _slopes(self, i: int, x: float, k: int, pack: float) -> np.ndarray:
        """Average slope of G_i on the k segments [x + j pack, x + (j + 1) pack], j < k."""
        cdf = self.cdf[i]
        p = self.problem.params[i]
        h, b = p[kernel.HOLD], p[kernel.SHORT]
        y = np.floor(x + np.arange(int(k * pack)))
        f = cdf[np.clip(y, 0, cdf.size - 1).astype(np.int64)]
        f[y < 0] = 0.0
        unit = (h + b) * f - b
        return unit.reshape(k, int(pack)).mean(axis=1)

    def act(self, obs, state) -> np.ndarray:
        import time

        t0 = time.process_time()
        out = self.orders(state.sku, state.inventory_position, state.params, state.group)
        self.cpu_s += time.process_time() - t0
        self.solves += 1
        return out

    def orders(self, sku: np.ndarray, ip: np.ndarray, params: np.ndarray, group: np.ndarray) -> np.ndarray:
        """The program's orders [N] for slots with SKUs `sku`, positions `ip`, parameter rows `params` and
        warehouses `group` (one program for all warehouses: their blocks are independent)."""
        n = sku.shape[0]
        cap, budget = self.problem.shared
        moq, pack = params[:, kernel.MOQ], params[:, kernel.PACK]
        room_sku = np.minimum(params[:, kernel.MAX_ORDER], params[:, kernel.CAPACITY] - ip)
        want = np.maximum(self.levels[sku] - ip, 0.0)
        want = np.where((want > 0) & (want < moq), moq, want)
        k = np.ceil(np.maximum(want, 0.0) / pack - 1e-9)
        k = np.minimum(k, np.floor(np.maximum(room_sku, 0.0) / pack + 1e-9)).astype(np.int64)
        k = np.where(np.ceil(moq / pack - 1e-9) > k, 0, k)  # the moq does not fit: no order
        slopes, owner = [], []
        for j in np.flatnonzero(k > 0):
            s = self._slopes(int(sku[j]), float(ip[j]), int(k[j]), float(pack[j]))
            slopes.append(s)
            owner.append(np.full(s.size, j))
        out = np.zeros(n)
        if not slopes:
            return out
        slopes = np.concatenate(slopes)
        owner = np.concatenate(owner)
        m = slopes.size  # segment variables (packs of the order), then n_j (integer packs), then z_j (moq)
        act = np.flatnonzero(k > 0)
        na = act.size
        pos = np.full(n, -1)
        pos[act] = np.arange(na)
        withmoq = act[moq[act] > 0]
        nz = withmoq.size
        nv = m + na + nz
        self.last_size = nv
        c = np.concatenate([slopes, np.zeros(na + nz)])
        lb = np.zeros(nv)
        ub = np.concatenate([np.ones(m), k[act].astype(np.float64), np.ones(nz)])
        integrality = np.concatenate([np.zeros(m), np.ones(na + nz)])
        rows, cols, vals, lo, hi = [], [], [], [], []
        r = 0
        # sum of the segments = n_j (packs)
        rows += [pos[owner] + r]
        cols += [np.arange(m)]
        vals += [np.ones(m)]
        rows += [np.arange(na) + r]
        cols += [m + np.arange(na)]
        vals += [-np.ones(na)]
        lo += [np.zeros(na)]
        hi += [np.zeros(na)]
        r += na
        if nz:  # pack n_j >= moq z_j and n_j <= k_j z_j
            pj = pos[withmoq]
            for sign, coef in ((1.0, moq[withmoq] / pack[withmoq]), (-1.0, k[withmoq].astype(np.float64))):
                rows += [np.arange(nz) + r, np.arange(nz) + r]
                cols += [m + pj, m + na + np.arange(nz)]
                vals += [np.full(nz, sign), -sign * coef]
                lo += [np.zeros(nz)]
                hi += [np.full(nz, np.inf)]
                r += nz
        groups = np.unique(group[act])
        gpos = np.searchsorted(groups, group[act])
        for limit, weight, used in ((cap, params[:, kernel.VOLUME], True), (budget, params[:, kernel.UNIT_COST],
                                                                             False)):
            if not math.isfinite(limit):
                continue
            base = np.zeros(groups.size)
            if used:  # capacity: the positions already held count
                np.add.at(base, np.searchsorted(groups, group[np.isin(group, groups)]),
                          (weight * ip)[np.isin(group, groups)])
            rows += [gpos + r]
            cols += [m + np.arange(na)]
            vals += [(weight * pack)[act]]
            lo += [np.full(groups.size, -np.inf)]
            hi += [np.maximum(limit - base, 0.0)]
            r += groups.size
        A = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, nv))
        res = milp(c, constraints=LinearConstraint(A, np.concatenate(lo), np.concatenate(hi)),
                   integrality=integrality, bounds=Bounds(lb, ub),
                   options={"time_limit": self.time_limit, "mip_rel_gap": 1e-6})
        if res.x is None:
            raise RuntimeError(f"lp_allocation: HiGHS found no solution ({res.message})")
        out[act] = np.rint(res.x[m:m + na]) * pack[act]
        return out

    def describe(self) -> str:
        per = self.cpu_s / max(self.solves, 1)
        return (f"{self.name}: MILP per period (HiGHS), newsvendor levels median {np.median(self.levels):g}; "
                f"{per * 1000:.1f} ms CPU per period over {self.solves} periods")
