"""Forecast-driven order-up-to policies: moving average, SES, Holt-Winters, ARIMA, Croston (SBA) and TSB.

Every policy here orders up to a target on the inventory position each period (Silver, Pyke & Thomas 2017,
*Inventory and Production Management in Supply Chains*, 4th ed., ch. 6, the periodic-review order-up-to
(R, S) system with R = 1)::

    S_t = F_t(L + 1) + z * sigma_e * sqrt(L + 1)

``F_t(L + 1)``  forecast of the total demand of periods t .. t + L (the protection interval: lead time L of the
                episode's SKU, ``params[:, kernel.LEAD]``, plus one review period), made from the demand of
                periods < t only; per-period forecasts are clipped at 0 before they are summed;
``sigma_e``     root mean square of the one-step-ahead forecast errors on the SKU's training window, in sample,
                after a burn-in of ``min(burn_in, n // 3)`` periods (n = training periods used);
``z``           safety factor: ``norm.ppf(service_level)`` (cycle service level, default 0.95), or, with
                ``tuned=True``, chosen per SKU together with the smoothing constant (where there is one) to
                minimise the simulated cost on the training episodes (:func:`baselines.tuning.grid_search`:
                a coarse grid of z x smoothing constants, then a fine z grid around the best).

The kernel turns S_t into an order (S_t - inventory position, then MOQ / pack / caps), so ``order_up_to``
is set and ``act`` returns S_t.

Mechanics. ``fit`` estimates per-SKU parameters and an initial forecaster state on the last ``fit_periods``
periods of each SKU's training demand (the state is a *prior*: training means, or the fitted model's initial
state). ``start(episodes)`` starts every episode from that prior and rolls the forecaster over
``episodes.past[j]`` (all demand observed before the episode, no refit); ``act`` then updates it with
``state.last_demand`` once per period from period 1 on (at period 0 ``last_demand`` is the last value of
``past``, already counted). All recursions are numpy / numba over episodes; model fits happen only in ``fit``.
Seasonal Holt-Winters states are aligned by calendar row: the phase of ``past[j]``'s first value is
``cal_offset[j] - len(past[j])`` minus the SKU's training start (``window_range('train')`` for data; period 0,
calendar row ``problem.window``, for parametric demand, as in :func:`baselines.base.train_data`).

Forecasters (registry :data:`FORECAST_POLICIES`; tuned variants are named ``<name>_tuned``):

================ ===============================================================================
``ma``           :class:`MovingAverage`, mean of the last k periods
``ses``          :class:`SES`, simple exponential smoothing, alpha fitted on the training one-step SSE
``holt_winters`` :class:`HoltWinters`, additive Holt-Winters (batched fit) per smooth/erratic SKU, else SES
``arima``        :class:`ARIMA`, ARIMA (batched exact-likelihood fit) per smooth/erratic SKU, else SES
``croston``      :class:`Croston`, Croston (1972), optionally with the Syntetos-Boylan (2005) correction
``tsb``          :class:`TSB`, Teunter, Syntetos & Babai (2011)
================ ===============================================================================

Safety stock (:class:`SafetyStock`): the textbook ``z sigma_e sqrt(L+1)`` above (the untuned rules use a fixed
service level and say so in their description), or, for the ``<name>_quantile`` rules,
``S_t = F_t(L+1) + Q(level)`` with Q the empirical distribution of the forecaster's own (L+1)-period errors on
the SKU's training window (``e_s = y_s + ... + y_{s+L} - F_s(L+1)``, in sample after burn-in), at the cost-optimal
critical ratio p / (p + h) (:func:`baselines.tuning.critical_ratio`); ``<name>_quantile_tuned`` chooses one level
of :data:`LEVEL_GRID` for all SKUs by simulated cost on the held-out last :data:`HOLDOUT` of each training
window (fitted on the part before it), then refits on the whole training window.

``python -m baselines.forecast DATA.csv.gz`` fits and evaluates them all on a data file and prints costs and
CPU times.

This module holds the policies (and the runner turning an engine's forecasts into targets); the forecaster
recursions are in :mod:`baselines.forecast_engines`, the model fits in :mod:`baselines.forecast_models`.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial

import numpy as np
from scipy.stats import norm

from envs import kernel
from envs.batch import BatchSim, Episodes, RawState
from envs.episodes import make_episodes
from envs.problem import Problem

from .base import Policy, TrainData, lead_times
from .forecast_engines import (
    _compose,
    _CrostonEngine,
    _HoltWintersEngine,
    _KalmanEngine,
    _MAEngine,
    _one_step,
    _roll,
    _SESEngine,
    _TSBEngine,
)
from .forecast_models import ARIMA_ORDERS as ARIMA_ORDERS  # re-exported: the orders the ARIMA policy compares
from .forecast_models import ARIMA_STATES, fit_arima_batch, fit_holt_winters_batch
from .tuning import (
    Rule,
    _subset,
    critical_ratio,
    critical_z,
    replicate,
    rule_costs,
    rule_search,
    training_episodes,
)

__all__ = [
    "ARIMA", "FORECAST_POLICIES", "SES", "TSB", "Croston", "ForecastPolicy", "HoltWinters", "MovingAverage",
    "SafetyStock", "season_length",
]

ADI_CUT = 1.32
"""Syntetos-Boylan-Croston cut on the average inter-demand interval: ADI < 1.32 = smooth or erratic."""
ALPHA_GRID = np.array([0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7,
                       0.8, 0.9, 1.0])
"""Smoothing constants tried when fitting SES and Croston on the training one-step SSE."""
TSB_GRID = np.array([0.02, 0.05, 0.1, 0.2, 0.3, 0.5])
"""Values tried for each of TSB's alpha (size) and beta (probability) when fitting on the training SSE."""
Z_COARSE = np.arange(-3.0, 3.01, 0.5)
"""Safety factors of the first tuning stage (cost-optimal z on intermittent data is often <= 0)."""
Z_FINE = np.round(np.arange(-0.4, 0.41, 0.1), 10)
"""Offsets around the best coarse z in the second tuning stage."""
LEVEL_GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975, 0.99)
"""Quantile levels tried by the ``*_quantile_tuned`` rules (one level for all SKUs, chosen on held-out data;
levels below 0.5 pay where the in-sample error spread overstates the risk, e.g. long lead times)."""
HOLDOUT = 0.2
"""Share at the end of each SKU's training window held out to choose the quantile level (data scenarios)."""
MIN_ERRORS = 3
"""Fewest (L+1)-period errors for an empirical quantile; below it the normal approximation is used."""


class SafetyStock(Enum):
    """How a forecast policy sets its safety stock on top of F(L+1)."""

    NORMAL = "normal"
    """z sigma_e sqrt(L+1): z from a fixed cycle service level (textbook), or tuned per SKU (``tuned``)."""
    ERROR_QUANTILE = "error_quantile"
    """The empirical quantile of the forecaster's own (L+1)-period errors on the training window, at the
    critical ratio p / (p + h), or at a level chosen on held-out data (``tuned``)."""


def season_length(problem: Problem) -> int:
    """Periods per season: 12 (monthly data), 52 (weekly), 7 (daily), 4 (quarterly), 5 (business days);
    7 for parametric demand with weekly multipliers; 1 (no season) otherwise (the source's ``season_length``)."""
    return problem.source.season_length()


def _train_start_rows(problem: Problem, n: int) -> np.ndarray:
    """Calendar row of the first period of each SKU's training demand (see the module docstring)."""
    return problem.source.train_start_rows(problem)[:n]


# ===================================================================================== order-up-to targets


class _Runner:
    """Targets S_t = F_t(H) + safety for a batch of episodes; updates the engine once per new period."""

    def __init__(self, engine, H: np.ndarray, safety: np.ndarray):
        self.engine = engine
        self.H = H.astype(np.float64)
        self.hmax = int(H.max(initial=1))
        self.mask = None if engine.flat else (np.arange(self.hmax)[None, :] < H[:, None])
        self.safety = safety
        self.period = 0

    def target(self, state: RawState) -> np.ndarray:
        t = state.period
        if t != self.period:
            if t != self.period + 1:
                raise RuntimeError(f"forecast policy saw period {t} after period {self.period}: call start() "
                                   f"before each evaluation batch and act() once per period")
            self.engine.update(np.asarray(state.last_demand, dtype=np.float64))
            self.period = t
        f = np.maximum(self.engine.forecast(self.hmax), 0.0)
        total = f * self.H if f.ndim == 1 else np.where(self.mask, f, 0.0).sum(axis=1)
        return total + self.safety


@dataclass
class _PathState:
    """The part of RawState a forecast runner reads (period, last period's demand)."""

    period: int
    last_demand: np.ndarray


# ============================================================================================ policies


class ForecastPolicy(Policy):
    """Order up to S_t = F_t(L+1) + z sigma_e sqrt(L+1) (see the module docstring); subclasses give F.

    Arguments (keyword): ``service_level`` (cycle service level for z = Phi^-1(service_level), default
    0.95); ``tuned`` (choose z, and the smoothing constant where there is one, per SKU by simulated training
    cost); ``burn_in`` (periods of in-sample errors left out of sigma_e and of the smoothing fit, at most a
    third of the training window); ``fit_periods`` (only the most recent this many training periods of a SKU
    are used for fitting).
    """

    order_up_to = True
    base_name = "forecast"
    theta_names: tuple[str, ...] = ()
    """Names of the per-SKU smoothing parameters (columns of ``theta``)."""
    sku_fields = ("theta", "sigma", "z")

    def __init__(self, *, service_level: float = 0.95, tuned: bool = False, burn_in: int = 6,
                 fit_periods: int = 2000, safety: SafetyStock = SafetyStock.NORMAL):
        if not 0.0 < service_level < 1.0:
            raise ValueError(f"service_level must be in (0, 1), got {service_level}")
        if not isinstance(safety, SafetyStock):
            raise ValueError(f"safety must be a SafetyStock, got {safety!r}")
        self.service_level = service_level
        self.tuned = tuned
        self.burn_in = burn_in
        self.fit_periods = fit_periods
        self.safety = safety
        quantile = safety is SafetyStock.ERROR_QUANTILE
        self.name = self.base_name + ("_quantile" if quantile else "") + ("_tuned" if tuned else "")
        if quantile:  # per-SKU arrays describe() reads (a chunked evaluation concatenates them)
            self.sku_fields = type(self).sku_fields + ("level", "error_count", "safety_stock")
        if quantile and tuned:
            self.sku_separable = False  # one level for all SKUs, chosen on their summed held-out cost

    # ------------------------------------------------------------------------------------------- fitting
    def fit(self, problem: Problem, train: TrainData) -> ForecastPolicy:
        self._fit_forecaster(problem, train)
        n = problem.n_skus
        if self.safety is SafetyStock.ERROR_QUANTILE:
            errors = self._lead_errors(np.arange(n), self.theta)
            self.error_count = errors[1]
            self.level = critical_ratio(problem).astype(np.float64)
            self.holdout_costs: dict[float, float] = {}
            if self.tuned:
                self.level = np.full(n, self._tune_level(train))
            self.safety_stock = self._error_quantiles(errors, self.level[:, None])[:, 0]
        elif self.tuned:
            self._tune(train.window)
        return self

    def _fit_forecaster(self, problem: Problem, train: TrainData) -> None:
        """The forecaster's parameters and prior state, sigma_e and the untuned z, from `train`."""
        self.problem = problem
        n = problem.n_skus
        if len(train.demand) != n:
            raise ValueError(f"train has {len(train.demand)} SKUs, the problem {n}")
        self._lead = lead_times(problem)
        self._train_start = _train_start_rows(problem, n)
        nobs = np.array([min(len(d), self.fit_periods) for d in train.demand], dtype=np.int64)
        Y = np.zeros((int(nobs.max(initial=0)), n))
        for i, d in enumerate(train.demand):
            d = np.asarray(d, dtype=np.float64)
            if not np.all(np.isfinite(d)):
                raise ValueError(f"training demand of SKU {i} is not finite")
            Y[:nobs[i], i] = d[len(d) - nobs[i]:]
        self._Y, self._nobs = Y, nobs
        self._offset = np.array([len(d) for d in train.demand], dtype=np.int64) - nobs
        self._burn = np.minimum(self.burn_in, nobs // 3)
        mask = np.arange(Y.shape[0])[:, None] < nobs[None, :]
        hits = ((Y > 0) & mask).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            self._level0 = np.where(nobs > 0, Y.sum(axis=0) / np.maximum(nobs, 1), 0.0)
            self._size0 = np.where(hits > 0, Y.sum(axis=0) / np.maximum(hits, 1), 0.0)
            self._adi = np.where(hits > 0, nobs / np.maximum(hits, 1), np.inf)
        self._prob0 = np.where(nobs > 0, hits / np.maximum(nobs, 1), 0.0)
        self._train = train  # for _grid_fit's cache, during fit only
        try:
            self._prepare()
            self.theta = self._fit_theta()
        finally:
            del self._train
        self.sigma = self._sigma(np.arange(n), self.theta)
        self.z = np.full(n, float(norm.ppf(self.service_level)))

    def _prepare(self) -> None:
        """Subclass hook: per-SKU models and states needed by _make_engine (after the common statistics)."""

    def _fit_theta(self) -> np.ndarray:
        """Per-SKU smoothing parameters [n_skus, len(theta_names)]."""
        return np.zeros((self.problem.n_skus, 0))

    def _theta_candidates(self) -> np.ndarray:
        """Smoothing parameters tried when tuning: [n_skus, c, len(theta_names)]."""
        return self.theta[:, None, :]

    def _make_engine(self, sku: np.ndarray, theta: np.ndarray, count: np.ndarray):
        """Engine for columns of SKUs `sku` with parameters `theta` [N, p], at their prior state; count[j] = the
        number (from the SKU's training start) of the first value column j will see (seasonal phase)."""
        raise NotImplementedError

    def _in_sample(self, sku: np.ndarray, theta: np.ndarray, make_engine=None) -> tuple[np.ndarray, np.ndarray]:
        """Sum of squared one-step errors after burn-in on each column's SKU's fit window, and their number
        (for the engine of `make_engine`, by default this policy's)."""
        engine = (make_engine or self._make_engine)(sku, theta, self._offset[sku])
        nobs, burn = self._nobs[sku], self._burn[sku]
        sse = np.zeros(sku.shape[0])
        cnt = np.zeros(sku.shape[0])
        for s in range(int(nobs.max(initial=0))):
            y = self._Y[s, sku]
            use = (s >= burn) & (s < nobs)
            e = y - _one_step(engine)
            sse += np.where(use, e * e, 0.0)
            cnt += use
            engine.update(y)
        return sse, cnt

    def _ses_engine(self, sku: np.ndarray, theta: np.ndarray, count: np.ndarray) -> _SESEngine:
        return _SESEngine(theta[:, 0], self._level0[sku])

    def _sigma(self, sku: np.ndarray, theta: np.ndarray) -> np.ndarray:
        sse, cnt = self._in_sample(sku, theta)
        return np.sqrt(sse / np.maximum(cnt, 1))

    def _lead_errors(self, sku: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (L+1)-period forecast errors of each column's SKU on its fit window, in sample:
        e_s = (y_s + ... + y_{s+L}) - F_s(L+1), F_s made from the values before s (as the policy's target at a
        period s), for burn-in <= s and s + L + 1 <= n. Returns (errors [T, N] sorted per column, NaN after the
        valid ones; their number per column [N])."""
        engine = self._make_engine(sku, theta, self._offset[sku])
        nobs, burn = self._nobs[sku], self._burn[sku]
        H = self._lead[sku] + 1
        hmax = int(H.max(initial=1))
        mask = np.arange(hmax)[None, :] < H[:, None]
        T = int(nobs.max(initial=0))
        Y = self._Y[:T, sku]
        F = np.empty((T, sku.shape[0]))
        for s in range(T):
            f = np.maximum(engine.forecast(hmax), 0.0)
            F[s] = f * H if f.ndim == 1 else np.where(mask, f, 0.0).sum(axis=1)
            engine.update(Y[s])
        cum = np.zeros((T + 1, sku.shape[0]))
        np.cumsum(Y, axis=0, out=cum[1:])
        s = np.arange(T)[:, None]
        end = s + H[None, :]
        valid = (s >= burn[None, :]) & (end <= nobs[None, :])
        actual = np.take_along_axis(cum, np.minimum(end, T), axis=0) - cum[:T]
        err = np.where(valid, actual - F, np.nan)
        return np.sort(err, axis=0), valid.sum(axis=0)

    def _error_quantiles(self, errors: tuple[np.ndarray, np.ndarray], levels: np.ndarray) -> np.ndarray:
        """Safety stock [n_skus, g] at quantile levels [n_skus, g]: the empirical quantile of each SKU's
        (L+1)-period errors (:meth:`_lead_errors` of every SKU), the smallest error e with share(errors <= e)
        >= level (numpy's ``inverted_cdf``); with fewer than :data:`MIN_ERRORS` errors the normal
        approximation Phi^-1(level) sigma_e sqrt(L+1)."""
        ordered, count = errors
        n = count.shape[0]
        if ordered.shape[0] == 0:
            ordered = np.full((1, n), np.nan)
        k = np.ceil(np.round(levels * count[:, None], 9)).astype(np.int64) - 1
        k = np.clip(k, 0, np.maximum(count - 1, 0)[:, None])
        q = ordered[k, np.arange(n)[:, None]]
        normal = norm.ppf(levels) * (self.sigma * np.sqrt(self._lead + 1))[:, None]
        return np.where((count >= MIN_ERRORS)[:, None], q, normal)

    def _tune_level(self, train: TrainData) -> float:
        """The quantile level of the ``*_quantile_tuned`` rule: one level of :data:`LEVEL_GRID` for all SKUs,
        the least total cost on held-out data, chosen as :class:`baselines.base_stock.RecentBaseStock` chooses
        its k. Data: the held-out part is each SKU's validation window when `train` holds train + val
        (``train.window == "fit"``: the rule is scored on the test window), else the last :data:`HOLDOUT`
        share of its train window; a copy of the rule is fitted (forecaster, error distribution) on the demand
        before it and simulated on it for each level; the window the rule is scored on is never read.
        Parametric demand: the rule fitted on the training demand is simulated on the tuning episodes (other
        draws). Fills ``holdout_costs`` (level -> summed cost). The simulation starts L_max + 1 periods before
        the held-out part (the copy has seen them): without that warm-up, orders placed in the held-out part of a
        long-lead-time SKU would barely arrive inside it, and its cost would not depend on the level. The
        held-out cost is the cost of the whole run less that of the warm-up alone (the same trajectory): with a
        unit cost, the stock at the end of the warm-up is then charged at unit cost as the stock at the end is
        credited (a warm-up whose purchases are dropped but whose stock is credited would favour high levels)."""
        pb = self.problem
        n = pb.n_skus
        grid = np.asarray(LEVEL_GRID, dtype=np.float64)
        g = grid.shape[0]
        src = pb.source
        if src.replays_windows:
            window = train.window
            r = src._ranges[window]
            s, e = r[:, 0].astype(np.int64), r[:, 1].astype(np.int64)
            hold = np.floor(HOLDOUT * (e - s)).astype(np.int64)
            if window == "fit":  # the validation window is the held-out part (where the SKU has one)
                v = src._ranges["val"]
                val_len = (v[:, 1] - v[:, 0]).astype(np.int64)
                hold = np.where(val_len >= 1, val_len, hold)
            val_start = e - hold
            warmup = pb.max_lead + 1
            ok = (hold >= 1) & (val_start - warmup - s >= 2)
            if not ok.any():
                return float(np.median(self.level))
            pre = TrainData([np.asarray(d)[: len(d) - int(hold[i])] if ok[i] else np.asarray(d)
                             for i, d in enumerate(train.demand)], simulated=False, window=window)
            rule = copy.copy(self)
            rule._fit_forecaster(pb, pre)
            skus, begin = np.flatnonzero(ok), val_start[ok] - warmup
            eps = make_episodes(pb, window, replay=True, skus=skus, start=begin)
            warm = make_episodes(pb, window, replay=True, skus=skus, start=begin, periods=warmup)
        else:
            rule = self
            eps, warmup = training_episodes(pb, window=train.window)
            warm = None
        q = rule._error_quantiles(rule._lead_errors(np.arange(n), rule.theta), np.broadcast_to(grid, (n, g)))

        def costs(episodes: Episodes, uncounted: int) -> np.ndarray:
            a = q[episodes.sku].reshape(-1)  # column j * g + c: episode j, level c
            return rule_costs(pb, episodes, uncounted, Rule.LEVEL, a, None,
                              rule._forecast_paths(episodes, rule.theta[:, None, :], g))[0]

        cost = costs(eps, warmup) if warm is None else costs(eps, 0) - costs(warm, 0)
        total = cost.reshape(eps.n, g).sum(axis=0)
        self.holdout_costs = {float(v): float(c) for v, c in zip(grid, total, strict=True)}
        return float(grid[int(np.argmin(total))])

    def _grid_fit(self, grid: np.ndarray, default: np.ndarray, make_engine=None, key: tuple | None = None
                  ) -> np.ndarray:
        """Per-SKU row of `grid` [g, p] with the least in-sample SSE (`default` where fewer than 3 errors).

        key: names the engine (e.g. ("ses",)): the result is then kept in the training data's cache, so that
        the policies that fit the same smoothing constants on the same data (ses, ses_tuned and the SES
        fallback of holt_winters and arima, ...) compute them once."""
        if key is not None:
            full = ("grid_fit",) + key + (grid.tobytes(), default.tobytes(), self.burn_in, self.fit_periods)
            hit = self._train.cache.get(full)
            if hit is not None and hit[0] is self.problem:
                return hit[1].copy()
            out = self._grid_fit(grid, default, make_engine)
            self._train.cache[full] = (self.problem, out)
            return out.copy()
        n, g = self.problem.n_skus, grid.shape[0]
        sku = np.repeat(np.arange(n), g)
        sse, cnt = self._in_sample(sku, np.tile(grid, (n, 1)), make_engine)
        sse, cnt = sse.reshape(n, g), cnt.reshape(n, g)
        best = grid[np.argmin(sse, axis=1)]
        return np.where((cnt[:, 0] >= 3)[:, None], best, default[None, :])

    # ------------------------------------------------------------------------------------------- tuning
    def _tune(self, window: str = "train") -> None:
        pb = self.problem
        n = pb.n_skus
        eps, warmup = training_episodes(pb, window=window)
        thetas = self._theta_candidates()
        c, p = thetas.shape[1], thetas.shape[2]
        sig = self._sigma(np.repeat(np.arange(n), c), thetas.reshape(n * c, p)).reshape(n, c)
        nz = Z_COARSE.shape[0]
        cand = np.empty((n, c, nz, 2 + p))
        cand[..., 0] = Z_COARSE[None, None, :]
        cand[..., 1] = sig[:, :, None]
        cand[..., 2:] = thetas[:, :, None, :]
        cand = cand.reshape(n, c * nz, 2 + p)
        # pilots of the pruned searches (candidates simulated first, bounding the others): the first smoothing
        # candidate with the z of the critical ratio; then the best coarse z
        pilot = np.abs(Z_COARSE[None, :] - critical_z(pb)[:, None]).argmin(axis=1)
        best, cost = rule_search(pb, eps, warmup, cand, Rule.LEVEL, self._safety_values,
                                 self._forecast_paths(eps, thetas, nz), pilot=pilot)
        fine = np.repeat(best[:, None, :], Z_FINE.shape[0], axis=1)
        fine[:, :, 0] += Z_FINE[None, :]
        best, _ = rule_search(pb, eps, warmup, fine, Rule.LEVEL, self._safety_values,
                              self._forecast_paths(eps, best[:, None, 2:], Z_FINE.shape[0]),
                              pilot=np.full(n, int(np.abs(Z_FINE).argmin())))
        tried = ~np.all(np.isnan(cost), axis=1)  # SKUs without training episodes keep the untuned values
        self.z = np.where(tried, best[:, 0], self.z)
        self.sigma = np.where(tried, best[:, 1], self.sigma)
        self.theta = np.where(tried[:, None], best[:, 2:], self.theta)

    # The target of a candidate (z, sigma_e, theta) is S_t = F_t(theta) + z sigma_e sqrt(L+1), and the forecast
    # F_t(theta) only depends on the demand (never on the orders). So the search runs the forecaster once per
    # (episode, theta) to get the path of F_t(theta) (with zero safety stock), and the fused rule kernel
    # (baselines.tuning.rule_costs, Rule.LEVEL with a path) adds each candidate's safety stock: the same
    # targets, float for float, as grid_search with _tuning_act, whose runner computes F_t + safety.
    def _safety_values(self, values: np.ndarray, sku: np.ndarray) -> tuple[np.ndarray, None]:
        H = self._lead[sku] + 1
        return values[:, 0] * values[:, 1] * np.sqrt(H), None

    def _forecast_paths(self, eps: Episodes, thetas: np.ndarray, per_theta: int
                        ) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """paths(episode indices) for rule_costs: thetas [n_skus, c, p]; candidate column (j, ci * per_theta +
        zi) reads path column (j, ci)."""
        c, p = thetas.shape[1], thetas.shape[2]
        h = eps.history

        def paths(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            sub = replicate(_subset(eps, idx), c)  # column jj * c + ci: episode idx[jj], theta ci
            theta = thetas[eps.sku[idx]].reshape(idx.size * c, p)
            zero = np.zeros(sub.n)
            runner = self._runner(sub, theta, zero)
            T = eps.periods
            out = np.empty((T, sub.n))
            state = _PathState(period=0, last_demand=np.full(sub.n, np.nan))
            for t in range(T):
                state.period = t
                if t > 0 or h > 0:
                    state.last_demand = sub.demand[h + t - 1]
                out[t] = runner.target(state)
            col = (np.arange(idx.size)[:, None] * c + np.repeat(np.arange(c), per_theta)[None, :]).reshape(-1)
            return out, col

        return paths

    def _tuning_act(self) -> Callable[[BatchSim, np.ndarray], np.ndarray]:
        box: dict[str, object] = {}

        def act(sim: BatchSim, values: np.ndarray) -> np.ndarray:
            if box.get("sim") is not sim:
                box["sim"] = sim
                sku = np.asarray(sim.episodes.sku, dtype=np.int64)
                box["runner"] = self._runner(sim.episodes, values[:, 2:],
                                             self._normal_safety(values[:, 0], values[:, 1], sku))
            return box["runner"].target(sim.raw)

        return act

    # ------------------------------------------------------------------------------------------ acting
    def _normal_safety(self, z: np.ndarray, sigma: np.ndarray, sku: np.ndarray) -> np.ndarray:
        """z sigma_e sqrt(L+1) per column (the textbook safety stock)."""
        return z * sigma * np.sqrt(self._lead[sku] + 1)

    def _runner(self, episodes: Episodes, theta: np.ndarray, safety: np.ndarray) -> _Runner:
        """Targets F_t(L+1) + safety for `episodes` (safety per column), the forecaster rolled over their past."""
        sku = np.asarray(episodes.sku, dtype=np.int64)
        past_len = np.fromiter((p.shape[0] for p in episodes.past), dtype=np.int64, count=len(episodes.past))
        count = np.asarray(episodes.cal_offset, dtype=np.int64) - past_len - self._train_start[sku]
        engine = self._make_engine(sku, theta, count)
        _roll(engine, episodes.past)
        return _Runner(engine, self._lead[sku] + 1, safety)

    def start(self, episodes: Episodes) -> None:
        super().start(episodes)
        s = episodes.sku
        if self.safety is SafetyStock.ERROR_QUANTILE:
            safety = self.safety_stock[s]
        else:
            safety = self._normal_safety(self.z[s], self.sigma[s], np.asarray(s, dtype=np.int64))
        self._run = self._runner(episodes, self.theta[s], safety)

    def act(self, obs, state: RawState) -> np.ndarray:
        return self._run.target(state)

    # ---------------------------------------------------------------------------------------- reporting
    def _model_text(self) -> str:
        parts = []
        for k, name in enumerate(self.theta_names):
            v = self.theta[:, k]
            parts.append(f"{name} = {v[0]:g}" if v.size == 1 else f"{name} median {np.median(v):g}")
        return ", ".join(parts)

    def describe(self) -> str:
        model = self._model_text()
        if self.tuned:
            zt = f"z tuned on training cost ({self.z[0]:g})" if self.z.size == 1 else \
                f"z tuned on training cost (median {np.median(self.z):g}, min {self.z.min():g}, max {self.z.max():g})"
        else:
            zt = f"z = {self.z[0]:.3f} (textbook fixed service level: {100 * self.service_level:g} % cycle service level)"
        if self.safety is SafetyStock.ERROR_QUANTILE:
            return self._describe_quantile(model)
        sig = f"sigma_e = {self.sigma[0]:.3g}" if self.sigma.size == 1 else f"sigma_e median {np.median(self.sigma):.3g}"
        return f"{self.name}: S = F(L+1) + z sigma_e sqrt(L+1); {model + '; ' if model else ''}{sig}; {zt}"

    def _describe_quantile(self, model: str) -> str:
        lv = np.unique(self.level)
        if self.tuned:
            costs = ", ".join(f"{v:g}: {c:.6g}" for v, c in self.holdout_costs.items())
            how = f"level {lv[0]:g} chosen on held-out training data (summed cost by level: {costs or 'n/a'})"
        else:
            how = f"level = critical ratio p/(p+h) ({lv[0]:g})" if lv.size == 1 else \
                f"level = critical ratio p/(p+h) (median {np.median(self.level):g})"
        return (f"{self.name}: S = F(L+1) + quantile of the SKU's own (L+1)-period forecast errors on the training "
                f"window (median {np.median(self.error_count):g} errors per SKU); {model + '; ' if model else ''}{how}")


class MovingAverage(ForecastPolicy):
    """Moving average: per-period forecast = mean of the last k periods (Hyndman & Athanasopoulos,
    *Forecasting: Principles and Practice*, 3rd ed., section 3.3), F(L+1) = (L+1) (y_{t-1} + ... + y_{t-k}) / k.

    Before k values have been seen the missing ones count as the SKU's mean training demand. Tuned: k from
    {k, 2, 4, 8, 16, 32, 64} (at most the training length) together with z.
    """

    base_name = "ma"
    theta_names = ("k",)
    K_GRID = (2, 4, 8, 16, 32, 64)

    def __init__(self, k: int = 6, **kw):
        super().__init__(**kw)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = int(k)

    def _fit_theta(self) -> np.ndarray:
        return np.full((self.problem.n_skus, 1), float(self.k))

    def _theta_candidates(self) -> np.ndarray:
        ks = np.array((self.k,) + self.K_GRID, dtype=np.float64)
        return np.minimum(ks[None, :], np.maximum(self._nobs, 1)[:, None])[:, :, None]  # k <= training length

    def _make_engine(self, sku, theta, count):
        return _MAEngine(theta[:, 0], self._level0[sku])


class _OneAlpha:
    """One smoothing constant alpha: given, or fitted on the training one-step SSE over :data:`ALPHA_GRID`;
    the tuned variant tries the fitted alpha and ``TUNE_GRID`` with the safety factor."""

    def _fit_theta(self) -> np.ndarray:
        if self.alpha is not None:
            return np.full((self.problem.n_skus, 1), float(self.alpha))
        return self._grid_fit(ALPHA_GRID[:, None], np.array([0.1]), key=self._engine_key())

    def _engine_key(self) -> tuple:
        return (self.base_name,) + ((self.sba,) if hasattr(self, "sba") else ())

    def _theta_candidates(self) -> np.ndarray:
        n = self.problem.n_skus
        fixed = np.broadcast_to(np.array(self.TUNE_GRID)[None, :], (n, len(self.TUNE_GRID)))
        return np.concatenate([self.theta, fixed], axis=1)[:, :, None]


class SES(_OneAlpha, ForecastPolicy):
    """Simple exponential smoothing (Hyndman & Athanasopoulos, *FPP* 3rd ed., section 8.1):
    l_t = alpha y_t + (1 - alpha) l_{t-1}, per-period forecast l_{t-1} for period t, F(L+1) = (L+1) l_{t-1}.

    l_0 = mean training demand; alpha (if not given) minimises the one-step SSE on the training window after
    burn-in over :data:`ALPHA_GRID`. Tuned: alpha from {fitted, 0.05, 0.1, 0.2, 0.3, 0.5} with z.
    """

    base_name = "ses"
    theta_names = ("alpha",)
    TUNE_GRID = (0.05, 0.1, 0.2, 0.3, 0.5)

    def __init__(self, alpha: float | None = None, **kw):
        super().__init__(**kw)
        self.alpha = alpha

    def _make_engine(self, sku, theta, count):
        return self._ses_engine(sku, theta, count)


class Croston(_OneAlpha, ForecastPolicy):
    """Croston's method for intermittent demand (Croston 1972, "Forecasting and stock control for intermittent
    demands", Operational Research Quarterly 23(3); Syntetos & Boylan 2005, IJF 21(2), for the bias correction):

    in a period with demand y_t > 0:  z <- z + alpha (y_t - z),  p <- p + alpha (q - p),  q <- 1;
    else q <- q + 1.   Per-period forecast  c z / p,  c = 1 (Croston) or 1 - alpha/2 (``sba=True``).

    z = demand size, p = inter-demand interval, q = periods since the last demand. z_0 = mean non-zero
    training demand, p_0 = ADI (training periods / periods with demand), q_0 = 1. alpha fitted on the training
    one-step SSE (:data:`ALPHA_GRID`) unless given; tuned: alpha from {fitted, 0.05, 0.1, 0.2, 0.3} with z.
    """

    base_name = "croston"
    theta_names = ("alpha",)
    TUNE_GRID = (0.05, 0.1, 0.2, 0.3)

    def __init__(self, alpha: float | None = None, sba: bool = False, **kw):
        self.sba = sba
        if sba:
            self.base_name = "croston_sba"
        super().__init__(**kw)
        self.alpha = alpha

    def _make_engine(self, sku, theta, count):
        interval = np.where(np.isfinite(self._adi[sku]), self._adi[sku], 1.0)
        return _CrostonEngine(theta[:, 0], self._size0[sku], interval, self.sba)


class TSB(ForecastPolicy):
    """Teunter-Syntetos-Babai method (Teunter, Syntetos & Babai 2011, "Intermittent demand: linking forecasting
    to inventory obsolescence", EJOR 214(3)):

    b <- b + beta ([y_t > 0] - b) every period;  z <- z + alpha (y_t - z) in periods with y_t > 0.
    Per-period forecast b z (b = probability of a demand, z = demand size).

    b_0 = share of training periods with demand, z_0 = mean non-zero training demand; (alpha, beta) fitted on
    the training one-step SSE over :data:`TSB_GRID` x :data:`TSB_GRID` unless given; tuned: (alpha, beta) from
    the fitted pair and {0.05, 0.2}^2, with z.
    """

    base_name = "tsb"
    theta_names = ("alpha", "beta")
    TUNE_GRID = (0.05, 0.2)

    def __init__(self, alpha: float | None = None, beta: float | None = None, **kw):
        super().__init__(**kw)
        self.alpha, self.beta = alpha, beta

    def _fit_theta(self) -> np.ndarray:
        a = TSB_GRID if self.alpha is None else np.array([float(self.alpha)])
        b = TSB_GRID if self.beta is None else np.array([float(self.beta)])
        grid = np.stack(np.meshgrid(a, b, indexing="ij"), axis=-1).reshape(-1, 2)
        default = np.array([0.1 if self.alpha is None else self.alpha, 0.1 if self.beta is None else self.beta])
        if grid.shape[0] == 1:
            return np.repeat(grid, self.problem.n_skus, axis=0)
        return self._grid_fit(grid, default, key=("tsb",))

    def _theta_candidates(self) -> np.ndarray:
        g = np.array(self.TUNE_GRID)
        pairs = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
        n = self.problem.n_skus
        return np.concatenate([self.theta[:, None, :], np.broadcast_to(pairs[None], (n,) + pairs.shape)], axis=1)

    def _make_engine(self, sku, theta, count):
        return _TSBEngine(theta[:, 0], theta[:, 1], self._size0[sku], self._prob0[sku])


# ----------------------------------------------------------------------- fitted models (HW, ARIMA)


class _ModelPolicy(ForecastPolicy):
    """A model fitted for each selected SKU, SES for the others (see HoltWinters / ARIMA).

    Selected: Syntetos-Boylan-Croston smooth or erratic SKUs (ADI < 1.32 on the training window) with at least
    ``min_periods`` training periods (all of them with ``max_fits`` None, the default; else the ``max_fits``
    largest by training demand volume). Each is fitted on its most recent ``model_periods`` training periods;
    a failed fit falls back to SES. ``model_used[i]`` names SKU i's model. Tuned: z only (the smoothing
    constants are the fitted ones). Both models are fitted for all selected SKUs at once by a numba pass
    (:mod:`baselines.forecast_models`); they replaced one statsmodels fit per SKU, which had been capped at the
    25 largest SKUs (``benchmarks/fit_libraries.py`` has the per-series costs of statsmodels and statsforecast).
    Without a cap every SKU's fit reads its own demand only, so the policy is SKU-separable (a chunked
    evaluation gives the same numbers); a ``max_fits`` cap ranks SKUs across the catalogue and is not.
    """

    model_label = "model"

    def __init__(self, *, max_fits: int | None = None, min_periods: int = 24, model_periods: int = 300, **kw):
        if max_fits is not None and max_fits < 0:
            raise ValueError(f"max_fits must be >= 0 or None, got {max_fits}")
        self._separable = True
        super().__init__(**kw)
        self.max_fits, self.min_periods, self.model_periods = max_fits, min_periods, model_periods
        self.sku_fields = self.sku_fields + ("model_used", "_fit_index")  # describe() counts the models

    @property
    def sku_separable(self) -> bool:
        """True without a ``max_fits`` cap (the largest SKUs of the catalogue get a model: not separable)."""
        return self.max_fits is None and self._separable

    @sku_separable.setter
    def sku_separable(self, value: bool) -> None:
        self._separable = bool(value)

    def _prepare(self) -> None:
        n = self.problem.n_skus
        self._ses_alpha = self._grid_fit(ALPHA_GRID[:, None], np.array([0.1]), self._ses_engine, key=("ses",))[:, 0]
        volume = self._level0 * self._nobs
        ok = np.flatnonzero((self._adi < ADI_CUT) & (self._nobs >= self.min_periods))
        chosen = ok[np.argsort(-volume[ok], kind="stable")][: self.max_fits]
        self._fit_index = np.full(n, -1, dtype=np.int64)
        self.model_used = np.full(n, "ses", dtype=object)
        records = []
        self._fit_chosen(np.sort(chosen), records)
        self._stack(records)

    def _fit_chosen(self, chosen: np.ndarray, records: list[dict]) -> None:
        """Fit the SKUs `chosen` (sorted), append their records, set _fit_index and model_used."""
        raise NotImplementedError

    def _stack(self, records: list[dict]) -> None:
        raise NotImplementedError

    def _model_engine(self, f: np.ndarray, count: np.ndarray):
        raise NotImplementedError

    def _make_engine(self, sku, theta, count):
        fi = self._fit_index[sku]
        model = np.flatnonzero(fi >= 0)
        rest = np.flatnonzero(fi < 0)
        parts = []
        if model.size:
            parts.append((model, self._model_engine(fi[model], count[model])))
        if rest.size:
            parts.append((rest, _SESEngine(self._ses_alpha[sku[rest]], self._level0[sku[rest]])))
        return _compose(sku.shape[0], parts)

    @property
    def n_models(self) -> int:
        """Number of SKUs forecast by the fitted model (the others use SES)."""
        return int(np.count_nonzero(self._fit_index >= 0))

    def _model_text(self) -> str:
        kinds, counts = np.unique(self.model_used.astype(str), return_counts=True)
        return f"{self.model_label} on {self.n_models} SKUs, SES on the rest (" + \
            ", ".join(f"{k}: {c}" for k, c in zip(kinds, counts, strict=True)) + ")"


class HoltWinters(_ModelPolicy):
    """Holt-Winters exponential smoothing (Hyndman & Athanasopoulos, *FPP* 3rd ed., sections 8.2-8.3; Gardner &
    McKenzie 1985 for the damped trend), additive damped trend or none, additive season of the data's length
    (:func:`season_length`) or none (the lowest AICc), a season only when the window holds two full seasons;
    per-period forecast l_t + (phi + ... + phi^h) b_t + s_{t+h-m}, clipped at 0 (the recursion of
    :class:`_HoltWintersEngine`). Fitted for every selected SKU at once (``max_fits`` None, the default) by
    :func:`baselines.forecast_models.fit_holt_winters_batch`: a grid of smoothing constants scored by the
    one-step SSE of the fit window in one numba pass, prior l_0 = window mean, b_0 = 0, s_0 = phase means
    minus l_0. It replaced one statsmodels ``ExponentialSmoothing`` fit per SKU (capped at 25 SKUs: ~0.05
    CPU-s each, ~220 CPU-s for the 4,207 eligible SKUs of the 10,000-SKU scale catalogue; statsforecast's
    AutoETS ~0.08 CPU-s; ``benchmarks/fit_libraries.py``); on the shared data the batched fit of every eligible
    SKU costs the same or less (m5_tiny, 107 SKUs instead of 25: holt_winters_tuned 8.8681 instead of 9.0445
    per SKU-period; carparts and man_weekly within 0.2 %). SES for the other SKUs (see :class:`_ModelPolicy`).
    """

    base_name = "holt_winters"
    model_label = "Holt-Winters"

    def __init__(self, *, season: int | None = None, **kw):
        super().__init__(**kw)
        self.season = season

    def _prepare(self) -> None:
        self._m = self.season if self.season is not None else season_length(self.problem)
        super()._prepare()

    def _fit_chosen(self, chosen: np.ndarray, records: list[dict]) -> None:
        # one batched fit per training data and settings: the untuned, tuned and quantile variants share it
        key = ("hw_batch", self._m, self.model_periods, self.burn_in, self.fit_periods, chosen.tobytes())
        hit = self._train.cache.get(key)
        if hit is None or hit[0] is not self.problem:
            hit = (self.problem, self._batch_fit(chosen))
            self._train.cache[key] = hit
        for i, rec in hit[1]:  # the records are shared: _stack copies them into its own arrays
            self._fit_index[i] = len(records)
            records.append(rec)
            self.model_used[i] = "hw-" + ("damped" if rec["phi"] > 0 else "level") + \
                ("+seasonal" if rec["m"] > 1 else "")

    def _batch_fit(self, chosen: np.ndarray) -> list[tuple[int, dict]]:
        nobs = self._nobs[chosen]
        first = nobs - np.minimum(nobs, self.model_periods)
        fits = fit_holt_winters_batch(self._Y[:, chosen], first, nobs, self._burn[chosen], self._m)
        out = []
        for i, f0, rec in zip(chosen.tolist(), first.tolist(), fits, strict=True):
            if rec is None:
                continue
            m = rec["m"]
            seasons = np.zeros(m)
            seasons[(int(self._offset[i]) + f0 + np.arange(m)) % m] = rec["seasons"][:m]  # phase from train start
            rec["seasons"] = seasons
            out.append((i, rec))
        return out

    def _stack(self, records):
        mmax = max([r["m"] for r in records], default=1)
        self._hw = {k: np.array([r[k] for r in records], dtype=np.float64)
                    for k in ("alpha", "beta", "phi", "gamma", "m", "level", "trend")}
        seas = np.zeros((len(records), mmax))
        for j, r in enumerate(records):
            seas[j, :r["m"]] = r["seasons"]
        self._hw["seasons"] = seas

    def _model_engine(self, f, count):
        h = self._hw
        return _HoltWintersEngine(h["alpha"][f], h["beta"][f], h["phi"][f], h["gamma"][f], h["m"][f],
                                  h["level"][f], h["trend"][f], h["seasons"][f], count)


class ARIMA(_ModelPolicy):
    """ARIMA(p, d, q) (Box & Jenkins; Hyndman & Athanasopoulos, *FPP* 3rd ed., ch. 9): the order with the
    lowest AIC among :data:`ARIMA_ORDERS`, fitted by exact maximum likelihood for every selected SKU at once
    (:func:`baselines.forecast_models.fit_arima_batch`, a numba pass; statsmodels' ``ARIMA`` is the reference
    of its tests), then updated with new demand by the Kalman filter (:class:`_KalmanEngine`) of statsmodels'
    state-space form and prior (stationary, or approximate diffuse with variance 1e6 for d = 1) without
    refitting -- statsmodels' ``results.append(..., refit=False)`` would do the same one SKU at a time.
    F(L+1) = sum of the 1..L+1-step forecasts, each clipped at 0. SES for the other SKUs (see
    :class:`_ModelPolicy`).
    """

    base_name = "arima"
    model_label = "ARIMA"

    def _fit_chosen(self, chosen: np.ndarray, records: list[dict]) -> None:
        # one batched fit per training data and settings: the untuned, tuned and quantile variants share it
        key = ("arima_batch", self.model_periods, self.fit_periods, chosen.tobytes())
        hit = self._train.cache.get(key)
        if hit is None or hit[0] is not self.problem:
            nobs = self._nobs[chosen]
            fits = fit_arima_batch(self._Y[:, chosen], nobs - np.minimum(nobs, self.model_periods), nobs)
            hit = (self.problem, [(i, rec) for i, rec in zip(chosen.tolist(), fits, strict=True) if rec is not None])
            self._train.cache[key] = hit
        for i, rec in hit[1]:  # the records are shared: _stack copies them into its own arrays
            self._fit_index[i] = len(records)
            records.append(rec)
            p, d, q = rec["order"]
            self.model_used[i] = f"arima({p},{d},{q})"

    def _stack(self, records):
        r, n = ARIMA_STATES, len(records)  # one state size for every fit (chunks give the same floats)
        self._ss = {"T": np.zeros((n, r, r)), "Z": np.zeros((n, r)), "RQR": np.zeros((n, r, r)), "d": np.zeros(n),
                    "H": np.zeros(n), "a": np.zeros((n, r)), "P": np.zeros((n, r, r))}
        for j, rec in enumerate(records):
            k = rec["T"].shape[0]
            for key in ("T", "RQR", "P"):
                self._ss[key][j, :k, :k] = rec[key]
            for key in ("Z", "a"):
                self._ss[key][j, :k] = rec[key]
            self._ss["d"][j], self._ss["H"][j] = rec["d"], rec["H"]

    def _model_engine(self, f, count):
        s = self._ss
        return _KalmanEngine(s["T"][f], s["Z"][f], s["RQR"][f], s["d"][f], s["H"][f], s["a"][f], s["P"][f])


FORECAST_POLICIES: dict[str, Callable[[], Policy]] = {
    "ma": MovingAverage,
    "ses": SES,
    "holt_winters": HoltWinters,
    "arima": ARIMA,
    "croston": Croston,
    "tsb": TSB,
    "ma_tuned": partial(MovingAverage, tuned=True),
    "ses_tuned": partial(SES, tuned=True),
    "holt_winters_tuned": partial(HoltWinters, tuned=True),
    "arima_tuned": partial(ARIMA, tuned=True),
    "croston_tuned": partial(Croston, tuned=True),
    "tsb_tuned": partial(TSB, tuned=True),
}
"""Name -> constructor of every forecast-driven baseline (default settings): ``<name>`` (textbook fixed
service level), ``<name>_tuned`` (z tuned on training cost), ``<name>_quantile`` (error quantile at the
critical ratio), ``<name>_quantile_tuned`` (error quantile, level chosen on held-out training data)."""
for _name, _cls in list(FORECAST_POLICIES.items())[:6]:  # the six forecasters
    FORECAST_POLICIES[_name + "_quantile"] = partial(_cls, safety=SafetyStock.ERROR_QUANTILE)
    FORECAST_POLICIES[_name + "_quantile_tuned"] = partial(_cls, safety=SafetyStock.ERROR_QUANTILE, tuned=True)
del _name, _cls


# ------------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Fit every forecast baseline on a data scenario's training window, evaluate it on the test window, print
    the cost per SKU-period and the CPU seconds (time.process_time) of fitting and of evaluation."""
    from envs.batch import PERIODS, simulate
    from envs.episodes import make_episodes

    from .base import train_data

    ap = argparse.ArgumentParser(prog="python -m baselines.forecast", description=main.__doc__)
    ap.add_argument("source", help="scenario YAML with a data section (configs/carparts.yaml), or a demand file "
                                   "(date,sku,demand) used with --scenario and --test")
    ap.add_argument("--scenario", default="lost-sales-L1-p9", help="costs and lead time for a demand file")
    ap.add_argument("--test", type=float, default=0.25, help="test share of the date range for a demand file")
    ap.add_argument("--policies", default=",".join(FORECAST_POLICIES), help="comma-separated registry names")
    args = ap.parse_args(argv)
    if args.source.endswith((".yaml", ".yml")):
        pb = Problem(args.source)
    else:
        pb = Problem(args.scenario, data={"path": args.source, "test": args.test},
                     action={"relative": True, "step": 0.5})
    train = train_data(pb)
    eps = make_episodes(pb, "test")
    print(f"{eps.label}; CPU seconds (time.process_time)")
    print(f"{'policy':<20}{'cost/period':>12}{'fit s':>8}{'eval s':>8}  description")
    total = 0.0
    for name in args.policies.split(","):
        t0 = time.process_time()
        pol = FORECAST_POLICIES[name]().fit(pb, train)
        t1 = time.process_time()
        pol.start(eps)
        tot, _ = simulate(pb, eps, lambda sim, p=pol: p.act(None, sim.raw), order_up_to=True)
        t2 = time.process_time()
        total += t2 - t0
        cost = tot[:, kernel.I_COST].sum() / tot[:, PERIODS].sum()
        print(f"{name:<20}{cost:>12.4f}{t1 - t0:>8.2f}{t2 - t1:>8.2f}  {pol.describe()}")
    print(f"fit + evaluation, all policies: {total:.2f} CPU s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
