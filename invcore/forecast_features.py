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

Values not yet seen are NaN (gradient-boosted trees learn where missing values go).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .calendar import calendar_features

FEATURES_VERSION = 1
"""Bumped when a feature changes meaning: a policy file records it, deploy refuses another version."""


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

    @classmethod
    def for_season(cls, season: int, dated: bool, daily: bool) -> Features:
        """Lags 1..8 (and the season length when longer), means over 4, 8, 16, 32 (and a season) periods,
        deviations over 8 and 32."""
        lags = tuple(range(1, 9)) + ((season,) if season > 8 else ())
        means = tuple(sorted({4, 8, 16, 32} | ({season} if season > 1 else set())))
        return cls(lags, means, (8, 32), int(season), bool(dated), bool(daily))

    @property
    def window(self) -> int:
        return max(self.lags + self.means + self.stds)

    @property
    def n_calendar(self) -> int:
        if self.dated:
            return 4 if self.daily else 2
        return 2 if self.season > 1 else 0

    @property
    def names(self) -> list[str]:
        return ([f"lag_{k}" for k in self.lags] + [f"mean_{w}" for w in self.means] + [f"std_{w}" for w in self.stds]
                + ["nonzero", "since", "log_scale", "log_count", "horizon"]
                + [f"cal_{j}" for j in range(self.n_calendar)])

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
        return {"version": FEATURES_VERSION, **{k: list(v) if isinstance(v, tuple) else v
                                                for k, v in asdict(self).items()}}

    @classmethod
    def from_json(cls, d: dict[str, Any], source: str) -> Features:
        if not isinstance(d, dict) or d.get("version") != FEATURES_VERSION:
            raise ValueError(f"{source}: features version {d.get('version') if isinstance(d, dict) else None!r}; "
                             f"this version reads {FEATURES_VERSION}: re-export the policy")
        try:
            return cls(tuple(int(k) for k in d["lags"]), tuple(int(w) for w in d["means"]),
                       tuple(int(w) for w in d["stds"]), int(d["season"]), bool(d["dated"]), bool(d["daily"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{source}: corrupt features (expected lags, means, stds, season, dated, daily)") from None


def history_inputs(history: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From a demand history [N, periods] with column k-1 = k periods ago (NaN where none): the last `window`
    values newest last [N, window] (NaN padded), and the sum and number of all values given."""
    n = history.shape[0]
    buf = np.full((n, window), np.nan)
    k = min(window, history.shape[1])
    buf[:, window - k:] = history[:, :k][:, ::-1]
    seen = np.isfinite(history)
    return buf, np.where(seen, history, 0.0).sum(axis=1), seen.sum(axis=1).astype(np.float64)
