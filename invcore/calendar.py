"""Calendar features of the observation: sin/cos of the month of year and of the day of week."""

from __future__ import annotations

import numpy as np


def calendar_features(dates: np.ndarray, daily: bool) -> np.ndarray:
    """sin/cos of month of year (always) and of day of week (daily data) for datetime64[D] dates: float64
    [len(dates), 2 or 4], columns month_sin, month_cos(, dow_sin, dow_cos); Monday = weekday 0."""
    d = dates.astype("datetime64[D]")
    months = d.astype("datetime64[M]").astype(np.int64) % 12
    cols = [np.sin(2 * np.pi * months / 12), np.cos(2 * np.pi * months / 12)]
    if daily:
        dow = (d.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        cols += [np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)]
    return np.stack(cols, axis=1).astype(np.float64)
