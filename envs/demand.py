"""Demand sources: parametric generators and historical replay, both giving float64 numpy traces.

A source knows its SKUs (``n_skus``), each SKU's demand scale (the mean demand of its training data, used to
normalise observations and actions), and draws a whole episode trace at once (``episode``), so that
``step`` only indexes an array.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .scenario import DataConfig, DemandConfig, Scenario, ScenarioError


@dataclass(frozen=True)
class Trace:
    """One episode's demand for one SKU, with `history` leading periods of past demand (for the window)."""

    demand: np.ndarray  # float64 [history + periods]
    history: int
    calendar: np.ndarray | None
    """float64 [history + periods + 1, n_calendar] or None; the last row is the period after the episode (for
    the observation that follows the last step)."""
    sku: int
    start: int  # period index of the first episode period (in the source's own time axis)

    @property
    def periods(self) -> int:
        return self.demand.shape[0] - self.history


def calendar_features(dates: np.ndarray, daily: bool) -> np.ndarray:
    """sin/cos of month of year (always) and of day of week (daily data) for datetime64[D] dates."""
    d = dates.astype("datetime64[D]")
    months = d.astype("datetime64[M]").astype(np.int64) % 12
    cols = [np.sin(2 * np.pi * months / 12), np.cos(2 * np.pi * months / 12)]
    if daily:
        dow = (d.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        cols += [np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)]
    return np.stack(cols, axis=1).astype(np.float64)


class ParametricDemand:
    """Poisson, negative-binomial or normal demand (rounded, truncated at 0) with multipliers.

    Mean in period t of SKU k: ``mean_k * weekly[t mod 7] * max(0, 1 + trend * t) * (promo_lift if promo_t else 1)``,
    promo_t ~ Bernoulli(promo_prob). For negative binomial and normal demand the coefficient of variation
    std_k / mean_k is kept when the mean is multiplied.
    """

    def __init__(self, config: DemandConfig):
        self.config = config
        self.means = np.atleast_1d(np.asarray(config.mean, dtype=np.float64))
        if config.std is None:
            self.stds = np.sqrt(self.means) if config.kind == "poisson" else np.zeros_like(self.means)
        else:
            stds = np.atleast_1d(np.asarray(config.std, dtype=np.float64))
            self.stds = np.broadcast_to(stds, self.means.shape).copy()
        w = None if config.weekly is None else np.asarray(config.weekly, dtype=np.float64)
        self.weekly = None if w is None else w / w.mean()
        self.start_date = None if config.start_date is None else np.datetime64(config.start_date, "D")

    @property
    def n_skus(self) -> int:
        return self.means.shape[0]

    @property
    def scales(self) -> np.ndarray:
        s = self.means.copy()
        s[s <= 0] = 1.0
        return s

    @property
    def stationary(self) -> bool:
        c = self.config
        return self.weekly is None and c.trend == 0 and (c.promo_prob == 0 or c.promo_lift == 1)

    @property
    def has_calendar(self) -> bool:
        return self.start_date is not None

    def multipliers(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray | None:
        if self.stationary:
            return None
        t = np.arange(start, start + n)
        m = np.ones(n)
        if self.weekly is not None:
            m *= self.weekly[t % 7]
        if self.config.trend:
            m *= np.maximum(0.0, 1.0 + self.config.trend * t)
        if self.config.promo_prob > 0 and self.config.promo_lift != 1:
            m *= np.where(rng.random(n) < self.config.promo_prob, self.config.promo_lift, 1.0)
        return m

    def sample(self, rng: np.random.Generator, sku: int | np.ndarray, start: int, n: int) -> np.ndarray:
        """Demand of periods start..start+n-1 for one SKU (shape [n]) or several (sku array: shape [n, k])."""
        mean = self.means[sku]
        std = self.stds[sku]
        shape = (n,) if np.ndim(sku) == 0 else (n, np.shape(sku)[0])
        mult = self.multipliers(rng, start, n)
        if mult is not None:
            mult = mult if np.ndim(sku) == 0 else mult[:, None]
            mean = mean * mult
            std = std * mult
        kind = self.config.kind
        if kind == "poisson":
            out = rng.poisson(np.broadcast_to(mean, shape))
        elif kind == "negative_binomial":
            mean_b = np.broadcast_to(mean, shape)
            var = np.broadcast_to(std, shape) ** 2
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(var > mean_b, mean_b**2 / (var - mean_b), 1e12)
                p = np.where(mean_b > 0, r / (r + mean_b), 1.0)
            out = rng.negative_binomial(np.maximum(r, 1e-12), np.clip(p, 1e-12, 1.0))
            out = np.where(mean_b > 0, out, 0)
        else:
            out = np.maximum(0.0, np.rint(rng.normal(np.broadcast_to(mean, shape), np.broadcast_to(std, shape))))
        return out.astype(np.float64)

    def episode(self, rng: np.random.Generator, sku: int, periods: int, history: int) -> Trace:
        start = 0
        demand = self.sample(rng, sku, start - history, periods + history) if history else \
            self.sample(rng, sku, start, periods)
        calendar = None
        if self.start_date is not None:
            dates = self.start_date + np.arange(start - history, start + periods + 1)
            calendar = calendar_features(dates, daily=True)
        return Trace(demand=demand, history=history, calendar=calendar, sku=sku, start=start)


class HistoricalDemand:
    """Replay of a demand file: per-SKU windows of a dense [SKU, period] matrix (see :mod:`envs.data`).

    Training episodes start at a random period of the SKU's train window (or are a block bootstrap of it);
    val/test episodes replay the window from its start. The `history` periods before the episode come from
    the data itself (earlier periods), padded with the SKU's scale where the data starts later.
    """

    def __init__(self, config: DataConfig, base_dir: Path | None = None):
        from . import data as data_mod

        self.config = config
        path = _resolve_path(config.path, base_dir)
        self.data = data_mod.load_demand(path, fill_missing=config.fill_missing)
        self.windows = data_mod.split_windows(self.data, train=config.train, val=config.val, test=config.test)
        self.items = None
        if config.items:
            self.items = data_mod.load_items(
                _resolve_path(config.items, base_dir), self.data.skus, columns=config.item_columns,
                ignore_unknown_skus=config.ignore_unknown_items, scale=config.item_scale,
            )
        n = self.data.n_skus
        self._ranges = {
            w: np.array([self.windows.sku_range(self.data, w, i) for i in range(n)], dtype=np.int64).reshape(n, 2)
            for w in ("train", "val", "test")
        }
        tr = self._ranges["train"]
        scales = np.ones(n)
        for i in range(n):
            s, e = tr[i]
            if e > s:
                m = float(np.mean(self.data.demand[i, s:e]))
                if m > 0:
                    scales[i] = m
        self.scales = scales
        freq = self.data.freq.upper()
        self._calendar = calendar_features(self.data.dates, daily=freq.startswith("D"))
        lengths = tr[:, 1] - tr[:, 0]
        self.train_skus = np.flatnonzero(lengths >= config.min_periods)
        if self.train_skus.size == 0:
            raise ScenarioError(f"{path}: no SKU has {config.min_periods} or more periods in the train window")

    @property
    def n_skus(self) -> int:
        return self.data.n_skus

    has_calendar = True

    def skus_in(self, window: str) -> np.ndarray:
        r = self._ranges[window]
        return np.flatnonzero(r[:, 1] - r[:, 0] >= self.config.min_periods)

    def window_range(self, window: str, sku: int) -> tuple[int, int]:
        s, e = self._ranges[window][sku]
        return int(s), int(e)

    def episode(self, rng: np.random.Generator, sku: int, periods: int, history: int, window: str = "train",
                start: int | None = None) -> Trace:
        s, e = self.window_range(window, sku)
        if e <= s:
            raise ScenarioError(f"SKU {self.data.skus[sku]!r} has no data in the {window} window")
        row = self.data.demand[sku]
        if window == "train" and self.config.bootstrap_block > 0:
            b = self.config.bootstrap_block
            n_blocks = -(-(periods + history) // b)
            starts = rng.integers(s, max(s + 1, e - b + 1), size=n_blocks)
            idx = (starts[:, None] + np.arange(b)[None, :]).ravel()
            idx = np.minimum(idx, e - 1)[: periods + history]
            demand = row[idx].copy()
            calendar = self._calendar[np.append(idx, min(int(idx[-1]) + 1, self.data.n_periods - 1))]
            return Trace(demand=demand, history=history, calendar=calendar, sku=sku, start=int(idx[history]))
        if start is None:
            start = int(rng.integers(s, max(s + 1, e - periods + 1))) if window == "train" else s
        stop = min(e, start + periods)
        lo = start - history
        first = int(self.data.first[sku])
        if lo >= first:
            demand = row[lo:stop].copy()
        else:
            pad = np.full(first - lo, self.scales[sku])
            demand = np.concatenate([pad, row[first:stop]])
        cal_idx = np.clip(np.arange(lo, stop + 1), 0, self.data.n_periods - 1)
        return Trace(demand=demand, history=history, calendar=self._calendar[cal_idx], sku=sku, start=start)


def _resolve_path(p: str, base_dir: Path | None) -> Path:
    path = Path(p).expanduser()
    if not path.is_absolute() and base_dir is not None and not path.exists():
        cand = base_dir / path
        if cand.exists():
            return cand
    return path


def make_source(scenario: Scenario) -> ParametricDemand | HistoricalDemand:
    if scenario.data is not None:
        base = None
        if scenario.source and (scenario.source.endswith((".yaml", ".yml"))):
            base = Path(scenario.source).resolve().parent
        return HistoricalDemand(scenario.data, base)
    return ParametricDemand(scenario.demand)
