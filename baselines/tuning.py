"""Tuning policy parameters by simulation on training demand, all candidates in one batched run.

Every (SKU-episode, candidate) pair becomes one column of a replicated :class:`Episodes`, so a grid of
candidates costs one pass of the kernel over the training window, with common random numbers across
candidates (the same demand for every candidate).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from numba import njit

from envs import kernel as K
from envs.batch import PERIODS, BatchSim, Episodes, data_episodes, parametric_episodes, simulate
from envs.demand import HistoricalDemand
from envs.problem import Problem

TRAIN_SEED = 987_654  # seed of simulated training demand; evaluation uses other seeds


def training_episodes(problem: Problem, n: int = 200, periods: int = 1000, seed: int = TRAIN_SEED,
                      window: str = "train") -> tuple[Episodes, int]:
    """Episodes to tune on and the warm-up to discard: each SKU's train window (data); for stationary
    parametric demand `n` simulated episodes of `periods` periods after 100 warm-up periods; for
    non-stationary parametric demand (trend, season, promotions) `n` episodes as evaluated: the scenario's
    episode length from the steady initial state, no warm-up."""
    if isinstance(problem.source, HistoricalDemand):
        return data_episodes(problem, window), 0
    if not problem.source.stationary:
        n = max(n // problem.n_skus, 1) * problem.n_skus
        return parametric_episodes(problem, n, problem.scenario.episode_length, seed), 0
    warmup = 100
    return parametric_episodes(problem, n, periods + warmup, seed), warmup


def replicate(eps: Episodes, k: int) -> Episodes:
    """Each episode repeated k times: column j * k + c is episode j with candidate c."""
    rep = np.repeat
    return replace(eps, sku=rep(eps.sku, k), demand=np.ascontiguousarray(rep(eps.demand, k, axis=1)),
                   lengths=rep(eps.lengths, k), cal_offset=rep(eps.cal_offset, k),
                   past=[p for p in eps.past for _ in range(k)])


def per_sku_cost(problem: Problem, eps: Episodes, totals: np.ndarray, k: int) -> np.ndarray:
    """Average cost per period for each (SKU, candidate): [n_skus, k] (NaN for SKUs without episodes)."""
    cost = totals[:, K.I_COST].reshape(-1, k)
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
    totals, _ = simulate(problem, reps, lambda sim: act(sim, values), warmup=warmup, order_up_to=order_up_to)
    cost = per_sku_cost(problem, reps, totals, k)
    filled = np.where(np.isnan(cost), np.inf, cost)
    best = candidates[np.arange(problem.n_skus), filled.argmin(axis=1)]
    return best, cost


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
# loop with the state in registers. It repeats envs.kernel.step's arithmetic operation for operation (the
# same expressions in the same order, no fastmath), so the costs are bit-identical to simulate()'s
# (tests/test_baselines.py checks this against simulate for every rule, lost sales and backorders, lead
# times 0..4, MOQ / pack / max order / capacity, order and unit costs), and so are the chosen candidates.

RULE_LEVEL = 0
"""Order up to S = a (+ path): want = S - IP (base-stock, (R,S); forecast targets with a path)."""
RULE_CAPPED = 1
"""Capped base-stock: want = min(max(a - IP, 0), b) (Xin 2021)."""
RULE_MIN_MAX = 2
"""(s,S): want = a + b - IP if IP <= a else 0 (a = s, b = lot)."""
RULE_EOQ = 3
"""(s, nQ): want = (floor((a - IP) / b) + 1) b if IP <= a else 0 (a = s, b = Q)."""


@njit(cache=True, error_model="numpy")
def _rule_totals(rule: int, params: np.ndarray, demand: np.ndarray, col_ep: np.ndarray, lengths: np.ndarray,
                 warmup: int, a: np.ndarray, b: np.ndarray, path: np.ndarray, path_col: np.ndarray,
                 state0: np.ndarray, backorder: bool, cost: np.ndarray, periods: np.ndarray) -> None:
    """cost[c] / periods[c]: summed cost and counted periods of column c (episode col_ep[c]) under the rule,
    over periods warmup <= t < lengths[episode]. demand: [episodes, T]; path: [T, m] per-period targets added
    to a (RULE_LEVEL with path_col[c] >= 0: column path_col[c] of path)."""
    width = state0.shape[1] - K.PIPE
    pipe = np.zeros(max(width, 1))
    for c in range(col_ep.shape[0]):
        e = col_ep[c]
        L = int(params[e, K.LEAD])
        hold, short = params[e, K.HOLD], params[e, K.SHORT]
        order_cost, unit_cost = params[e, K.ORDER_COST], params[e, K.UNIT_COST]
        moq, pack = params[e, K.MOQ], params[e, K.PACK]
        max_order, capacity = params[e, K.MAX_ORDER], params[e, K.CAPACITY]
        net = state0[e, K.NET]
        recv = state0[e, K.RECV]
        for k in range(width):
            pipe[k] = state0[e, K.PIPE + k]
        A, B = a[c], b[c]
        pc = path_col[c]
        total = 0.0
        count = 0.0
        for t in range(lengths[e]):
            ip = net
            for k in range(L):
                ip += pipe[k]
            if rule == 0:
                S = A
                if pc >= 0:
                    S = path[t, pc] + A
                want = S - ip
            elif rule == 1:
                w = A - ip
                w = w if w > 0.0 else 0.0
                want = w if w < B else B
            elif rule == 2:
                want = A + B - ip if ip <= A else 0.0
            else:
                want = (math.floor((A - ip) / B) + 1.0) * B if ip <= A else 0.0
            q = K.constrain(want, ip, moq, pack, max_order, capacity)
            received = recv
            if L == 0:
                net += q
                received += q
            else:
                pipe[L - 1] = q
            d = demand[e, t]
            if backorder:
                end = net - d
                back = -end if end < 0.0 else 0.0
                short_cost = short * back
            else:
                sales = d if d < net else net
                if sales < 0.0:
                    sales = 0.0
                end = net - sales
                lost = d - sales
                short_cost = short * lost
            on_hand = end if end > 0.0 else 0.0
            hold_cost = hold * on_hand
            ord_cost = order_cost if q > 0.0 else 0.0
            pur_cost = unit_cost * q
            arrival = 0.0
            if L > 0:
                arrival = pipe[0]
                for k in range(L - 1):
                    pipe[k] = pipe[k + 1]
                pipe[L - 1] = 0.0
            net = end + arrival
            recv = arrival
            if t >= warmup:
                total += hold_cost + short_cost + ord_cost + pur_cost
                count += 1.0
        cost[c] = total
        periods[c] = count


def _subset(eps: Episodes, idx: np.ndarray) -> Episodes:
    """Episodes idx of eps (a column subset)."""
    return replace(eps, sku=eps.sku[idx], demand=np.ascontiguousarray(eps.demand[:, idx]), lengths=eps.lengths[idx],
                   cal_offset=eps.cal_offset[idx], past=[eps.past[i] for i in idx])


def rule_costs(problem: Problem, eps: Episodes, warmup: int, rule: int, a: np.ndarray, b: np.ndarray | None = None,
               paths: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
               chunk_entries: int = 4_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Summed cost and counted periods [n_eps * k] of column j * k + c (episode j, candidate c) under `rule`
    with per-column values a, b [n_eps * k] (the layout of :func:`replicate`), from the steady initial state,
    as :func:`simulate` gives them. `paths(episode indices)` (RULE_LEVEL): (path [T, m], path_col [len * k]):
    per-period targets of the columns of those episodes (path_col: column of path, -1 for none); the episodes
    are processed in chunks so that a path holds about `chunk_entries` values."""
    n = eps.n
    k = a.shape[0] // max(n, 1)
    b = np.zeros_like(a) if b is None else np.ascontiguousarray(b, dtype=np.float64)
    a = np.ascontiguousarray(a, dtype=np.float64)
    params = np.ascontiguousarray(problem.params[eps.sku])
    state0 = BatchSim(problem, eps).state  # the steady initial state, as simulate() starts from
    h = eps.history
    demand = np.ascontiguousarray(eps.demand[h:].T)
    lengths = eps.lengths.astype(np.int64)
    cost = np.zeros(n * k)
    periods = np.zeros(n * k)
    backorder = bool(problem.scenario.backorder)
    col_ep = np.repeat(np.arange(n), k)
    if paths is None:
        _rule_totals(rule, params, demand, col_ep, lengths, warmup, a, b, np.zeros((1, 1)),
                     np.full(n * k, -1, dtype=np.int64), state0, backorder, cost, periods)
        return cost, periods
    step = max(1, chunk_entries // max(eps.periods * k, 1))
    for lo in range(0, n, step):
        idx = np.arange(lo, min(n, lo + step))
        path, path_col = paths(idx)
        cols = slice(lo * k, (lo + idx.size) * k)
        c_cost, c_per = cost[cols], periods[cols]
        _rule_totals(rule, params, demand, col_ep[cols], lengths, warmup, a[cols], b[cols],
                     np.ascontiguousarray(path), np.ascontiguousarray(path_col, dtype=np.int64), state0,
                     backorder, c_cost, c_per)
    return cost, periods


def rule_search(problem: Problem, eps: Episodes, warmup: int, candidates: np.ndarray, rule: int,
                values: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray | None]],
                paths: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`grid_search` for a rule of :func:`rule_costs`: the same candidates, the same costs (bit for bit)
    and the same choice. values(candidate values per column, SKU per column) -> (a, b) per column."""
    k = candidates.shape[1]
    sku_col = np.repeat(eps.sku, k)
    per_col = candidates[sku_col, np.tile(np.arange(k), eps.n)]  # column j * k + c: candidate c of episode j
    a, b = values(per_col, sku_col)
    cost, periods = rule_costs(problem, eps, warmup, rule, a, b, paths)
    totals = np.zeros((cost.shape[0], PERIODS + 1))
    totals[:, K.I_COST], totals[:, PERIODS] = cost, periods
    reps = replace(eps, sku=sku_col)
    cost_sku = per_sku_cost(problem, reps, totals, k)
    filled = np.where(np.isnan(cost_sku), np.inf, cost_sku)
    best = candidates[np.arange(problem.n_skus), filled.argmin(axis=1)]
    return best, cost_sku
