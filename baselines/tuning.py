"""Tuning policy parameters by simulation on training demand, all candidates in one batched run.

Every (SKU-episode, candidate) pair becomes one column of a replicated :class:`Episodes`, so a grid of
candidates costs one pass of the kernel over the training window, with common random numbers across
candidates (the same demand for every candidate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

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
