"""The features of the learned forecasters (``baselines.learned``): one definition for fitting, evaluation and
``deploy.recommend``. Numpy only.

The features of one forecast origin t (the first period of the protection interval t .. t + L) are made from
the demand before t: with s = the SKU's expanding mean demand (all values seen so far; 1 while it is 0),

``lag_k``         y_{t-k} / s for k in ``lags``;
``mean_w``        mean of the last w values / s for w in ``means`` (over those seen, NaN before any);
``std_w``         their standard deviation / s for w in ``stds``;
``nonzero``       share of the last ``window`` values that are > 0; ``since`` periods since the last value > 0
                  (``window`` + 1 if none in the window);
``log_scale``     log1p(s); ``log_count`` log1p(values seen); ``horizon`` L + 1;
``cal_j``         the calendar of period t: sin / cos of its month of year and (daily data) day of week
                  (:func:`invcore.calendar.calendar_features`) for data with dates; else sin / cos of its
                  phase in a season of ``season`` periods (``season`` > 1), or nothing.

Known covariates (``data: covariates:`` of a scenario, e.g. M5's price, snap and event columns; see
:data:`COVARIATE_KINDS`) add columns made from the covariate values of the protection interval t .. t + L (the
periods being planned: a price list, a promotion plan, the calendar of events and SNAP days are known when the
order is placed; the demand of those periods is not) and of the ``recent`` periods before t:

``{c}_ratio``     (kind ``level``, a price) mean of c over t .. t + L / mean of c over t - recent .. t - 1:
                  below 1 for a discount against the recent price, scale-free across SKUs;
``{c}_log``       (kind ``level``) log of the mean of c over t .. t + L: the price level of the item;
``{c}_ahead``     (kind ``flag``, 0/1 or a count: SNAP days, events) mean of c over t .. t + L: the share of
                  the protection interval that has it (the target is the mean demand over the same periods).

A period without a value (before a SKU's first row, after the data's end) is left out of a mean; a mean of
none is NaN. No covariate column uses demand, so the demand part of the causality argument is unchanged.

Values not yet seen are NaN (gradient-boosted trees learn where missing values go).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .calendar import calendar_features

FEATURES_VERSION = 1
"""Bumped when a feature changes meaning: a policy file records it, deploy refuses another version (the
covariates, added later, default to none: files written before them read as before)."""

COVARIATE_KINDS = ("level", "flag")
"""``level``: a number > 0 whose change against its recent mean matters (a price; empty cells are unknown);
``flag``: a number (0/1, a count), or a text column that is 1 where the cell is not empty (M5's ``event``:
event names joined by ``|``)."""
COVARIATE_RECENT = 28
"""Periods before the origin whose mean a ``level`` covariate is compared with (four weeks of daily data)."""


@dataclass(frozen=True)
class Features:
    """Which features (see the module docstring); ``dated``: calendar from dates (``daily``: with the day of
    week), else the phase in ``season``."""

    lags: tuple[int, ...]
    means: tuple[int, ...]
    stds: tuple[int, ...]
    season: int
    dated: bool
    daily: bool
    covariates: tuple[tuple[str, str], ...] = ()
    """(column, kind) of the known covariates, in the order of the scenario's ``data: covariates``."""
    recent: int = COVARIATE_RECENT

    @classmethod
    def for_season(cls, season: int, dated: bool, daily: bool,
                   covariates: tuple[tuple[str, str], ...] = ()) -> Features:
        """Lags 1..8 (and the season length when longer), means over 4, 8, 16, 32 (and a season) periods,
        deviations over 8 and 32; the known covariates (column, kind)."""
        lags = tuple(range(1, 9)) + ((season,) if season > 8 else ())
        means = tuple(sorted({4, 8, 16, 32} | ({season} if season > 1 else set())))
        return cls(lags, means, (8, 32), int(season), bool(dated), bool(daily), tuple(covariates))

    @property
    def window(self) -> int:
        return max(self.lags + self.means + self.stds)

    @property
    def n_calendar(self) -> int:
        if self.dated:
            return 4 if self.daily else 2
        return 2 if self.season > 1 else 0

    @property
    def covariate_names(self) -> list[str]:
        out = []
        for c, kind in self.covariates:
            out += [f"{c}_ratio", f"{c}_log"] if kind == "level" else [f"{c}_ahead"]
        return out

    @property
    def names(self) -> list[str]:
        return ([f"lag_{k}" for k in self.lags] + [f"mean_{w}" for w in self.means] + [f"std_{w}" for w in self.stds]
                + ["nonzero", "since", "log_scale", "log_count", "horizon"]
                + [f"cal_{j}" for j in range(self.n_calendar)] + self.covariate_names)

    def covariate_features(self, table: CovariateTable | None, sku: np.ndarray, origin: np.ndarray,
                           horizon: np.ndarray) -> np.ndarray:
        """The covariate columns [M, len(covariate_names)] (float64, NaN where a mean has no value) of origins
        `origin` [M] (period index into `table`) of SKUs `sku` [M] (row of `table`) with L + 1 = `horizon`."""
        m = np.asarray(origin).shape[0]
        if not self.covariates:
            return np.zeros((m, 0))
        if table is None or table.names != tuple(c for c, _ in self.covariates):
            raise ValueError(f"expected the covariates {[c for c, _ in self.covariates]}, got "
                             f"{None if table is None else list(table.names)}")
        origin = np.asarray(origin, dtype=np.int64)
        H = np.broadcast_to(np.asarray(horizon, dtype=np.int64), origin.shape)
        cols = []
        for j, (_, kind) in enumerate(self.covariates):
            ahead = table.mean(j, sku, origin, origin + H)
            if kind == "level":
                with np.errstate(invalid="ignore", divide="ignore"):
                    cols += [ahead / table.mean(j, sku, origin - self.recent, origin), np.log(ahead)]
            else:
                cols.append(ahead)
        return np.stack(cols, axis=1)

    def calendar_table(self, dates: np.ndarray | None) -> np.ndarray:
        """[rows, n_calendar] calendar features by row: of `dates` (datetime64[D] of the rows) when dated,
        else of the phase row mod season for rows 0 .. season - 1 (look up with ``row % season``)."""
        if self.dated:
            return np.ascontiguousarray(calendar_features(np.asarray(dates), self.daily))
        if self.season > 1:
            ph = 2 * np.pi * np.arange(self.season) / self.season
            return np.stack([np.sin(ph), np.cos(ph)], axis=1)
        return np.zeros((1, 0))

    def compute(self, buf: np.ndarray, total: np.ndarray, count: np.ndarray, horizon: np.ndarray,
                calendar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feature matrix [N, F] (float32) and the scale s [N] from the last ``window`` values ``buf`` [N, W]
        (newest last, NaN where not seen), the sum and number of all values seen, L + 1 and the calendar
        features [N, n_calendar] of the forecast origin."""
        W = buf.shape[1]
        if W != self.window:
            raise ValueError(f"expected the last {self.window} values, got {W}")
        scale = np.where((count > 0) & (total > 0), total / np.maximum(count, 1), 1.0)
        inv = 1.0 / scale
        seen = np.isfinite(buf)
        val = np.where(seen, buf, 0.0)
        cols = [buf[:, W - k] * inv for k in self.lags]
        csum = np.cumsum(val[:, ::-1], axis=1)  # csum[:, w-1] = sum of the last w values
        csq = np.cumsum((val * val)[:, ::-1], axis=1)
        cnt = np.cumsum(seen[:, ::-1], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            for w in self.means:
                cols.append(csum[:, w - 1] / cnt[:, w - 1] * inv)
            for w in self.stds:
                n = cnt[:, w - 1]
                mean = csum[:, w - 1] / n
                var = np.maximum(csq[:, w - 1] / n - mean * mean, 0.0)
                cols.append(np.where(n > 1, np.sqrt(var * n / np.maximum(n - 1, 1)), np.nan) * inv)
            pos = seen & (buf > 0)
            cols.append(np.where(cnt[:, -1] > 0, pos.sum(axis=1) / cnt[:, -1], np.nan))
        last = np.where(pos.any(axis=1), W - 1 - np.argmax(pos[:, ::-1], axis=1), -1)
        cols.append((W - last).astype(np.float64))
        cols += [np.log1p(scale), np.log1p(count), np.asarray(horizon, dtype=np.float64)]
        X = np.concatenate([np.stack(cols, axis=1), np.asarray(calendar, dtype=np.float64).reshape(len(buf), -1)],
                           axis=1)
        return X.astype(np.float32), scale

    def to_json(self) -> dict[str, Any]:
        return {"version": FEATURES_VERSION, **{k: [list(x) if isinstance(x, tuple) else x for x in v]
                                                if isinstance(v, tuple) else v for k, v in asdict(self).items()}}

    @classmethod
    def from_json(cls, d: dict[str, Any], source: str) -> Features:
        if not isinstance(d, dict) or d.get("version") != FEATURES_VERSION:
            raise ValueError(f"{source}: features version {d.get('version') if isinstance(d, dict) else None!r}; "
                             f"this version reads {FEATURES_VERSION}: re-export the policy")
        try:
            cov = tuple((str(c), str(k)) for c, k in d.get("covariates", ()))
            if any(k not in COVARIATE_KINDS for _, k in cov):
                raise ValueError
            return cls(tuple(int(k) for k in d["lags"]), tuple(int(w) for w in d["means"]),
                       tuple(int(w) for w in d["stds"]), int(d["season"]), bool(d["dated"]), bool(d["daily"]),
                       cov, int(d.get("recent", COVARIATE_RECENT)))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{source}: corrupt features (expected lags, means, stds, season, dated, daily and "
                             f"covariates as [column, kind] pairs with kinds {', '.join(COVARIATE_KINDS)})") from None


def history_inputs(history: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From a demand history [N, periods] with column k-1 = k periods ago (NaN where none): the last `window`
    values newest last [N, window] (NaN padded), and the sum and number of all values given."""
    n = history.shape[0]
    buf = np.full((n, window), np.nan)
    k = min(window, history.shape[1])
    buf[:, window - k:] = history[:, :k][:, ::-1]
    seen = np.isfinite(history)
    return buf, np.where(seen, history, 0.0).sum(axis=1), seen.sum(axis=1).astype(np.float64)


class CovariateTable:
    """Known covariate values [k, N, P] (covariate, SKU row, period; NaN where none) as cumulative sums, so that
    the mean over any span of periods is two look-ups (:meth:`mean`)."""

    def __init__(self, names: tuple[str, ...], values: np.ndarray):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 3 or values.shape[0] != len(names):
            raise ValueError(f"expected values [{len(names)}, N, P], got shape {values.shape}")
        self.names = tuple(names)
        self.periods = values.shape[2]
        k, n, P = values.shape
        seen = np.isfinite(values)
        self._sum = np.zeros((k, n, P + 1))
        self._cnt = np.zeros((k, n, P + 1))
        np.cumsum(np.where(seen, values, 0.0), axis=2, out=self._sum[:, :, 1:])
        np.cumsum(seen, axis=2, out=self._cnt[:, :, 1:])

    def mean(self, j: int, sku: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """Mean of covariate j over periods start .. stop - 1 (clipped to the table) of each SKU row; NaN
        where none has a value."""
        a = np.clip(start, 0, self.periods)
        b = np.clip(stop, 0, self.periods)
        s = self._sum[j, sku, b] - self._sum[j, sku, a]
        c = self._cnt[j, sku, b] - self._cnt[j, sku, a]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(c > 0, s / np.maximum(c, 1), np.nan)

    def subset(self, rows: np.ndarray) -> CovariateTable:
        out = object.__new__(CovariateTable)
        out.names, out.periods = self.names, self.periods
        out._sum, out._cnt = self._sum[:, rows], self._cnt[:, rows]
        return out


def _parse_cells(col) -> tuple[np.ndarray, np.ndarray]:
    """(empty [R] bool, number [R] float64: NaN where the cell is not a finite number) of a table column (a
    pandas Series, read by the callers' table readers: no pandas import here); each distinct text is parsed
    once (a missing cell reads as NaN, "nan": empty)."""
    dtype = getattr(col, "dtype", None)
    if getattr(dtype, "kind", "O") in "fiub":
        v = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.isnan(v), np.where(np.isfinite(v), v, np.nan)
    keys, inv = np.unique(col.to_numpy(dtype=object).astype(str), return_inverse=True)
    keys = np.char.strip(keys.astype(str))
    nums = np.full(len(keys), np.nan)
    empty = (keys == "") | (keys == "nan") | (keys == "None") | (keys == "<NA>")
    for j in np.flatnonzero(~empty):
        try:
            nums[j] = float(keys[j])
        except ValueError:
            pass
    nums[~np.isfinite(nums)] = np.nan
    inv = inv.reshape(-1)
    return empty[inv], nums[inv]


def covariate_kind(col, kind: str | None, where, column: str) -> str:
    """The kind of a covariate column (:data:`COVARIATE_KINDS`): `kind` when given (checked), else inferred:
    a text column (no cell a number) is a ``flag`` (1 where not empty), a numeric one a ``flag`` when every value
    is 0 or 1, else a ``level``. `where` (:class:`invcore.tables.Where`) names the rows in errors."""
    if kind is not None:
        if kind not in COVARIATE_KINDS:
            raise where.error(f"{where.source}: covariate {column!r} has kind {kind!r}; expected one of "
                              f"{', '.join(COVARIATE_KINDS)}")
        return kind
    empty, num = _parse_cells(col)
    v = num[~empty & np.isfinite(num)]
    if v.size == 0:
        return "flag"
    return "flag" if np.isin(v, (0.0, 1.0)).all() else "level"


def covariate_values(col, kind: str, where, column: str) -> np.ndarray:
    """A covariate column as float64 (NaN = no value), checked: ``level`` numbers > 0 (empty = NaN); ``flag``
    finite numbers (empty = 0), or 1 / 0 for the non-empty / empty cells of a text column. A cell that is not a
    number in a column of numbers is an error naming the file, column and row (`where`)."""
    from .tables import excerpt

    empty, num = _parse_cells(col)
    bad_text = ~empty & ~np.isfinite(num)
    if kind == "flag" and not np.isfinite(num[~empty]).any():
        return (~empty).astype(np.float64)  # a text column: 1 where the cell holds something
    if bad_text.any():
        i = int(np.flatnonzero(bad_text)[0])
        raise where.error(f"{where.at(column, i)}: covariate {excerpt(col.iloc[i])} is not a finite number; "
                          f"expected a number in this column of numbers (kind {kind})")
    if kind == "level":
        low = np.flatnonzero(~empty & (num <= 0))
        if low.size:
            i = int(low[0])
            raise where.error(f"{where.at(column, i)}: covariate {num[i]:g}; expected a number > 0 (kind level, a "
                              "price) or an empty cell")
        return np.where(empty, np.nan, num)
    return np.where(empty, 0.0, num)


# ---------------------------------------------------------------------------------- the GRU's inputs


def scale(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The expanding mean of the values seen (1 while it is 0): the unit of the GRU's inputs and targets."""
    return np.where((count > 0) & (total > 0), total / np.maximum(count, 1), 1.0)


def gru_inputs(y, total, count, calendar: np.ndarray) -> np.ndarray:
    """The GRU's input after value y (elementwise over any shape [...]; total / count include y; calendar
    [..., c] = what is known of the next period, as for the LightGBM features: its calendar and covariate
    columns, :func:`baselines.learned._known`): y / s, log1p(s), [y > 0], log1p(count) and those (a covariate mean of no value,
    NaN, is 0 here). float32 [..., 4 + c]."""
    s = scale(total, count)
    x = np.stack([y / s, np.log1p(s), (y > 0).astype(np.float64), np.log1p(count)], axis=-1)
    return np.nan_to_num(np.concatenate([x, calendar], axis=-1), nan=0.0).astype(np.float32)
