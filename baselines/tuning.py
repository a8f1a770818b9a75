"""Tuning policy parameters by simulation on training demand, all candidates in one batched run.

Every (SKU-episode, candidate) pair becomes one column of a replicated :class:`Episodes`, so a grid of
candidates costs one pass of the kernel over the training window, with common random numbers across
candidates (the same demand for every candidate).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from enum import IntEnum

import numpy as np
from numba import njit

from envs import kernel
from envs.batch import PERIODS, BatchSim, simulate
from envs.episodes import STREAMS, Episodes, initial_states, make_episodes
from envs.problem import Problem

TRAIN_SEED = STREAMS["tune"]  # seed of simulated training demand; evaluation uses other seeds


def training_episodes(problem: Problem, n: int = 200, periods: int = 1000, seed: int = TRAIN_SEED,
                      window: str = "train") -> tuple[Episodes, int]:
    """Episodes to tune on and the warm-up to discard: each SKU's train window (data); for stationary
    parametric demand `n` (at least one per SKU) simulated episodes of `periods` periods after 100 warm-up
    periods; for non-stationary parametric demand (trend, season, promotions) `n` episodes as evaluated: the
    scenario's episode length from the steady initial state, no warm-up."""
    src = problem.source
    if src.replays_windows:
        # the same episodes for every policy tuned on this problem: built once (nothing modifies them)
        cache = problem.__dict__.setdefault("_training_episodes", {})
        if window not in cache:
            cache[window] = make_episodes(problem, window, replay=True)
        return cache[window], 0
    if not src.long_run:
        n = max(n // problem.n_skus, 1) * problem.n_skus
        return make_episodes(problem, seed=seed, n=n, periods=problem.scenario.episode_length), 0
    warmup = 100
    # at least one episode per SKU: with more SKUs than `n`, SKUs n.. would have no training demand at all
    # (their cost NaN, every candidate tied, the first one chosen)
    n = max(n, problem.n_skus)
    return make_episodes(problem, seed=seed, n=n, periods=periods + warmup), warmup


def replicate(eps: Episodes, k: int) -> Episodes:
    """Each episode repeated k times: column j * k + c is episode j with candidate c."""
    return eps.replicate(k)


def per_sku_cost(problem: Problem, eps: Episodes, totals: np.ndarray, k: int) -> np.ndarray:
    """Average cost per period for each (SKU, candidate): [n_skus, k] (NaN for SKUs without episodes)."""
    cost = totals[:, kernel.I_COST].reshape(-1, k)
    periods = totals[:, PERIODS].reshape(-1, k)
    sku = eps.sku.reshape(-1, k)[:, 0]
    num = np.zeros((problem.n_skus, k))
    den = np.zeros((problem.n_skus, k))
    np.add.at(num, sku, cost)
    np.add.at(den, sku, periods)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def grid_search(problem: Problem, eps: Episodes, warmup: int, candidates: np.ndarray,
                act: Callable[[BatchSim, np.ndarray], np.ndarray], order_up_to: bool = False
                ) -> tuple[np.ndarray, np.ndarray]:
    """Best candidate per SKU. candidates: [n_skus, k] values (or [n_skus, k, m] for m parameters);
    act(sim, values_per_column) gives the requests. Returns (best [n_skus(, m)], cost [n_skus, k])."""
    k = candidates.shape[1]
    reps = replicate(eps, k)
    values = candidates[reps.sku.reshape(-1, k)[:, 0]].reshape((-1,) + candidates.shape[2:])
    totals, _ = simulate(problem.without_shared(), reps, lambda sim: act(sim, values), warmup=warmup,
                         order_up_to=order_up_to)
    cost = per_sku_cost(problem, reps, totals, k)
    filled = np.where(np.isnan(cost), np.inf, cost)
    best = candidates[np.arange(problem.n_skus), filled.argmin(axis=1)]
    return best, cost


def critical_ratio(problem: Problem) -> np.ndarray:
    """The cost-optimal critical ratio p / (p + h) per SKU (0.5 where p + h = 0): the newsvendor fractile of
    demand over the protection interval for backorders (p = backorder cost per unit and period), and the
    project's lost-sales equivalent with p = lost-sale penalty per unit."""
    h, p = problem.params[:, kernel.HOLD], problem.params[:, kernel.SHORT]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p + h > 0, p / (p + h), 0.5)


def critical_z(problem: Problem) -> np.ndarray:
    """Normal quantile of the critical ratio p / (p + h) per SKU (clipped to [-3, 3]): a rule-of-thumb safety
    factor, used only to pick the pilot candidate of a pruned search (never the answer)."""
    from scipy.stats import norm

    return np.clip(norm.ppf(critical_ratio(problem)), -3.0, 3.0)


def nearest(grid: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Index of the candidate of each row of grid [n, k] nearest value [n]."""
    return np.abs(grid - np.asarray(value)[:, None]).argmin(axis=1)


def level_grid(upper: np.ndarray, points: int = 61) -> np.ndarray:
    """Candidate levels 0..upper per SKU: every integer when upper < points, else `points` rounded steps."""
    upper = np.maximum(np.ceil(upper), 1.0)
    frac = np.linspace(0.0, 1.0, points)
    grid = np.rint(upper[:, None] * frac[None, :])
    small = upper < points
    grid[small] = np.minimum(np.arange(points)[None, :], upper[small, None])
    return grid


def refine_grid(best: np.ndarray, coarse: np.ndarray, points: int = 21) -> np.ndarray:
    """Integer levels around the best coarse candidate (one coarse step either side)."""
    step = np.maximum(np.rint(coarse[:, 1] - coarse[:, 0]), 1.0)
    lo = np.maximum(best - step, 0.0)
    frac = np.linspace(0.0, 1.0, points)
    return np.rint(lo[:, None] + 2 * step[:, None] * frac[None, :])


# ------------------------------------------------------------------------------ fused rule simulation
# The searches above spend their time stepping the kernel over (episode x candidate) columns through
# BatchSim: per period, every column's state, parameters, info and totals travel through memory. For the
# rules whose order depends only on the inventory position (and, for forecast policies, on a forecast path
# that does not depend on the orders), `rule_costs` runs each column through the whole window in one numba
# loop with the state in registers. It is built from envs.kernel's own inline pieces (constrain, serve,
# period_cost, advance_pipeline: the same expressions in the same order, no fastmath; the integral pass keeps a
# ring buffer and a carried inventory position, and its vectorised lost-sales loop writes constrain without
# limits out), so the costs are bit-identical to simulate()'s
# (tests/test_baselines.py checks this against simulate for every rule, lost sales and backorders, lead
# times 0..4, MOQ / pack / max order / capacity, order and unit costs), and so are the chosen candidates.

class Rule(IntEnum):
    """The rules the fused passes simulate, and what their two per-column parameters ``a``, ``b`` are
    (:attr:`params`; the units asked for at inventory position IP, before the order constraints)."""

    LEVEL = 0
    """Order up to S (+ a forecast path): want = S - IP (base-stock, (R,S), forecast targets). a = level."""
    CAPPED = 1
    """Capped base-stock (Xin 2021): want = min(max(S - IP, 0), r). a = level, b = cap."""
    MIN_MAX = 2
    """(s,S): want = s + lot - IP if IP <= s else 0. a = reorder point, b = lot (S - s)."""
    EOQ = 3
    """(s, nQ): want = (floor((s - IP) / Q) + 1) Q if IP <= s else 0. a = reorder point, b = lot Q."""

    @property
    def params(self) -> tuple[str, ...]:
        """The names of a and b for this rule."""
        return {0: ("level",), 1: ("level", "cap"), 2: ("reorder_point", "lot"), 3: ("reorder_point", "lot")}[self]


# the same values as plain ints, for the numba passes (which compare the rule with them)
RULE_LEVEL, RULE_CAPPED, RULE_MIN_MAX, RULE_EOQ = (int(r) for r in Rule)


@njit(cache=True, error_model="numpy")
def _rule_totals(rule: int, params: np.ndarray, demand: np.ndarray, ep_lo: int, ep_hi: int, k: int,
                 lengths: np.ndarray, warmup: int, a: np.ndarray, b: np.ndarray, path: np.ndarray,
                 path_col: np.ndarray, state0: np.ndarray, backorder: bool, pilot: np.ndarray, bound0: np.ndarray,
                 skip: np.ndarray, cost: np.ndarray, periods: np.ndarray, maxw: np.ndarray, integral: bool) -> None:
    """cost[c] / periods[c]: summed cost and counted periods of column c = (e - ep_lo) * k + i (episode e in
    ep_lo..ep_hi - 1, candidate i) under the rule, over periods warmup <= t < lengths[e]. demand: [episodes,
    T]; path: [m, T] per-period targets added to a (RULE_LEVEL with path_col[c] >= 0: row path_col[c]; rule_costs transposes the [T, m] paths it is given, so that each row is contiguous in time).
    The k candidates of an episode advance together period by period: their dependency chains (net stock ->
    order -> net stock) are independent, so the CPU overlaps them. Columns with skip[c] are left alone.
    maxw[c] (RULE_CAPPED): the largest uncapped want max(a - IP, 0) over the periods simulated.

    With a unit cost c, the stock on hand and on order at the end of the episode is credited as simulate()
    credits it (c x (the final inventory position - the position when counting starts, after a warm-up)
    taken off the total; envs.batch.TOTAL_KEYS).

    Pruning (pilot[e] >= 0 and/or a finite bound0[e]): candidate pilot[e] is simulated first; then every other
    candidate stops as soon as its running cost exceeds min(bound0[e], the pilot's total), and its cost is set
    to +inf. Exact for the argmin when the period costs are >= 0 and nothing is credited at the end (checked
    here: h, p, K >= 0 and c = 0; otherwise no pruning), the episode is its SKU's only one and bound0 is the
    cost of a candidate of the same search: a float sum of non-negative terms never decreases, so such a
    candidate ends above a candidate's cost.

    integral: every demand, initial stock and pipeline value and pack size is an integer (below 2^50), so every
    stock, order and inventory position is one and float sums of them are exact in any order: the inventory
    position is then carried (IP' = IP + order - sales, or - demand with backorders) instead of summed over
    the pipeline, and the pipeline is a ring buffer (the same numbers as kernel.step's, not just close)."""
    width = max(state0.shape[1] - kernel.PIPE, 1)
    net = np.empty(k)
    pipe = np.zeros((k, width))
    tot = np.empty(k)
    ip0 = np.zeros(k)  # the inventory position when counting starts (after a warm-up), for the end credit
    act = np.empty(k, dtype=np.int64)
    pruned = np.zeros(k, dtype=np.bool_)
    for e in range(ep_lo, ep_hi):
        hold, short = params[e, kernel.HOLD], params[e, kernel.SHORT]
        order_cost, unit_cost = params[e, kernel.ORDER_COST], params[e, kernel.UNIT_COST]
        base = (e - ep_lo) * k
        for i in range(k):
            net[i] = state0[e, kernel.NET]
            pruned[i] = False
            for j in range(width):
                pipe[i, j] = state0[e, kernel.PIPE + j] if j < state0.shape[1] - kernel.PIPE else 0.0
            tot[i] = 0.0
            ip0[i] = 0.0
            maxw[base + i] = 0.0
        p0 = pilot[e]
        bound = bound0[e]
        if hold < 0.0 or short < 0.0 or order_cost < 0.0 or unit_cost != 0.0:  # (the end credit lowers a total)
            p0 = -1
            bound = np.inf
        if p0 >= 0 and skip[base + p0]:
            p0 = -1
        for phase in range(2):
            na = 0
            if phase == 0 and p0 >= 0:  # the pilot alone
                na = 1
                act[0] = p0
            elif phase == 1 or p0 < 0:
                if phase == 1 and p0 < 0:
                    break
                if p0 >= 0 and tot[p0] < bound:
                    bound = tot[p0]
                for i in range(k):
                    if i != p0 and not skip[base + i]:
                        act[na] = i
                        na += 1
            bnd = bound if phase == 1 or p0 < 0 else np.inf
            if integral:
                _rule_pass_int(rule, demand, e, base, lengths[e], warmup, params[e], a, b, path, path_col, backorder,
                               net, pipe, tot, act, na, bnd, pruned, maxw, ip0)
            else:
                _rule_pass(rule, demand, e, base, lengths[e], warmup, params[e], a, b, path, path_col, backorder,
                           net, pipe, tot, act, na, bnd, pruned, maxw, ip0)
        count = 0.0
        for t in range(lengths[e]):
            if t >= warmup:
                count += 1.0
        for i in range(k):
            if not skip[base + i]:
                cost[base + i] = np.inf if pruned[i] else tot[i]
                periods[base + i] = count


@njit(cache=True, inline="always")
def _rule_want(rule: int, A: float, B: float, ip: float, forecast: float, maxw: np.ndarray, c: int) -> float:
    """Units a rule asks for at inventory position ip (before constraints): 0 order-up-to S = A (+ the
    forecast path), 1 capped base-stock (S = A, cap B; records the largest uncapped order in maxw[c]),
    2 (s,S) with s = A, S = A + B, 3 (s,nQ) with s = A, Q = B."""
    if rule == RULE_LEVEL:
        return A + forecast - ip
    if rule == RULE_CAPPED:
        w = A - ip
        w = w if w > 0.0 else 0.0
        if w > maxw[c]:
            maxw[c] = w
        return w if w < B else B
    if rule == RULE_MIN_MAX:
        return A + B - ip if ip <= A else 0.0
    return (math.floor((A - ip) / B) + 1.0) * B if ip <= A else 0.0


@njit(cache=True, error_model="numpy")
def _rule_pass(rule, demand, e, base, length, warmup, prm, a, b, path, path_col, backorder, net, pipe, tot, act, na,
               bound, pruned, maxw, ip0) -> None:
    """Candidates act[:na] of episode e (kernel parameter row `prm`) through periods 0..length - 1 (see
    _rule_totals), built from the kernel's own pieces (constrain, serve, period_cost, advance_pipeline); a
    candidate whose running cost exceeds `bound` is dropped and marked in `pruned`."""
    L = int(prm[kernel.LEAD])
    hold, short = prm[kernel.HOLD], prm[kernel.SHORT]
    order_cost, unit_cost = prm[kernel.ORDER_COST], prm[kernel.UNIT_COST]
    moq, pack = prm[kernel.MOQ], prm[kernel.PACK]
    max_order, capacity = prm[kernel.MAX_ORDER], prm[kernel.CAPACITY]
    for t in range(length):
        d = demand[e, t]
        counted = t >= warmup
        x = 0
        while x < na:
            i = act[x]
            c = base + i
            A = a[c]
            n0 = net[i]
            ip = n0
            for j in range(L):
                ip += pipe[i, j]
            if t == warmup and warmup > 0:
                ip0[i] = ip
            want = _rule_want(rule, A, b[c], ip, path[path_col[c], t] if path_col[c] >= 0 else 0.0, maxw, c)
            q = kernel.constrain(want, ip, moq, pack, max_order, capacity)
            if L == 0:
                n0 += q
            else:
                pipe[i, L - 1] = q
            end, _, _, _, short_cost = kernel.serve(n0, d, backorder, short)
            _, hold_cost, ord_cost, pur_cost = kernel.period_cost(end, q, hold, order_cost, unit_cost)
            net[i] = end + kernel.advance_pipeline(pipe, i, 0, L)
            if counted:
                tot[i] += hold_cost + short_cost + ord_cost + pur_cost
                if tot[i] > bound:
                    pruned[i] = True
                    na -= 1
                    act[x] = act[na]
                    continue
            x += 1
    if unit_cost != 0.0 and length > warmup:  # the end credit (simulate's, the same expression)
        for x in range(na):
            i = act[x]
            ip = net[i]
            for j in range(L):
                ip += pipe[i, j]
            tot[i] -= unit_cost * (ip - ip0[i])


@njit(cache=True, error_model="numpy")
def _lost_sales_period(na, d, wpos, h, hold, short, order_cost, unit_cost, moq, pack, WANT, N, IP, P, COST) -> None:
    """One period of _rule_pass_int's candidates 0..na-1 with lost sales, a lead time L >= 1 and neither max
    order nor capacity, given the units each asks for (WANT): kernel.step's arithmetic, with kernel.constrain
    reduced to what it does without limits (the same numbers: q / 1.0 == q), and the period's cost written to
    COST. No branch depends on the candidate, so the loop vectorises."""
    tol = kernel._EPS
    for x in range(na):
        want = WANT[x]
        ip = IP[x]
        q = want if want > moq else moq
        q = math.ceil(q / pack - tol) * pack
        q = q if want > tol else 0.0
        n0 = N[x]
        sales = d if d < n0 else n0
        if sales < 0.0:
            sales = 0.0
        end = n0 - sales
        lost = d - sales
        IP[x] = ip + q - sales
        on_hand = end if end > 0.0 else 0.0
        ord_cost = order_cost if q > 0.0 else 0.0
        P[wpos, x] = q
        N[x] = end + P[h, x]
        P[h, x] = 0.0
        COST[x] = hold * on_hand + short * lost + ord_cost + unit_cost * q


@njit(cache=True, error_model="numpy")
def _rule_pass_int(rule, demand, e, base, length, warmup, prm, a, b, path, path_col, backorder, net, pipe, tot, act,
                   na, bound, pruned, maxw, ip0) -> None:
    """_rule_pass for integral data (see _rule_totals): carried inventory positions and a ring-buffer pipeline
    (slot (h + j) mod L arrives in j + 1 periods; h is shared: all candidates advance together).

    The active candidates' values and state are first copied into contiguous arrays (position x; the pipeline
    as [slot, x]), so the per-period loop over candidates reads and writes consecutive memory with no
    indirection and the compiler can vectorise it; the running costs are compared with `bound` after each
    period, and a dropped candidate is swapped out of the arrays. Each candidate sees the same operations as in
    _rule_pass (same expressions, same order), so the totals are the same numbers."""
    L = int(prm[kernel.LEAD])
    hold, short = prm[kernel.HOLD], prm[kernel.SHORT]
    order_cost, unit_cost = prm[kernel.ORDER_COST], prm[kernel.UNIT_COST]
    moq, pack = prm[kernel.MOQ], prm[kernel.PACK]
    max_order, capacity = prm[kernel.MAX_ORDER], prm[kernel.CAPACITY]
    W = L if L > 0 else 1
    cid = np.empty(na, dtype=np.int64)
    A = np.empty(na)
    B = np.empty(na)
    pc = np.empty(na, dtype=np.int64)
    N = np.empty(na)
    IP = np.empty(na)
    TOT = np.empty(na)
    MW = np.empty(na)
    P = np.zeros((W, na))
    with_path = False
    for x in range(na):
        i = act[x]
        c = base + i
        cid[x] = i
        A[x] = a[c]
        B[x] = b[c]
        pc[x] = path_col[c]
        if pc[x] >= 0:
            with_path = True
        N[x] = net[i]
        TOT[x] = tot[i]
        MW[x] = maxw[c]
        ip = net[i]
        for j in range(L):
            ip += pipe[i, j]
            P[j, x] = pipe[i, j]
        IP[x] = ip
    # the commonest cases (order-up-to and capped rules, lost sales, L >= 1, no max order or capacity): the
    # orders asked for, the period and the running costs in three simple loops (each one vectorises)
    capped = rule == RULE_CAPPED
    level_lost = ((rule == RULE_LEVEL or capped) and not backorder and L > 0 and max_order == np.inf
                  and capacity == np.inf)
    WANT = np.empty(na)
    COST = np.empty(na)
    h = 0
    for t in range(length):
        d = demand[e, t]
        counted = t >= warmup
        if t == warmup and warmup > 0:
            for x in range(na):
                ip0[cid[x]] = IP[x]
        wpos = (h - 1 if h > 0 else L - 1) if L > 0 else 0  # (h + L - 1) mod L, without a division
        if level_lost:
            if capped:  # _rule_want's RULE_CAPPED
                for x in range(na):
                    w = A[x] - IP[x]
                    w = w if w > 0.0 else 0.0
                    MW[x] = w if w > MW[x] else MW[x]
                    WANT[x] = w if w < B[x] else B[x]
            elif with_path:
                for x in range(na):
                    WANT[x] = A[x] + (path[pc[x], t] if pc[x] >= 0 else 0.0) - IP[x]
            else:
                for x in range(na):
                    WANT[x] = A[x] + 0.0 - IP[x]
            _lost_sales_period(na, d, wpos, h, hold, short, order_cost, unit_cost, moq, pack, WANT, N, IP, P, COST)
            if counted:
                for x in range(na):
                    TOT[x] += COST[x]
        for x in range(na if not level_lost else 0):
            n0 = N[x]
            ip = IP[x]
            fc = 0.0
            if with_path and pc[x] >= 0:
                fc = path[pc[x], t]
            want = _rule_want(rule, A[x], B[x], ip, fc, MW, x)
            q = kernel.constrain(want, ip, moq, pack, max_order, capacity)
            if L == 0:
                n0 += q
            end, out, _, _, short_cost = kernel.serve(n0, d, backorder, short)
            IP[x] = ip + q - out
            _, hold_cost, ord_cost, pur_cost = kernel.period_cost(end, q, hold, order_cost, unit_cost)
            if L > 0:
                P[wpos, x] = q
                N[x] = end + P[h, x]
                P[h, x] = 0.0
            else:
                N[x] = end
            if counted:
                TOT[x] += hold_cost + short_cost + ord_cost + pur_cost
        if counted and bound < np.inf:
            x = 0
            while x < na:
                if TOT[x] > bound:  # dropped: recorded, and the last active candidate moved into its place
                    i = cid[x]
                    pruned[i] = True
                    tot[i] = TOT[x]
                    maxw[base + i] = MW[x]
                    na -= 1
                    cid[x], A[x], B[x], pc[x], N[x], IP[x], TOT[x], MW[x] = (
                        cid[na], A[na], B[na], pc[na], N[na], IP[na], TOT[na], MW[na])
                    for j in range(W):
                        P[j, x] = P[j, na]
                    continue
                x += 1
        if L > 0:
            h = h + 1 if h + 1 < L else 0
    credit = unit_cost != 0.0 and length > warmup  # the end credit (exact: integral positions)
    for x in range(na):
        i = cid[x]
        tot[i] = TOT[x] - unit_cost * (IP[x] - ip0[i]) if credit else TOT[x]
        maxw[base + i] = MW[x]
        net[i] = N[x]


def _subset(eps: Episodes, idx: np.ndarray) -> Episodes:
    """Episodes idx of eps (a column subset)."""
    return eps.subset(idx)


def _integral(x: np.ndarray) -> bool:
    """Every value an integer of magnitude below 2^50 (sums of such floats are exact in any order)."""
    return bool(np.all((np.abs(x) < 2.0 ** 50) & (np.floor(x) == x)))


def rule_costs(problem: Problem, eps: Episodes, warmup: int, rule: Rule, a: np.ndarray, b: np.ndarray | None = None,
               paths: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
               chunk_entries: int = 32_000_000, pilot: np.ndarray | None = None, bound: np.ndarray | None = None,
               skip: np.ndarray | None = None, maxw: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Summed cost and counted periods [n_eps * k] of column j * k + c (episode j, candidate c) under `rule`
    with per-column values a, b [n_eps * k] (the layout of :func:`replicate`), from the steady initial state,
    as :func:`simulate` gives them. `paths(episode indices)` (RULE_LEVEL): (path [T, m], path_col [len * k]):
    per-period targets of the columns of those episodes (path_col: column of path, -1 for none); the episodes
    are processed in chunks of chunk_entries // (periods x k) episodes (a path then holds chunk_entries x c / k
    values for c distinct paths per episode). `pilot` [n_eps]: candidate
    simulated first in each episode, the others being dropped (cost +inf) once their running cost exceeds
    its total (see _rule_totals; only valid for the argmin where each SKU has one episode); -1: none. `bound`
    [n_eps]: prune above this cost too (the cost of a candidate of the same search). `skip` [n_eps * k] bool:
    columns not simulated (cost and periods left 0). `maxw` [n_eps * k] (output, RULE_CAPPED): the largest
    uncapped want of each column (a cap at or above it never binds: the column's trajectory is the uncapped
    one). `rule`: a :class:`Rule`; a and b are its parameters (``Rule.params`` names them)."""
    rule = int(Rule(rule))
    n = eps.n
    k = a.shape[0] // max(n, 1)
    b = np.zeros_like(a) if b is None else np.ascontiguousarray(b, dtype=np.float64)
    a = np.ascontiguousarray(a, dtype=np.float64)
    if problem.ops:
        if not problem.without_shared().ops:  # shared limits only: each SKU alone is the plain dynamics
            problem = problem.without_shared()
        else:
            return _simulated_rule_costs(problem, eps, warmup, rule, a, b, paths, skip, maxw)
    params = np.ascontiguousarray(problem.params[eps.sku])
    state0 = initial_states("steady", params, kernel.PIPE + max(problem.max_lead, 1), None)  # as simulate() starts
    demand, integral_demand = eps.by_episode
    lengths = eps.lengths.astype(np.int64)
    cost = np.zeros(n * k)
    periods = np.zeros(n * k)
    backorder = bool(problem.scenario.backorder)
    pilot = np.full(n, -1, dtype=np.int64) if pilot is None else np.asarray(pilot, dtype=np.int64)
    bound = np.full(n, np.inf) if bound is None else np.asarray(bound, dtype=np.float64)
    skip = np.zeros(n * k, dtype=np.bool_) if skip is None else np.asarray(skip, dtype=np.bool_)
    maxw = np.zeros(n * k) if maxw is None else maxw
    integral = bool(integral_demand and _integral(state0) and _integral(params[:, kernel.PACK]))
    if paths is None:
        _rule_totals(rule, params, demand, 0, n, k, lengths, warmup, a, b, np.zeros((1, 1)),
                     np.full(n * k, -1, dtype=np.int64), state0, backorder, pilot, bound, skip, cost, periods, maxw,
                     integral)
        return cost, periods
    step = max(1, chunk_entries // max(eps.periods * k, 1))
    for lo in range(0, n, step):
        idx = np.arange(lo, min(n, lo + step))
        path, path_col = paths(idx)
        cols = slice(lo * k, (lo + idx.size) * k)
        c_cost, c_per = cost[cols], periods[cols]
        _rule_totals(rule, params, demand, lo, lo + idx.size, k, lengths, warmup, a[cols], b[cols],
                     np.ascontiguousarray(path.T), np.ascontiguousarray(path_col, dtype=np.int64), state0,
                     backorder, pilot, bound, skip[cols], c_cost, c_per, maxw[cols], integral)
    return cost, periods


@njit(cache=True)
def _rule_wants(rule: int, a: np.ndarray, b: np.ndarray, ip: np.ndarray, path: np.ndarray, path_col: np.ndarray,
                t: int, active: np.ndarray, maxw: np.ndarray, out: np.ndarray) -> None:
    """out[c] = the units column c's rule asks for at inventory position ip[c] in period t (_rule_want; maxw
    recorded for active columns only)."""
    for c in range(a.shape[0]):
        f = path[path_col[c], t] if path_col[c] >= 0 and t < path.shape[1] else 0.0
        w0 = maxw[c]
        out[c] = _rule_want(rule, a[c], b[c], ip[c], f, maxw, c)
        if not active[c]:
            maxw[c] = w0


def _simulated_rule_costs(problem: Problem, eps: Episodes, warmup: int, rule: int, a: np.ndarray, b: np.ndarray,
                          paths, skip, maxw) -> tuple[np.ndarray, np.ndarray]:
    """rule_costs for a problem whose dynamics the fused passes do not write (``Problem.ops``: random lead times,
    perishable stock): the same rule through :func:`envs.batch.simulate` (the kernel itself), every column
    simulated (no pruning; skipped columns get cost and periods 0)."""
    n = eps.n
    k = a.shape[0] // max(n, 1)
    reps = eps.replicate(k)
    if paths is not None:
        path, path_col = paths(np.arange(n))
        path = np.ascontiguousarray(np.asarray(path, dtype=np.float64).T)
        path_col = np.ascontiguousarray(path_col, dtype=np.int64)
    else:
        path, path_col = np.zeros((1, 1)), np.full(a.shape[0], -1, dtype=np.int64)
    maxw = np.zeros(a.shape[0]) if maxw is None else maxw
    maxw[:] = 0.0
    want = np.empty(a.shape[0])

    def act(sim: BatchSim) -> np.ndarray:
        _rule_wants(rule, a, b, sim.raw.inventory_position, path, path_col, sim.t, sim.raw.active, maxw, want)
        return want

    totals, _ = simulate(problem.without_shared(), reps, act, warmup=warmup)
    cost, periods = totals[:, kernel.I_COST].copy(), totals[:, PERIODS].copy()
    if skip is not None:
        cost[skip], periods[skip] = 0.0, 0.0
    return cost, periods


def rule_search(problem: Problem, eps: Episodes, warmup: int, candidates: np.ndarray, rule: Rule,
                values: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray | None]],
                paths: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
                pilot: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`grid_search` for a rule of :func:`rule_costs`: the same candidates, the same costs (bit for bit)
    and the same choice. values(candidate values per column, SKU per column) -> (a, b) per column.

    pilot [n_skus] (candidate index per SKU, e.g. a previous stage's best or a rule-of-thumb level): where each
    SKU has a single episode (data windows), candidates are dropped as soon as their running cost exceeds the
    pilot's total: the choice is the same (costs are >= 0), but the cost of a dropped candidate is +inf."""
    k = candidates.shape[1]
    sku_col = np.repeat(eps.sku, k)
    per_col = candidates[sku_col, np.tile(np.arange(k), eps.n)]  # column j * k + c: candidate c of episode j
    a, b = values(per_col, sku_col)
    ep_pilot = None
    if pilot is not None and np.unique(eps.sku).size == eps.n:
        ep_pilot = np.asarray(pilot, dtype=np.int64)[eps.sku]
    cost, periods = rule_costs(problem, eps, warmup, rule, a, b, paths, pilot=ep_pilot)
    return choose(problem, eps, candidates, cost, periods)


def choose(problem: Problem, eps: Episodes, candidates: np.ndarray, cost: np.ndarray, periods: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """The best candidate per SKU from column costs and periods (layout of :func:`replicate`), as
    :func:`grid_search` chooses it: (best, cost per SKU and candidate)."""
    k = candidates.shape[1]
    if np.unique(eps.sku).size == eps.n:  # one episode per SKU: the sums of per_sku_cost are the values
        num = np.zeros((problem.n_skus, k))
        den = np.zeros((problem.n_skus, k))
        num[eps.sku] += cost.reshape(-1, k)
        den[eps.sku] += periods.reshape(-1, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            cost_sku = num / den
    else:
        totals = np.zeros((cost.shape[0], PERIODS + 1))
        totals[:, kernel.I_COST], totals[:, PERIODS] = cost, periods
        cost_sku = per_sku_cost(problem, replace(eps, sku=np.repeat(eps.sku, k)), totals, k)
    filled = np.where(np.isnan(cost_sku), np.inf, cost_sku)
    best = candidates[np.arange(problem.n_skus), filled.argmin(axis=1)]
    return best, cost_sku


def capped_search(problem: Problem, eps: Episodes, warmup: int, candidates: np.ndarray, pilot: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """rule_search for RULE_CAPPED over candidates [n_skus, k, 2] = (S, cap r), the same choice with less
    simulation where each SKU has a single episode (data windows):

    1. the uncapped candidates (r = inf) first, pruned against the pilot (an uncapped one); they record the
       largest want max(S - IP, 0) of their trajectory;
    2. a capped candidate whose cap is at least that largest want of its uncapped twin (same S, not pruned)
       never binds: its trajectory, hence its cost, is the twin's, bit for bit, and is copied;
    3. the others are simulated, pruned against the best uncapped cost (a candidate of this search).
    """
    k = candidates.shape[1]
    if np.unique(eps.sku).size != eps.n or not np.isinf(candidates[..., 1]).any():
        return rule_search(problem, eps, warmup, candidates, Rule.CAPPED, lambda v, s: (v[:, 0], v[:, 1]),
                           pilot=pilot)
    sku_col = np.repeat(eps.sku, k)
    per_col = candidates[sku_col, np.tile(np.arange(k), eps.n)]
    a, b = per_col[:, 0], per_col[:, 1]
    free = np.isinf(b)
    maxw = np.zeros(a.shape[0])
    cost, periods = rule_costs(problem, eps, warmup, Rule.CAPPED, a, b, pilot=np.asarray(pilot)[eps.sku],
                               skip=~free, maxw=maxw)
    # the uncapped twin of each column: the uncapped candidate with the same S (-1: none)
    # (episode, S) as one integer key; among uncapped columns with the same key the last one is the twin
    _, rank = np.unique(a, return_inverse=True)
    key = np.repeat(np.arange(eps.n, dtype=np.int64), k) * (int(rank.max(initial=0)) + 1) + rank
    fidx = np.flatnonzero(free)
    order = np.lexsort((fidx, key[fidx]))
    fk, fc = key[fidx][order], fidx[order]
    last = np.r_[fk[1:] != fk[:-1], True]
    fk, fc = fk[last], fc[last]
    pos = np.minimum(np.searchsorted(fk, key), fk.size - 1)
    twin = np.where(fk[pos] == key, fc[pos], -1)
    has = (twin >= 0) & ~free
    tw = np.where(has, twin, 0)
    copy = has & np.isfinite(cost[tw]) & (b >= maxw[tw])
    cost[copy], periods[copy] = cost[tw[copy]], periods[tw[copy]]
    rest = ~free & ~copy
    bound = np.where(free, cost, np.inf).reshape(eps.n, k).min(axis=1)
    c2, p2 = rule_costs(problem, eps, warmup, Rule.CAPPED, a, b, bound=bound, skip=~rest)
    cost[rest], periods[rest] = c2[rest], p2[rest]
    return choose(problem, eps, candidates, cost, periods)
