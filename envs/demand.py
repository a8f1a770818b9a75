"""Demand sources: parametric generators and historical replay, both giving float64 numpy traces.

A source knows its SKUs (``n_skus``), each SKU's demand scale (the mean demand of its training data, used to
normalise observations and actions), and implements the episode factory (``episodes``: whole traces of a
batch of SKUs at once, see :mod:`envs.episodes`), so that ``step`` only indexes an array and no consumer
branches on the kind of demand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from invcore.calendar import calendar_features

from .episodes import Episodes
from .scenario import DataConfig, DemandConfig, Scenario, ScenarioError


def negative_binomial_params(mean, std) -> tuple[np.ndarray, np.ndarray]:
    """numpy's / scipy's (n, p) of a negative binomial with this mean and standard deviation:
    ``n = mean^2 / (var - mean)``, ``p = n / (n + mean)`` (var <= mean: n = 1e12, nearly Poisson), clipped to
    n >= 1e-12 and 1e-12 <= p <= 1. The one place these parameters are computed (sampling and CDF tables)."""
    mean = np.asarray(mean, dtype=np.float64)
    var = np.asarray(std, dtype=np.float64) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(var > mean, mean**2 / (var - mean), 1e12)
        p = np.where(mean > 0, r / (r + mean), 1.0)
    return np.maximum(r, 1e-12), np.clip(p, 1e-12, 1.0)


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

    daily_calendar = True
    """Parametric demand is daily when it has dates (month and weekday features)."""

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
            out = rng.negative_binomial(*negative_binomial_params(mean_b, np.broadcast_to(std, shape)))
            out = np.where(mean_b > 0, out, 0)
        else:
            out = np.maximum(0.0, np.rint(rng.normal(np.broadcast_to(mean, shape), np.broadcast_to(std, shape))))
        return out.astype(np.float64)

    kind = "parametric"
    replays_windows = False
    """Episodes are fresh draws; there are no data windows to replay."""

    @property
    def long_run(self) -> bool:
        """Stationary demand: evaluation estimates the long-run average cost (long episodes after a warm-up)."""
        return self.stationary

    def skus_in(self, split: str) -> np.ndarray:
        """The SKUs episodes of `split` can be drawn for: every SKU."""
        return np.arange(self.n_skus)

    def sku_name(self, sku: int) -> str:
        return f"sku{sku}"

    def sku_index(self, sku) -> int | None:
        """Index of a SKU given by the name :meth:`sku_name` hands out (``sku3`` -> 3), or None."""
        name = str(sku)
        if name.startswith("sku") and name[3:].isdigit() and int(name[3:]) < self.n_skus:
            return int(name[3:])
        return None

    def train_demand(self, problem, periods: int, seed: int, window: str = "train") -> list[np.ndarray]:
        """Training demand per SKU (`window` does not apply: no windows): `periods` periods simulated from the scenario's own demand model with a
        seed evaluation does not use (whole episodes, concatenated, when the demand has a trend or season that
        restarts each episode)."""
        rng = np.random.default_rng(seed)
        if not self.stationary:
            length = problem.scenario.episode_length
            reps = max(1, periods // length)
            eps = self.episodes(problem, "train", rng, np.arange(problem.n_skus * reps) % self.n_skus, length)
            return [np.concatenate([eps.episode_demand(j) for j in range(i, eps.n, problem.n_skus)])
                    for i in range(problem.n_skus)]
        eps = self.episodes(problem, "train", rng, np.arange(problem.n_skus) % self.n_skus, periods)
        return [eps.episode_demand(i).copy() for i in range(problem.n_skus)]

    def train_start_rows(self, problem) -> np.ndarray:
        """Calendar row of the first period of each SKU's training demand (period 0: row `window`)."""
        return np.full(self.n_skus, problem.window, dtype=np.int64)

    def season_length(self) -> int:
        """7 with weekly multipliers, else 1 (no season)."""
        return 7 if self.weekly is not None else 1

    def _calendar_table(self, history: int, periods: int, n_calendar: int) -> np.ndarray:
        if not n_calendar:
            return _NO_CALENDAR
        key = (history, periods, n_calendar)
        cache = self.__dict__.setdefault("_calendars", {})
        if key not in cache:
            if len(cache) > 8:
                cache.clear()
            dates = self.start_date + np.arange(-history, periods + 1)
            cache[key] = np.ascontiguousarray(calendar_features(dates, daily=True)[:, :n_calendar])
        return cache[key]

    def _inverse_cdf(self):
        if "_fast" not in self.__dict__:
            from .sampling import InverseCDFDemand

            self._fast = InverseCDFDemand.build(self)
        return self._fast

    def episodes(self, problem, split: str, rng: np.random.Generator, sku: np.ndarray, periods: int | None = None,
                 *, start=None, sampler: str = "joint", with_past: bool = True, replay: bool | None = None
                 ) -> Episodes:
        """Episodes of `periods` periods (default: the scenario's episode length) for the SKUs `sku`, with
        ``problem.window`` periods of history before each, drawn from `rng`. Every split draws fresh demand
        (the caller's random stream tells the splits apart).

        sampler: ``joint`` (one ``sample`` call for the batch: one set of promotion days for all episodes),
        ``per_episode`` (promotion days drawn per episode), ``inverse_cdf`` (stationary demand by inversion,
        :mod:`envs.sampling`: the same distribution, another stream; otherwise as ``per_episode``). `replay`
        does not apply (there is no window to replay)."""
        if start is not None:
            raise ScenarioError("start applies to data scenarios only (parametric episodes start at period 0)")
        sku = np.asarray(sku, dtype=np.int64)
        W = problem.window
        T = int(periods if periods is not None else problem.scenario.episode_length)
        k = sku.shape[0]
        c = self.config
        fast = self._inverse_cdf() if sampler == "inverse_cdf" else None
        if fast:
            demand = fast.sample(rng, sku, W + T)
        elif sampler != "joint" and c.promo_prob > 0 and c.promo_lift != 1:
            demand = np.empty((W + T, k))
            for j in range(k):
                demand[:, j] = self.sample(rng, int(sku[j]), -W, T + W)
        else:
            demand = self.sample(rng, sku, -W, T + W).reshape(W + T, k)
        demand = np.ascontiguousarray(demand)
        past = [demand[:W, i].copy() for i in range(k)] if with_past else None
        return Episodes(sku=sku, demand=demand, lengths=np.full(k, T, dtype=np.int64), history=W,
                        calendar=self._calendar_table(W, T, problem.n_calendar),
                        cal_offset=np.full(k, W, dtype=np.int64), past=past,
                        label=f"{k} simulated episodes of {T} periods")


RANDOM_START_WINDOWS = ("train", "fit")
"""Windows whose episodes start at a random period (the others are replayed from their start)."""


def demand_scales(demand: np.ndarray, ranges: np.ndarray, periods: int = 0, prior: float = 0.0) -> np.ndarray:
    """Each SKU's demand scale: the mean of its demand over ``ranges[i] = (start, end)``, or with `periods` > 0
    over the last `periods` of them (the whole range's mean where those are all 0; with `prior` c > 0 the recent
    sum plus c times the whole range's mean, over the recent periods + c); 1 where the mean is 0 or the range
    empty (see DataConfig.scale_window / scale_periods / scale_prior)."""
    scales = np.ones(demand.shape[0])
    for i, (s, e) in enumerate(ranges):
        if periods > 0 and prior > 0:
            if e > s:
                m = float(np.mean(demand[i, s:e], dtype=np.float64))
                a = max(s, e - periods)
                if m > 0:
                    scales[i] = (float(np.sum(demand[i, a:e], dtype=np.float64)) + prior * m) / (e - a + prior)
            continue
        for a in ((max(s, e - periods), s) if periods > 0 else (s,)):
            if e > a:
                m = float(np.mean(demand[i, a:e], dtype=np.float64))
                if m > 0:
                    scales[i] = m
                    break
    return scales


class HistoricalDemand:
    """Replay of a demand file: per-SKU windows of a dense [SKU, period] matrix (see :mod:`envs.data`).

    Training episodes start at a random period of the SKU's train window (or are a block bootstrap of it);
    val/test episodes replay the window from its start. The `history` periods before the episode come from
    the data itself (earlier periods), padded with the SKU's scale where the data starts later.
    """

    def __init__(self, config: DataConfig, base_dir: Path | None = None, data=None):
        """`data`: an :class:`envs.data.DemandData` already in memory instead of reading ``config.path`` (which
        then only names it): e.g. a compact catalogue built in memory (benchmarks/scale_ray.py's 1,000,000
        SKUs, a float32 matrix of whole numbers: every read below is float64, so the results are the float64
        matrix's)."""
        from . import data as data_mod

        self.config = config
        path = _resolve_path(config.path, base_dir)
        self.data = data_mod.load_demand(path, **data_mod.demand_options(config)) if data is None else data
        self.covariates = None  # known covariate columns (data: covariates:), for the learned forecasters
        if config.covariates is not None:
            self.covariates = data_mod.load_covariates(path, self.data, config.covariates,
                                                       **data_mod.demand_options(config))
        self.windows = data_mod.split_windows(self.data, train=config.train, val=config.val, test=config.test)
        self.items = None
        if config.items:
            self.items = data_mod.load_items(_resolve_path(config.items, base_dir), self.data.skus,
                                             **data_mod.item_options(config))
        self._ranges = {w: self.windows.sku_ranges(self.data, w) for w in ("train", "val", "test", "fit")}
        tr = self._ranges["train"]
        self.scales = demand_scales(self.data.demand, self._ranges[config.scale_window], config.scale_periods,
                                    config.scale_prior)
        freq = self.data.freq.upper()
        self._calendar = calendar_features(self.data.dates, daily=freq.startswith("D"))
        lengths = tr[:, 1] - tr[:, 0]
        self.train_skus = np.flatnonzero(lengths >= config.min_periods)
        if self.train_skus.size == 0:
            raise ScenarioError(f"{path}: no SKU has {config.min_periods} or more periods in the train window")

    @property
    def n_skus(self) -> int:
        return self.data.n_skus

    def subset(self, skus: np.ndarray) -> HistoricalDemand:
        """The source restricted to the SKUs `skus` (sorted global indices; SKU j of the result is
        ``skus[j]``): their rows of the data, item table, windows and scales copied, the calendar shared. Every
        per-SKU fact is the parent's, so a policy fitted and simulated on the subset gives the parent's numbers
        for those SKUs (``baselines.evaluation``'s SKU chunks)."""
        from . import data as data_mod

        skus = np.asarray(skus, dtype=np.int64)
        out = object.__new__(HistoricalDemand)
        out.__dict__.update(self.__dict__)
        d = self.data
        out.data = data_mod.DemandData(path=d.path, skus=d.skus[skus].copy(), dates=d.dates, freq=d.freq,
                                       demand=d.demand[skus].copy(), first=d.first[skus].copy(),
                                       last=d.last[skus].copy(), filled=d.filled)
        if self.items is not None:
            out.items = data_mod.ItemTable(path=self.items.path,
                                           values={k: v[skus].copy() for k, v in self.items.values.items()},
                                           ignored=self.items.ignored)
        if self.covariates is not None:
            out.covariates = self.covariates.subset(skus)
        out._ranges = {w: r[skus].copy() for w, r in self._ranges.items()}
        out.scales = self.scales[skus].copy()
        lengths = out._ranges["train"][:, 1] - out._ranges["train"][:, 0]
        out.train_skus = np.flatnonzero(lengths >= self.config.min_periods)
        return out

    has_calendar = True

    def skus_in(self, window: str) -> np.ndarray:
        r = self._ranges[window]
        return np.flatnonzero(r[:, 1] - r[:, 0] >= self.config.min_periods)

    def window_range(self, window: str, sku: int) -> tuple[int, int]:
        s, e = self._ranges[window][sku]
        return int(s), int(e)

    kind = "data"
    replays_windows = True
    """val/test episodes replay each SKU's window from its start to its end."""
    long_run = False
    daily_calendar = property(lambda self: self.data.freq.upper().startswith("D"))

    def sku_name(self, sku: int) -> str:
        return str(self.data.skus[sku])

    def sku_index(self, sku) -> int | None:
        hits = np.flatnonzero(self.data.skus == str(sku))
        return int(hits[0]) if hits.size else None

    def train_demand(self, problem, periods: int, seed: int, window: str = "train") -> list[np.ndarray]:
        """Each SKU's train window, or `window` (``fit``: train + val; `periods` and `seed` do not apply)."""
        return self.window_demand(window)

    def window_demand(self, window: str) -> list[np.ndarray]:
        """Each SKU's demand in `window` (train / val / test; empty where the SKU has none)."""
        out = []
        for i in range(self.n_skus):
            s, e = self.window_range(window, i)
            out.append(self.data.demand[i, s:e].astype(np.float64))
        return out

    def train_start_rows(self, problem) -> np.ndarray:
        """Calendar row (= period index of the data) of the first period of each SKU's train window."""
        return self._ranges["train"][:, 0].astype(np.int64)

    def season_length(self) -> int:
        """Periods per season by the data's frequency: 12 (monthly), 52 (weekly), 7 (daily), 4 (quarterly),
        5 (business days); 1 for multiples ("2W-MON") and anything else."""
        freq = self.data.freq.upper()
        if freq[:1].isdigit():
            return 1
        for prefix, m in (("MS", 12), ("ME", 12), ("QS", 4), ("QE", 4), ("W", 52), ("D", 7), ("B", 5)):
            if freq.startswith(prefix):
                return m
        return 1

    def episodes(self, problem, split: str, rng: np.random.Generator, sku: np.ndarray, periods: int | None = None,
                 *, start=None, sampler: str = "joint", with_past: bool = True, replay: bool | None = None
                 ) -> Episodes:
        """Episodes of the SKUs `sku` from the data, with ``problem.window`` periods of history before each
        (earlier data, padded with the SKU's scale where the data starts later).

        ``train`` and ``fit`` (train + val): `periods` periods (default: the scenario's episode length) from a
        random start of the window (shorter where the window ends first), or a block bootstrap of the window
        (``data.bootstrap_block``); ``val`` / ``test``, or any window with ``replay=True``: the window replayed
        from its start (or `start`, per SKU) to its end (or `periods` periods, per SKU). `sampler` does not
        apply to data."""
        replay = split not in RANDOM_START_WINDOWS if replay is None else replay
        if split not in ("train", "val", "test", "fit"):
            raise ScenarioError(f"window must be train, val, test or fit (train + val), got {split!r}")
        sku = np.asarray(sku, dtype=np.int64)
        data = self.data
        W, k, n = problem.window, sku.shape[0], data.n_periods
        r = self._ranges[split]
        s, e = r[sku, 0], r[sku, 1]
        if (e <= s).any():
            bad = int(sku[np.argmax(e <= s)])
            raise ScenarioError(f"SKU {self.sku_name(bad)!r} has no data in the {split} window")
        cal_rows = None
        first = data.first.astype(np.int64)[sku]
        if not replay and self.config.bootstrap_block > 0:
            T = int(periods if periods is not None else problem.scenario.episode_length)
            b = self.config.bootstrap_block
            n_blocks = -(-(T + W) // b)
            starts = rng.integers(s[:, None], np.maximum(s + 1, e - b + 1)[:, None], size=(k, n_blocks))
            idx = (starts[:, :, None] + np.arange(b)[None, None, :]).reshape(k, -1)
            idx = np.minimum(idx, (e - 1)[:, None])[:, :T + W]
            demand = data.demand[sku[:, None], idx].T.astype(np.float64)
            lengths = np.full(k, T, dtype=np.int64)
            cal_rows = np.concatenate([idx, np.minimum(idx[:, -1:] + 1, n - 1)], axis=1).T
            first_period = idx[:, W].astype(np.int64)
            past = None
        else:
            given = None if start is None else np.broadcast_to(np.asarray(start, dtype=np.int64), (k,)).copy()
            if not replay:
                T = int(periods if periods is not None else problem.scenario.episode_length)
                begin = given if given is not None else rng.integers(s, np.maximum(s + 1, e - T + 1))
                stop = np.minimum(e, begin + T)
            else:
                begin = given if given is not None else s
                stop = e if periods is None else np.minimum(e, begin + np.asarray(periods, dtype=np.int64))
            lengths = (stop - begin).astype(np.int64)
            if replay:
                T = int(lengths.max())
            lo = begin - W
            idx = lo[None, :] + np.arange(W + T)[:, None]
            vals = data.demand[sku[None, :], np.clip(idx, 0, n - 1)]
            demand = np.where(idx < first[None, :], self.scales[sku][None, :],
                              np.where(idx < stop[None, :], vals, 0.0))
            first_period = begin.astype(np.int64)
            past = [data.demand[j, f:b0].astype(np.float64) for j, f, b0 in zip(sku.tolist(), first.tolist(), begin.tolist())] \
                if with_past else None
        return Episodes(sku=sku, demand=np.ascontiguousarray(demand), lengths=lengths, history=W,
                        calendar=self._calendar_table(problem.n_calendar), cal_offset=first_period,
                        cal_rows=cal_rows, past=past,
                        label=f"{split} window of {data.path}: {k} SKUs, up to {T} periods")

    def _calendar_table(self, n_calendar: int) -> np.ndarray:
        if not n_calendar:
            return _NO_CALENDAR
        if self._calendar.shape[1] != n_calendar:
            return np.ascontiguousarray(self._calendar[:, :n_calendar])
        return self._calendar


_NO_CALENDAR = np.zeros((1, 0), dtype=np.float64)


def _resolve_path(p: str, base_dir: Path | None) -> Path:
    path = Path(p).expanduser()
    if not path.is_absolute() and base_dir is not None and not path.exists():
        cand = base_dir / path
        if cand.exists():
            return cand
    return path


DemandSource = ParametricDemand | HistoricalDemand
"""What implements the episode factory (``episodes``) and the per-SKU facts consumers ask for."""


def make_source(scenario: Scenario, data=None) -> DemandSource:
    """The scenario's demand source (`data`: a DemandData in memory for a data scenario, see
    :class:`HistoricalDemand`)."""
    if scenario.data is not None:
        base = None
        if scenario.source and (scenario.source.endswith((".yaml", ".yml"))):
            base = Path(scenario.source).resolve().parent
        return HistoricalDemand(scenario.data, base, data)
    if data is not None:
        raise ScenarioError("demand data given for a scenario without a data section (data.path)")
    return ParametricDemand(scenario.demand)
