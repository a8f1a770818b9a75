"""Historical demand: loading and validating a demand file, an item table and train/val/test date splits.

Demand file
-----------
A *long* table with one row per SKU and period and (at least) the columns ``date,sku,demand`` (other columns
are ignored; the three names can be changed with ``columns={"date": "Datum", ...}`` or ``date_column=`` etc.).
Accepted formats: ``.csv``, ``.csv.gz`` (read by :func:`invcore.tables.read_table`, the one reader of user
tables: block by block into compact columns, the SKU and date as text so ``"0012"`` stays ``"0012"``; every
row must have the header's number of fields; the separator ``,`` ``;`` tab ``|`` and decimal commas are
detected unless ``sep=`` / ``decimal=`` are given) and ``.parquet`` / ``.pq``. Exports are read with
``dayfirst=True`` or ``date_format="%d.%m.%Y"`` (dates), ``wide=True`` (a date column and one demand column per
SKU; an empty cell is no row) and ``aggregate="sum"`` (several rows of one (date, SKU) summed: order lines, which
may carry a time of day); :attr:`DemandData.notes` says what was detected or done::

    date,sku,demand
    2012-01-02,MAN0001,0
    2012-01-09,MAN0001,1150
    2012-01-02,MAN0002,3.5

* ``date``: a calendar date ``YYYY-MM-DD`` (no time of day). All dates of the file must lie on one regular
  period grid, whose frequency is inferred: daily ``D`` (or business days ``B``), every ``k`` days ``kD``,
  weekly ``W-MON`` (any weekday), monthly on the first ``MS`` or last ``ME`` day, quarterly ``QS-*``/``QE-*``,
  yearly ``YS-*``/``YE-*``. The global grid runs from the first to the last date of the file.
* ``sku``: any non-empty text, stripped of surrounding whitespace; ids that differ only by case or surrounding
  whitespace (``A1`` / ``a1`` / ``A1 ``) are an error listing them. SKUs may start and end at different dates; outside its own range
  ``[first, last]`` a SKU's demand is NaN. Inside the range every period needs a row: a missing period is an
  error unless ``fill_missing=True``, which fills it with 0 (and counts it in :attr:`DemandData.filled`).
* ``demand``: a finite number >= 0 (fractional demand is allowed); one row per (date, sku) unless
  ``aggregate="sum"``.

Every problem is a :class:`DataError` whose message names the file, the column, the row (``line N`` of a
CSV file, counting the header as line 1; ``row N``, 0-based, of a Parquet file or a DataFrame) or the SKU, and
what was expected. Lines that are completely blank (or whose date, sku and demand are all empty) are skipped.

Item table
----------
Per-SKU parameters, one row per SKU: a ``sku`` column and any of :data:`ITEM_PARAMS` (``lead_time,
unit_cost, order_cost, holding_cost, shortage_cost, moq, pack_size``; ``lead_time_min`` and ``lead_time_max``:
a random lead time, uniform on that range of whole periods, drawn per order; ``shelf_life``, ``outdating_cost``:
perishable stock; ``volume``: space per unit in a shared capacity); any other column is an error unless
it is mapped to a parameter or named in ``ignore_columns=`` (so that ``MOQ`` is not silently dropped). A column
may carry another name (``columns={"lead_time": "lead_time_weeks"}``; parameters not named in the mapping
are still read from a column of their own name when there is one) and be rescaled after loading
(``scale={"holding_cost": 1 / 52}``). Values must be finite and >= 0; ``lead_time`` a non-negative integer,
``pack_size`` a positive integer. ``moq`` may be fractional (some ``moq_units`` of the MAN data set are, e.g.
0.02 or 416.67): it is a threshold (an order is 0 or at least ``moq``), so any number >= 0 is usable. A demand
SKU without an item row gets NaN (the scenario's default applies); an item row whose SKU is not in the demand
data is an error unless ``ignore_unknown_skus=True``.

Known covariates
----------------
``load_covariates(path, data, [price, snap, event])`` (a scenario's ``data: covariates:``) reads further columns
of the same demand file onto its [SKU, period] grid for the learned forecasters (:class:`Covariates`; NaN where
a SKU has no row): values known when the order is placed (a price list, promotions, SNAP days, events). A
column's kind (:data:`invcore.forecast_features.COVARIATE_KINDS`) is given (``{price: level, event: flag}``) or
inferred from a list: text (M5's ``event``, names joined by ``|``) is a ``flag``, 1 where the cell is not empty;
numbers that are all 0 or 1 a ``flag``; other numbers a ``level`` (> 0; a price). A missing column, a text cell
in a column of numbers, a level <= 0 or an unknown kind is an error naming the file, column and row; a wide or
summed file has no per-row covariates.

Splits
------
:func:`split_windows` cuts the global grid into three consecutive windows ``train | val | test``, each a
half-open range of grid indices ``[start, stop)``: a window runs from its start to the start of the next
one, the test window to the end of the grid. Each of ``train``, ``val``, ``test`` is

* ``None``: filled in from the others. Nothing given: 60 % / 20 % / 20 %. An unspecified ``val`` is the last
  quarter of the periods before the test window (so that train : val = 3 : 1; ``test="2015-04-25"`` alone
  gives a validation window too) unless ``train`` is given as a share: then it is what lies between train and
  test when both are given, and empty when only ``train`` is (``val=0`` asks for no validation window); an
  unspecified ``test`` is whatever follows train and val when they fix where it starts (``train=0.6`` alone:
  the last 40 %), else the last 20 %; an unspecified ``train`` is everything from the grid start up to ``val``
  (or ``test``);
* a share of the grid in (0, 1) (``val`` may be 0: no validation window); shares are counted along the grid
  in the order train, val, test (a share of ``test`` is the last periods of the grid), and three shares must
  add up to 1;
* a date ``"YYYY-MM-DD"`` (or a ``datetime.date``): the window *starts* at that date (at the next grid
  date if it falls between two). ``train`` starts at the grid start unless it is given as a date.

A SKU takes part in a window over the intersection of the window with its own date range
(:meth:`Windows.sku_range`). The train and test windows, and the val window when it was asked for, must hold
demand data of at least one SKU; a start date outside the data's range is an error.

Command line: ``python -m envs.data FILE [--columns date=Datum,...] [--sep SEP] [--decimal ,] [--dayfirst]
[--date-format FMT] [--wide] [--aggregate sum] [--fill-missing] [--items ITEMS] [--items-columns
lead_time=lead_time_weeks,...] [--items-scale ...] [--items-ignore COL,...] [--ignore-unknown-items] [--train X]
[--val X] [--test X]`` prints a summary and what reading did; each flag is a key of the scenario's ``data:``
section (:class:`envs.scenario.DataConfig`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import re
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from invcore import tables as _tables
from invcore.tables import LineNumbers, Where, as_text, excerpt, number_column, sku_column
from invcore.tables import read_table as _read_any

__all__ = [
    "ITEM_PARAMS",
    "DataError",
    "DemandData",
    "ItemTable",
    "Windows",
    "demand_from_frame",
    "format_summary",
    "load_covariates",
    "load_demand",
    "load_items",
    "demand_options",
    "item_options",
    "main",
    "split_windows",
    "summarize",
]

ITEM_PARAMS = ("lead_time", "unit_cost", "order_cost", "holding_cost", "shortage_cost", "moq", "pack_size",
               "lead_time_min", "lead_time_max", "shelf_life", "outdating_cost", "volume")
"""Per-SKU parameters an item table may give."""

_INTEGER_PARAMS = ("lead_time", "lead_time_min", "lead_time_max")  # non-negative integers (moq may be fractional: it is a threshold, see below)
_POSITIVE_INTEGER_PARAMS = ("pack_size", "shelf_life")
_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
_DEFAULT_SPLIT = (0.6, 0.2, 0.2)
_DEFAULT_VAL_SHARE = 0.25  # an unspecified val window: this share of the periods before the test window
_WINDOW_NAMES = ("train", "val", "test")
_CHUNK_ROWS = 1 << 22  # rows per chunk of the loader's per-row index arithmetic (bounded temporaries)
_SBC_CLASSES = ("smooth", "erratic", "intermittent", "lumpy", "<2 nonzero")
_ADI_CUT = 1.32
_CV2_CUT = 0.49
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


class DataError(ValueError):
    """A user's data problem. ``str(err)`` is one clear message naming the file, the column, the row (1-based
    line number in the file for CSV, counting the header as line 1; row index for Parquet) or the SKU, and what
    was expected."""


# ----------------------------------------------------------------------------------------------- demand data


@dataclass(frozen=True, eq=False)
class DemandData:
    """A demand file as a dense [SKU, period] matrix on the file's regular period grid."""

    path: str
    """File it came from (or the ``source`` label of a DataFrame)."""
    skus: np.ndarray
    """[n] object (str), sorted."""
    dates: np.ndarray
    """[T] datetime64[D]: the global regular grid from the first to the last date of the file."""
    freq: str
    """pandas offset alias of the grid (``"D"``, ``"W-MON"``, ``"MS"``, ...)."""
    demand: np.ndarray
    """[n, T] float64; NaN outside each SKU's own range [first, last]."""
    first: np.ndarray
    """[n] int64: grid index of each SKU's first row."""
    last: np.ndarray
    """[n] int64: grid index of each SKU's last row (inclusive)."""
    filled: int = 0
    """SKU-periods missing inside a SKU's range that were filled with 0 (only with ``fill_missing``)."""
    notes: tuple[str, ...] = ()
    """What reading the file detected or was asked to do, one line each (separator, decimal comma, column
    names, date format, wide table, aggregation, stripped SKU ids, filled periods)."""

    @property
    def n_skus(self) -> int:
        return int(self.skus.shape[0])

    @property
    def n_periods(self) -> int:
        return int(self.dates.shape[0])

    @property
    def n_observations(self) -> int:
        """SKU-periods inside the SKUs' ranges (rows of the file plus filled periods)."""
        return int(np.sum(self.last - self.first + 1))

    @property
    def zero_share(self) -> float:
        """Share of SKU-periods (within the SKUs' ranges) with zero demand."""
        inside = ~np.isnan(self.demand)
        n = int(inside.sum())
        return float(np.sum(self.demand[inside] == 0) / n) if n else math.nan

    @property
    def mean_demand(self) -> float:
        """Mean demand per SKU-period within the SKUs' ranges."""
        inside = ~np.isnan(self.demand)
        return float(self.demand[inside].mean()) if inside.any() else math.nan

    def sku_index(self, sku: str) -> int:
        """Row of `sku` in :attr:`skus` (DataError if absent)."""
        i = int(np.searchsorted(self.skus, sku))
        if i >= self.n_skus or self.skus[i] != sku:
            raise DataError(f"{self.path}: unknown SKU {sku!r}")
        return i


DEMAND_FIELDS = ("date", "sku", "demand")
"""The three columns of a demand file (their names in the file can be changed with ``columns=``)."""
AGGREGATIONS = ("sum",)
"""How ``aggregate=`` combines several rows of one (date, SKU): ``sum`` (order lines summed into periods)."""


@_tables.unquoted_if_linked("path")
def load_demand(path: str | Path, *, fill_missing: bool = False, sku_column: str = "sku",
                date_column: str = "date", demand_column: str = "demand",
                columns: Mapping[str, str] | None = None, sep: str | None = None, decimal: str | None = None,
                date_format: str | None = None, dayfirst: bool = False, wide: bool = False,
                aggregate: str | None = None) -> DemandData:
    """Read and validate a demand table (CSV, CSV.gz or Parquet; see the module docstring).

    `columns` maps ``date`` / ``sku`` / ``demand`` to the file's column names (``{"date": "Datum"}``; the same
    as `date_column` etc.); `sep` / `decimal`: CSV separator and decimal mark (default: detected);
    `date_format`: a ``strftime`` format of the dates (``"%d.%m.%Y"``), `dayfirst`: dates are day-first
    (``31/01/2016``); `wide`: one column per SKU (the date column, then one demand column per SKU; an empty
    cell is no row); ``aggregate="sum"``: several rows of one (date, SKU) are summed (order lines), and a date
    may have a time of day. What was detected or asked for is listed in :attr:`DemandData.notes`."""
    path = Path(path)
    names = _demand_columns(str(path), columns, date_column, sku_column, demand_column, wide)
    date_column, sku_column, demand_column = names
    if aggregate is not None and aggregate not in AGGREGATIONS:
        raise DataError(f"{path}: aggregate {excerpt(aggregate)}; expected one of {', '.join(AGGREGATIONS)} or "
                        "none")
    if wide:
        df, where = _read_table(path, (date_column,), text_columns=(date_column,), what="demand file (wide)",
                                sep=sep, decimal=decimal)
        notes = [*where.notes, *_column_notes(columns, date_column=date_column)]
        df, where, wide_notes = _melt_wide(df, where, date_column)
        notes += wide_notes
    else:
        df, where = _read_table(path, names, text_columns=(sku_column, date_column), what="demand file",
                                columns=names, sep=sep, decimal=decimal,
                                expected_rows=f"rows {date_column},{sku_column},{demand_column}")
        notes = [*where.notes, *_column_notes(columns, date_column=date_column, sku_column=sku_column,
                                              demand_column=demand_column)]
    return _build_demand(df, where, fill_missing, sku_column, date_column, demand_column,
                         date_format=date_format, dayfirst=dayfirst, aggregate=aggregate, notes=notes)


def demand_from_frame(df: pd.DataFrame, *, source: str = "<frame>", fill_missing: bool = False,
                      sku_column: str = "sku", date_column: str = "date",
                      demand_column: str = "demand") -> DemandData:
    """The same as :func:`load_demand` for an in-memory DataFrame (rows are named by position, 0-based)."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}")
    _require_columns(df, source, (date_column, sku_column, demand_column), "demand")
    df = df.loc[:, [date_column, sku_column, demand_column]].reset_index(drop=True)
    df[sku_column] = as_text(df[sku_column])
    return _build_demand(df, _Where(source, None), fill_missing, sku_column, date_column, demand_column)


def _demand_columns(source: str, columns: Mapping[str, str] | None, date_column: str, sku_column: str,
                    demand_column: str, wide: bool) -> tuple[str, str, str]:
    names = {"date": date_column, "sku": sku_column, "demand": demand_column}
    for key, col in (columns or {}).items():
        if key not in DEMAND_FIELDS:
            raise DataError(f"{source}: unknown field {excerpt(key)} in the columns mapping; expected "
                            f"{', '.join(DEMAND_FIELDS)} (e.g. date=Datum,sku=Artikel,demand=Menge)")
        if not isinstance(col, str) or not col:
            raise DataError(f"{source}: the columns mapping gives {excerpt(col)} for {key!r}; expected a column "
                            "name")
        if wide and key != "date":
            raise DataError(f"{source}: a wide table has no {key} column (its SKU columns are named by the SKU); "
                            "only date=COLUMN can be mapped")
        names[key] = col
    if len(set(names.values())) < 3:
        raise DataError(f"{source}: the columns mapping names one column twice ({names}); expected three "
                        "distinct columns date, sku, demand")
    return names["date"], names["sku"], names["demand"]


def _column_notes(columns: Mapping[str, str] | None, **used: str) -> list[str]:
    if not columns:
        return []
    return ["columns " + ", ".join(f"{k.removesuffix('_column')}={v!r}" for k, v in used.items()
                                   if k.removesuffix("_column") in columns)]


def _melt_wide(df: pd.DataFrame, where: _Where, date_column: str) -> tuple[pd.DataFrame, _Where, list[str]]:
    """A wide table (date column + one demand column per SKU) as long rows date, sku, demand; an empty cell is
    no row. Bad cells are reported here, naming the SKU column and the line."""
    sku_cols = [c for c in df.columns if c != date_column]
    if not sku_cols:
        raise DataError(f"{where.source}: a wide table needs SKU columns beside {date_column!r}; found only "
                        f"{_list([str(c) for c in df.columns])}")
    dates = df[date_column]
    codes = dates.cat.codes.to_numpy() if isinstance(dates.dtype, pd.CategoricalDtype) else None
    parts_row, parts_val, parts_sku = [], [], []
    for j, c in enumerate(sku_cols):
        col = df[c]
        if pd.api.types.is_bool_dtype(col.dtype):
            raise DataError(f"{where.at(str(c), 0)}: demand is {excerpt(col.iloc[0])}; expected a number")
        v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        raw_missing = col.isna().to_numpy()
        text = np.isnan(v) & ~raw_missing
        if text.any():
            i = int(np.flatnonzero(text)[0])
            raw = col.iloc[i]
            if not (isinstance(raw, str) and raw.strip().lower() in ("nan", "")):
                raise DataError(f"{where.at(str(c), i)}: demand {excerpt(raw)} is not a number (SKU column "
                                f"{excerpt(str(c))}); expected a number or an empty cell")
        for bad, expected in ((np.isinf(v), "a finite number"), (v < 0, "a number >= 0")):
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(f"{where.at(str(c), i)}: demand {_num(v[i])} (SKU column {excerpt(str(c))}); "
                                f"expected {expected}")
        rows = np.flatnonzero(~np.isnan(v))
        parts_row.append(rows)
        parts_val.append(v[rows])
        parts_sku.append(np.full(rows.size, j, dtype=np.int32))
    rows = np.concatenate(parts_row)
    sku = pd.Categorical.from_codes(np.concatenate(parts_sku), categories=pd.Index([str(c) for c in sku_cols]))
    if codes is not None:
        date = pd.Categorical.from_codes(codes[rows], categories=dates.cat.categories)
    else:
        date = dates.to_numpy()[rows]
    long = pd.DataFrame({date_column: date, "sku": sku, "demand": np.concatenate(parts_val)})
    lines = where.lines.take(rows) if isinstance(where.lines, LineNumbers) else None
    note = f"wide table: {len(sku_cols)} SKU columns, {len(df)} dates -> {len(long):,} rows (empty cells skipped)"
    return long, _Where(where.source, lines), [note]


def _build_demand(df: pd.DataFrame, where: _Where, fill_missing: bool, sku_column: str, date_column: str,
                  demand_column: str, *, date_format: str | None = None, dayfirst: bool = False,
                  aggregate: str | None = None, notes: Sequence[str] = ()) -> DemandData:
    """Validate the rows of `df` (consumed: its columns are dropped as they are converted) and build the
    [SKU, period] matrix with compact intermediates (int32 codes, no per-row strings)."""
    source = where.source
    notes = list(notes)
    n_rows = len(df)
    if n_rows == 0:
        raise DataError(f"{source}: no data rows (only a header); expected rows {date_column},{sku_column},"
                        f"{demand_column}")
    codes, skus, sku_notes = _sku_codes(df.pop(sku_column), where, sku_column)
    notes += sku_notes
    demand = _demand_values(df.pop(demand_column), where, demand_column, codes, skus)
    date_codes, cat_days = _date_codes(df.pop(date_column), where, date_column, date_format, dayfirst,
                                       allow_time=aggregate is not None)
    if date_format:
        notes.append(f"date format {date_format!r}")
    elif dayfirst:
        notes.append("dates day-first")
    del df

    def sku_of(i: int) -> str:
        return excerpt(skus[codes[i]])

    def day_of(i: int) -> str:
        return _day(cat_days[date_codes[i]])

    bad = np.flatnonzero(demand < 0)
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{where.at(demand_column, i)}: negative demand {_num(demand[i])} for SKU {sku_of(i)} on "
                        f"{day_of(i)}; expected a number >= 0")

    used = np.zeros(cat_days.size, dtype=bool)
    used[date_codes] = True
    unique_days = np.unique(cat_days[used])

    def row_of_day(d: int) -> int:
        rows = np.flatnonzero(np.isin(date_codes, np.flatnonzero(cat_days == d)))
        return int(rows[0]) if rows.size else 0

    freq, grid = _infer_grid(unique_days, row_of_day, where, date_column)
    T = grid.shape[0]
    n = skus.shape[0]
    index_type = np.int32 if n * T < 2**31 else np.int64
    cat_t = np.searchsorted(grid, cat_days).astype(index_type)
    flat = np.empty(n_rows, dtype=index_type)  # cell of each row in the [n, T] matrix, built in chunks
    for s in range(0, n_rows, _CHUNK_ROWS):
        e = min(s + _CHUNK_ROWS, n_rows)
        np.multiply(codes[s:e], T, out=flat[s:e], dtype=index_type)
        flat[s:e] += cat_t[date_codes[s:e]]
    codes = date_codes = codes[:0]  # free the per-row codes (the helpers above are not used after this)
    if aggregate == "sum":
        present = np.bincount(flat, minlength=n * T)
        matrix = np.bincount(flat, weights=demand, minlength=n * T)
        cells = int(np.count_nonzero(present))
        matrix[present == 0] = np.nan
        del present
        notes.append(f"aggregate sum: {n_rows:,} rows summed into {cells:,} (date, SKU) periods")
    else:
        matrix = np.full(n * T, np.nan)
        matrix[flat] = demand
        if np.count_nonzero(~np.isnan(matrix)) != n_rows:
            dup = pd.Series(flat).duplicated().to_numpy()
            j = int(np.flatnonzero(dup)[0])
            i = int(np.flatnonzero(flat == flat[j])[0])
            raise DataError(f"{source}: duplicate row for SKU {excerpt(skus[int(flat[j]) // T])} and date {_day(grid[int(flat[j]) % T])}: "
                            f"{where.row(i)} and {where.row(j)}; expected one row per (date, {sku_column}), or "
                            "aggregate: sum (--aggregate sum) to sum order lines into periods")
    del flat, demand
    matrix = matrix.reshape(n, T)
    present = ~np.isnan(matrix)
    first = np.argmax(present, axis=1).astype(np.int64)
    last = (T - 1 - np.argmax(present[:, ::-1], axis=1)).astype(np.int64)
    counts = present.sum(axis=1)
    missing = (last - first + 1) - counts
    filled = int(missing.sum())
    if filled and not fill_missing:
        i = int(np.flatnonzero(missing)[0])
        gap = int(first[i] + np.flatnonzero(~present[i, first[i]:last[i] + 1])[0])
        others = int(np.count_nonzero(missing)) - 1
        more = (f"; {others} more SKU(s) have gaps, {filled} missing SKU-periods in all" if others else "")
        raise DataError(
            f"{source}: SKU {excerpt(skus[i])} has {int(missing[i])} missing period(s) inside its date range "
            f"{_day(grid[first[i]])}..{_day(grid[last[i]])} on the {freq} grid (first missing: {_day(grid[gap])})"
            f"{more}; expected one row per period, or pass fill_missing=True (--fill-missing) to fill them with 0")
    if filled:
        for i in np.flatnonzero(missing):
            row = matrix[i, first[i]:last[i] + 1]
            row[np.isnan(row)] = 0.0
        notes.append(f"fill missing: {filled:,} missing SKU-periods of {int(np.count_nonzero(missing)):,} SKU(s) "
                     "filled with 0")
    del present
    return DemandData(path=source, skus=skus, dates=grid.astype("datetime64[D]"), freq=freq, demand=matrix,
                      first=first, last=last, filled=filled, notes=tuple(notes))


def _sku_codes(col: pd.Series, where: _Where, column: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """SKU ids of the rows as int32 codes into the sorted, stripped distinct ids (object array of str). An
    empty id is an error, and so are ids that differ only by case or surrounding whitespace."""
    col = as_text(col)
    cats = pd.Index(col.cat.categories).astype(str)
    raw_codes = col.cat.codes.to_numpy()
    del col
    stripped = cats.str.strip()
    empty_cat = np.flatnonzero(stripped == "")
    if (raw_codes < 0).any() or empty_cat.size:
        i = int(np.flatnonzero((raw_codes < 0) | np.isin(raw_codes, empty_cat))[0])
        raise DataError(f"{where.at(column, i)}: empty SKU; expected a non-empty id")
    _tables.check_sku_length(stripped, raw_codes, where, column)
    used = np.zeros(len(cats), dtype=bool)
    used[raw_codes] = True
    key = pd.Index(stripped).str.casefold()
    clash: list[list[int]] = []
    if key[used].has_duplicates:
        ids = np.flatnonzero(used)
        groups = pd.Series(ids).groupby(key[used].to_numpy(), sort=False).agg(list)
        clash = [sorted(g, key=lambda k: int(np.argmax(raw_codes == k))) for g in groups if len(g) > 1]
    if clash:
        first_rows = {k: int(np.argmax(raw_codes == k)) for g in clash[:3] for k in g[:4]}
        shown = "; ".join(" / ".join(f"{excerpt(cats[k])} ({where.row(first_rows[k])})" for k in g[:4])
                          for g in clash[:3])
        more = f"; and {len(clash) - 3} more such groups" if len(clash) > 3 else ""
        raise DataError(f"{where.source}, column {excerpt(column)}: {len(clash)} SKU id(s) spelled in more than one "
                        f"way, differing only by case or surrounding whitespace: {shown}{more}; expected one "
                        "spelling per SKU (ids are compared after stripping surrounding whitespace, so fix the "
                        "case or merge them in the file)")
    names = stripped.to_numpy(dtype=object)
    order = np.argsort(names[used], kind="stable")
    skus = names[used][order]
    rank = np.full(len(cats), -1, dtype=np.int32)
    rank[np.flatnonzero(used)[order]] = np.arange(len(skus), dtype=np.int32)
    codes = rank[raw_codes]
    notes = []
    n_stripped = int(np.count_nonzero((stripped != cats) & used))
    if n_stripped:
        notes.append(f"SKU ids: surrounding whitespace stripped from {n_stripped:,} id(s)")
    return codes, skus.astype(object), notes


def _demand_values(col: pd.Series, where: _Where, column: str, codes: np.ndarray, skus: np.ndarray) -> np.ndarray:
    """The demand column as numbers: int32 when it is integral and fits (the common case: half the memory of
    float64), else float64; errors for text, empty/NaN and infinite values (negatives: the caller)."""
    if pd.api.types.is_integer_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        v = col.to_numpy()
        if v.size and v.min() >= np.iinfo(np.int32).min and v.max() <= np.iinfo(np.int32).max:
            return v.astype(np.int32, copy=False)
        return v.astype(np.float64)
    return _numbers(col, where, column, context=lambda i: f"SKU {excerpt(skus[codes[i]])}")


_DAYFIRST_LIKE = re.compile(r"^\s*\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")


def _date_codes(col: pd.Series, where: _Where, column: str, date_format: str | None, dayfirst: bool,
                allow_time: bool) -> tuple[np.ndarray, np.ndarray]:
    """Dates of the rows as codes into days (int64 days since 1970-01-01) of the distinct values: each distinct
    text is parsed once. No time of day unless `allow_time` (the day is kept)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy()
        cats = col.cat.categories
    else:
        codes, cats = pd.factorize(col)
    if isinstance(cats, pd.DatetimeIndex) or pd.api.types.is_datetime64_any_dtype(getattr(cats, "dtype", None)):
        ts = pd.DatetimeIndex(cats)
        raw = pd.Index(cats)
    else:
        raw = pd.Index(cats).astype(str)
        text = raw.str.strip()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if date_format:
                    ts = pd.to_datetime(text, format=date_format, errors="coerce")
                elif dayfirst:
                    ts = pd.to_datetime(text, dayfirst=True, errors="coerce")
                else:
                    ts = pd.to_datetime(text, format="ISO8601", errors="coerce")
            except (ValueError, TypeError) as e:
                raise DataError(f"{where.source}, column {column!r}: cannot parse the dates with "
                                f"{'format ' + excerpt(date_format) if date_format else 'dayfirst'}: {e}") from None
        ts = pd.DatetimeIndex(ts)
    if ts.tz is not None:
        ts = ts.tz_localize(None)
    expected = (f"a date in the format {excerpt(date_format)}" if date_format else
                "a day-first date such as 31/01/2016" if dayfirst else "a date YYYY-MM-DD")
    used = np.zeros(len(cats), dtype=bool)
    used[codes[codes >= 0]] = True
    bad_cat = np.flatnonzero(np.asarray(ts.isna()) & used)
    if (codes < 0).any() or bad_cat.size:
        i = int(np.flatnonzero((codes < 0) | np.isin(codes, bad_cat))[0])
        value = None if codes[i] < 0 else raw[codes[i]]
        if value is None or (isinstance(value, str) and not value.strip()):
            raise DataError(f"{where.at(column, i)}: empty date; expected {expected}")
        hint = ""
        if not date_format and not dayfirst and isinstance(value, str) and _DAYFIRST_LIKE.match(value):
            hint = " (for day-first dates pass --dayfirst, or --date-format such as %d/%m/%Y)"
        raise DataError(f"{where.at(column, i)}: cannot parse date {excerpt(value)}; expected {expected}{hint}")
    day = np.asarray(ts.values).astype("datetime64[D]")
    if not allow_time:
        timed = np.flatnonzero(np.asarray(ts != ts.normalize()) & used)
        if timed.size:
            i = int(np.flatnonzero(np.isin(codes, timed))[0])
            raise DataError(f"{where.at(column, i)}: date {excerpt(str(raw[codes[i]]))} has a time of day; expected "
                            f"a date YYYY-MM-DD (order lines with times: aggregate: sum, --aggregate sum)")
    return codes, day.astype(np.int64)


# ------------------------------------------------------------------------------------------ known covariates


@dataclass(frozen=True, eq=False)
class Covariates:
    """Known covariate columns of a demand file on its [SKU, period] grid (``data: covariates:``; used by the
    learned forecasters, :mod:`invcore.forecast_features`)."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    """Per column, one of :data:`invcore.forecast_features.COVARIATE_KINDS`."""
    values: np.ndarray
    """[k, n, T] float64 aligned with :attr:`DemandData.demand`; NaN where the file has no row (or an empty
    ``level`` cell)."""
    inferred: tuple[bool, ...] = ()
    """Per column, whether its kind was inferred (a list in the scenario) rather than given."""

    def describe(self) -> str:
        return ", ".join(f"{c} ({k}{', inferred' if i else ''})"
                         for c, k, i in zip(self.names, self.kinds, self.inferred or (False,) * len(self.names),
                                            strict=True))

    def subset(self, skus: np.ndarray) -> Covariates:
        return Covariates(self.names, self.kinds, self.values[:, skus].copy(), self.inferred)


def load_covariates(path: str | Path, data: DemandData, spec: Sequence[str] | Mapping[str, str], *,
                    columns: Mapping[str, str] | None = None, sep: str | None = None, decimal: str | None = None,
                    date_format: str | None = None, dayfirst: bool = False, wide: bool = False,
                    aggregate: str | None = None, **_: Any) -> Covariates:
    """The covariate columns `spec` (names, or names -> kind) of the demand file `path` already read as `data`
    (the :func:`load_demand` options of the same file; a wide or aggregated file has no per-row covariates).
    Kinds are checked or inferred (:func:`invcore.forecast_features.covariate_kind`); values are checked
    (:func:`invcore.forecast_features.covariate_values`): errors name the file, column and row."""
    from invcore.forecast_features import covariate_kind, covariate_values

    path = Path(path)
    kinds = dict(spec) if isinstance(spec, Mapping) else dict.fromkeys(spec)
    if not kinds:
        raise DataError(f"{path}: covariates is empty; expected column names such as [price, snap, event]")
    if wide or aggregate is not None:
        raise DataError(f"{path}: covariates need one row per (date, SKU); a {'wide' if wide else 'summed'} demand "
                        "file has none: leave out data: covariates")
    date_column, sku_column, demand_column = _demand_columns(str(path), columns, "date", "sku", "demand", False)
    clash = [c for c in kinds if c in (date_column, sku_column, demand_column)]
    if clash:
        raise DataError(f"{path}: covariate {clash[0]!r} is the {('date', 'sku', 'demand')[(date_column, sku_column, demand_column).index(clash[0])]} "
                        "column; expected other columns of the demand file")
    names = [date_column, sku_column, *kinds]
    df, where = _read_table(path, names, text_columns=(sku_column, date_column), what="demand file",
                            columns=names, sep=sep, decimal=decimal)
    codes, skus, _ = _sku_codes(df.pop(sku_column), where, sku_column)
    date_codes, cat_days = _date_codes(df.pop(date_column), where, date_column, date_format, dayfirst, False)
    grid = data.dates.astype(np.int64)
    sku_row = pd.Index(data.skus).get_indexer(skus)
    t = np.searchsorted(grid, cat_days)[date_codes]
    if (sku_row < 0).any() or (t >= grid.size).any() or (grid[np.minimum(t, grid.size - 1)] != cat_days[date_codes]).any():
        raise DataError(f"{path}: the covariate rows do not match the demand rows read before (was the file changed?)")
    cell = sku_row[codes].astype(np.int64) * grid.size + t
    n, T = data.n_skus, data.n_periods
    values = np.full((len(kinds), n * T), np.nan)
    out_kinds = []
    for j, c in enumerate(kinds):
        col = df.pop(c)
        kind = covariate_kind(col, kinds[c], where, c)
        out_kinds.append(kind)
        values[j, cell] = covariate_values(col, kind, where, c)
    return Covariates(tuple(kinds), tuple(out_kinds), values.reshape(len(kinds), n, T),
                      tuple(kinds[c] is None for c in kinds))


# ------------------------------------------------------------------------------------------------ item table


@dataclass(frozen=True, eq=False)
class ItemTable:
    """Per-SKU parameters aligned with :attr:`DemandData.skus`."""

    path: str
    values: dict[str, np.ndarray]
    """Parameter name -> [n] float64 (NaN where the table gives no value); only parameters the table has."""
    ignored: int = 0
    """Item rows skipped because their SKU is not in the demand data (``ignore_unknown_skus``)."""

    def given(self, name: str) -> int:
        """Number of SKUs with a value of parameter `name`."""
        v = self.values.get(name)
        return 0 if v is None else int(np.count_nonzero(~np.isnan(v)))


@_tables.unquoted_if_linked("path")
def load_items(path: str | Path, skus: Sequence[str] | np.ndarray, *, columns: Mapping[str, str] | None = None,
               ignore_unknown_skus: bool = False, scale: Mapping[str, float] | None = None,
               ignore_columns: Sequence[str] | None = None, sep: str | None = None,
               decimal: str | None = None) -> ItemTable:
    """Read and validate an item table for the demand SKUs `skus` (see the module docstring). A column that is
    neither ``sku``, a parameter nor mapped to one (`columns`) is an error unless named in `ignore_columns`;
    `sep` / `decimal` as for :func:`load_demand` (detected by default)."""
    path = Path(path)
    source = str(path)
    columns = dict(columns or {})
    scale = dict(scale or {})
    for what, mapping in (("columns", columns), ("scale", scale)):
        unknown = [k for k in mapping if k not in ITEM_PARAMS]
        if unknown:
            raise DataError(f"{source}: unknown item parameter {unknown[0]!r} in the {what} mapping; expected one "
                            f"of {', '.join(ITEM_PARAMS)}")
    for name, col in columns.items():
        if not isinstance(col, str) or not col:
            raise DataError(f"{source}: the columns mapping gives {col!r} for {name!r}; expected a column name")

    df, where = _read_table(path, ("sku",), text_columns=("sku",), what="item table", sep=sep, decimal=decimal)
    found = [str(c) for c in df.columns]
    mapped: dict[str, str] = {}
    for name in ITEM_PARAMS:
        if name in columns:
            if columns[name] not in df.columns:
                raise DataError(f"{source}: missing column {excerpt(columns[name])} (mapped to {name}); found "
                                f"columns {_list(found)}")
            mapped[name] = columns[name]
        elif name in df.columns:
            mapped[name] = name
    if not mapped:
        raise DataError(f"{source}: no item parameter column; expected any of {', '.join(ITEM_PARAMS)} (or a "
                        f"columns mapping), found columns {_list(found)}")
    ignore = list(ignore_columns or ())
    absent = [c for c in ignore if c not in df.columns]
    if absent:
        raise DataError(f"{source}: {excerpt(absent[0])} is named among the item columns to ignore but the item "
                        f"table has no such column; found columns {_list(found)}")
    unknown_cols = [c for c in found if c != "sku" and c not in mapped.values() and c not in ignore]
    if unknown_cols:
        hint = ",".join(unknown_cols[:4])
        raise DataError(f"{source}: unknown item column(s) {_list(unknown_cols[:8])}"
                        f"{' and more' if len(unknown_cols) > 8 else ''}; expected sku and item parameters "
                        f"({', '.join(ITEM_PARAMS)}): map a column to a parameter (item_columns, CLI "
                        f"--items-columns PARAM={excerpt(unknown_cols[0])[1:-1]}) or ignore it by name "
                        f"(items_ignore, CLI --items-ignore {excerpt(hint)[1:-1]})")
    for name in scale:
        if name not in mapped:
            raise DataError(f"{source}: a scale is given for {name!r} but the item table has no {name} column")

    item_sku = sku_column(df, where, unique=True)
    demand_skus = pd.Index(np.asarray(skus, dtype=object).astype(str))
    pos = demand_skus.get_indexer(item_sku)
    unknown = np.flatnonzero(pos < 0)
    if unknown.size and not ignore_unknown_skus:
        i = int(unknown[0])
        raise DataError(f"{where.at('sku', i)}: unknown SKU {excerpt(item_sku[i])} (not in the demand data); "
                        f"{unknown.size} of {len(item_sku)} item rows have SKUs not in the demand data. Remove "
                        f"them, or set data.ignore_unknown_items: true in the scenario (CLI: --ignore-unknown-items)")
    known = pos >= 0

    values: dict[str, np.ndarray] = {}
    for name, col in mapped.items():
        v = _numbers(df[col], where, col, context=lambda i: f"SKU {excerpt(item_sku[i])}", what=name)
        checks: list[tuple[np.ndarray, str]] = [(v < 0, "a number >= 0")]
        if name in _INTEGER_PARAMS:
            checks = [(v < 0, "a non-negative integer"), (v != np.floor(v), "a non-negative integer")]
        elif name in _POSITIVE_INTEGER_PARAMS:
            checks = [(v < 1, "a positive integer"), (v != np.floor(v), "a positive integer")]
        for bad, expected in checks:
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(f"{where.at(col, i)}: {name} of SKU {excerpt(item_sku[i])} is {_num(v[i])}; expected "
                                f"{expected}")
        if name in scale:
            factor = scale[name]
            if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not (
                    math.isfinite(factor) and factor > 0):
                raise DataError(f"{source}: scale for {name} is {factor!r}; expected a finite number > 0")
            v = v * float(factor)
            if name in _INTEGER_PARAMS + _POSITIVE_INTEGER_PARAMS:
                off = np.flatnonzero(np.abs(v - np.round(v)) > 1e-9)
                if off.size:
                    i = int(off[0])
                    raise DataError(f"{where.at(col, i)}: {name} of SKU {excerpt(item_sku[i])} scaled by {factor} is "
                                    f"{_num(v[i])}; expected an integer")
                v = np.round(v)
        if name == "lead_time":
            from .scenario import MAX_LEAD_TIME  # the one bound (the pipeline is kept period by period)

            over = np.flatnonzero(v > MAX_LEAD_TIME)
            if over.size:
                i = int(over[0])
                raise DataError(f"{where.at(col, i)}: lead_time of SKU {excerpt(item_sku[i])} is {_num(v[i])}; "
                                f"expected an integer in 0..{MAX_LEAD_TIME} (the pipeline is kept period by period)")
        out = np.full(len(demand_skus), np.nan)
        out[pos[known]] = v[known]
        values[name] = out
    return ItemTable(path=source, values=values, ignored=int(unknown.size))


# ---------------------------------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class Windows:
    """Train / val / test windows: half-open ranges [start, stop) of global grid indices."""

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    @property
    def fit(self) -> tuple[int, int]:
        """Train and val together: everything before the test window (classical rules scored on the test
        window are fitted on it)."""
        return self.train[0], self.val[1]

    def window(self, name: str) -> tuple[int, int]:
        if name not in _WINDOW_NAMES and name != "fit":
            raise ValueError(f"unknown window {name!r}; expected one of {', '.join(_WINDOW_NAMES)} or fit")
        return getattr(self, name)

    def sku_range(self, data: DemandData, name: str, i: int) -> tuple[int, int]:
        """Intersection of window `name` with SKU i's range [first, last + 1); ``(s, s)`` (s = the window start)
        if they do not overlap."""
        s, e = self.window(name)
        lo, hi = max(s, int(data.first[i])), min(e, int(data.last[i]) + 1)
        return (lo, hi) if lo < hi else (s, s)

    def sku_ranges(self, data: DemandData, name: str) -> np.ndarray:
        """:meth:`sku_range` of every SKU at once: [n, 2] int64."""
        s, e = self.window(name)
        lo = np.maximum(s, data.first)
        hi = np.minimum(e, data.last + 1)
        empty = lo >= hi
        lo[empty] = s
        hi[empty] = s
        return np.stack([lo, hi], axis=1).astype(np.int64)


def split_windows(data: DemandData, *, train: Any = None, val: Any = None, test: Any = None) -> Windows:
    """Cut the grid of `data` into train | val | test windows (see *Splits* in the module docstring)."""
    T = data.n_periods
    grid = data.dates.astype(np.int64)
    specs = {"train": train, "val": val, "test": test}
    shares: dict[str, float | None] = {}
    starts: dict[str, int | None] = {}
    for name, spec in specs.items():
        kind, value = _window_spec(data, name, spec)
        shares[name] = value if kind == "share" else None
        starts[name] = _date_index(data, grid, name, value) if kind == "date" else None

    def length(f: float) -> int:
        return int(math.floor(f * T + 0.5))

    if all(v is None for v in starts.values()):
        tr, va, te = shares["train"], shares["val"], shares["test"]
        given = {k: v for k, v in shares.items() if v is not None}
        if not given:
            tr, va, te = _DEFAULT_SPLIT
        if len(given) == 3 and abs(tr + va + te - 1) > 1e-9:
            raise DataError(f"{data.path}: the shares train {tr:g} + val {va:g} + test {te:g} add up to "
                            f"{tr + va + te:g}; three shares must add up to 1 (or leave one out)")
        if tr is None and te is None:
            te = _DEFAULT_SPLIT[2]
        if va is None:
            if tr is None:  # the default validation window: the last quarter before the test window
                va = (1.0 - te) * _DEFAULT_VAL_SHARE
            else:
                va = 1.0 - tr - te if te is not None else 0.0
        if tr is None:
            tr = 1.0 - va - te
        if te is None:
            te = 1.0 - tr - va
        if tr <= 0 or te <= 0 or va < -1e-12:
            raise DataError(f"{data.path}: the shares do not fit: {_share_text(specs)} leave train {tr:.3g}, val "
                            f"{va:.3g}, test {te:.3g} of the grid; expected train > 0, val >= 0, test > 0 adding "
                            f"up to 1")
        b0, b1, b2 = 0, length(tr), length(tr + va)
    else:
        b0 = starts["train"] if starts["train"] is not None else 0
        b1, b2 = starts["val"], starts["test"]
        tr, va, te = shares["train"], shares["val"], shares["test"]
        for _ in range(2):
            if b1 is None and tr is not None:
                b1 = b0 + length(tr)
            if b2 is None and te is not None:
                b2 = T - length(te)
            if b1 is None and b2 is not None and va is not None:
                b1 = b2 - length(va)
            if b2 is None and b1 is not None and va is not None:
                b2 = b1 + length(va)
        if b2 is None:
            b2 = b1 if (b1 is not None and specs["val"] is None) else T - length(_DEFAULT_SPLIT[2])
        if b1 is None:
            if va is not None:
                b1 = b2 - length(va)
            elif tr is None:  # the default validation window: the last quarter before the test window
                b1 = b2 - int(math.floor(_DEFAULT_VAL_SHARE * (b2 - b0) + 0.5))
            else:
                b1 = b2
        for name, f, (s, e) in (("train", tr, (b0, b1)), ("val", va, (b1, b2)), ("test", te, (b2, T))):
            if f is not None and e - s != length(f):
                raise DataError(f"{data.path}: the windows do not fit: with {_share_text(specs)} the {name} window "
                                f"would be {e - s} periods, not its share {f:g} of {T}; give the {name} window "
                                f"either by share or through the neighbouring start dates, not both")
        order = [("train", b0), ("val", b1), ("test", b2)]
        for (n1, x1), (n2, x2) in pairwise(order):
            if x2 < x1:
                raise DataError(f"{data.path}: the {n2} window would start ({_grid_day(data, x2)}) before the "
                                f"{n1} window ({_grid_day(data, x1)}) with {_share_text(specs)}; expected train, "
                                f"val and test in this order")
        if b0 < 0 or b2 > T:
            raise DataError(f"{data.path}: the windows do not fit on the grid of {T} periods with "
                            f"{_share_text(specs)}")
    windows = Windows(train=(b0, b1), val=(b1, b2), test=(b2, T))

    val_requested = val is not None and not (shares["val"] is not None and shares["val"] == 0)
    for name in ("train", "val", "test"):
        if name == "val" and not val_requested:
            continue
        s, e = windows.window(name)
        if e <= s:
            raise DataError(f"{data.path}: the {name} window is empty (0 periods) with {_share_text(specs)} on a "
                            f"grid of {T} periods; expected at least one period with demand data")
        if not np.any((data.first < e) & (data.last >= s)):
            raise DataError(f"{name} window {_grid_day(data, s)}..{_grid_day(data, e - 1)} of {data.path} holds no "
                            f"demand data (no SKU has rows in it)")
    return windows


def _window_spec(data: DemandData, name: str, spec: Any) -> tuple[str, Any]:
    """('none', None) | ('share', float) | ('date', np.datetime64)."""
    if spec is None:
        return "none", None
    if isinstance(spec, bool):
        raise DataError(f"{data.path}: {name} window {spec!r}: expected a share in (0, 1) or a start date YYYY-MM-DD")
    if isinstance(spec, str):
        text = spec.strip()
        try:
            spec = float(text)
        except ValueError:
            try:
                ts = pd.to_datetime(text, format="ISO8601")
            except (ValueError, TypeError):
                raise DataError(f"{data.path}: {name} window start {spec!r} cannot be parsed; expected a share in "
                                f"(0, 1) or a date YYYY-MM-DD") from None
            return "date", np.datetime64(ts.date(), "D")
    if isinstance(spec, (_dt.date, np.datetime64, pd.Timestamp)):
        day = pd.Timestamp(spec)
        if pd.isna(day):
            raise DataError(f"{data.path}: {name} window start is not a date ({spec!r})")
        return "date", np.datetime64(day.date(), "D")
    if isinstance(spec, (int, float, np.integer, np.floating)):
        f = float(spec)
        if name == "val" and f == 0:
            return "share", 0.0
        if not (0 < f < 1):
            lo = "[0, 1)" if name == "val" else "(0, 1)"
            raise DataError(f"{data.path}: {name} share {spec!r} is outside {lo}; expected a share of the grid "
                            f"in {lo} or a start date YYYY-MM-DD")
        return "share", f
    raise DataError(f"{data.path}: {name} window {spec!r}: expected a share in (0, 1) or a start date YYYY-MM-DD")


def _date_index(data: DemandData, grid: np.ndarray, name: str, day: np.datetime64) -> int:
    d = int(day.astype(np.int64))
    if d < grid[0] or d > grid[-1]:
        raise DataError(f"{data.path}: {name} window start {day} is outside the data's range "
                        f"{_grid_day(data, 0)}..{_grid_day(data, data.n_periods - 1)}")
    return int(np.searchsorted(grid, d))


def _share_text(specs: Mapping[str, Any]) -> str:
    given = [f"{k}={v!s}" for k, v in specs.items() if v is not None]
    return ", ".join(given) if given else "the default split"


def _grid_day(data: DemandData, i: int) -> str:
    return str(data.dates[min(max(i, 0), data.n_periods - 1)])


# --------------------------------------------------------------------------------------------------- summary


def sbc_classes(data: DemandData) -> np.ndarray:
    """Syntetos-Boylan-Croston class of every SKU over its own range: an index into ``_SBC_CLASSES`` (smooth,
    erratic, intermittent, lumpy, <2 nonzero). ADI = periods / nonzero periods, CV^2 of the nonzero sizes
    (population variance); ADI >= 1.32 is intermittent/lumpy, CV^2 >= 0.49 erratic/lumpy."""
    d = np.nan_to_num(data.demand, nan=0.0)
    nz = d > 0
    k = nz.sum(axis=1)
    periods = (data.last - data.first + 1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        adi = periods / k
        mean = d.sum(axis=1) / k
        var = (d * d).sum(axis=1) / k - mean * mean
        cv2 = np.maximum(var, 0.0) / (mean * mean)
    cls = (adi >= _ADI_CUT).astype(np.int64) * 2 + (cv2 >= _CV2_CUT).astype(np.int64)
    return np.where(k < 2, 4, cls)


def periods_per_year(freq: str) -> float:
    """Average periods per calendar year of a grid frequency (``DemandData.freq``): its periods over 400
    Gregorian years (``D`` 365.2425, ``B`` 260.89, ``W-MON`` 52.18, ``MS`` 12, ``QS-JAN`` 4), for annual
    figures such as inventory turns per year."""
    return len(pd.date_range("1800-01-01", "2199-12-31", freq=freq)) / 400.0


def summarize(data: DemandData, items: ItemTable | None = None, windows: Windows | None = None) -> dict[str, Any]:
    """Key figures of a data set: size, dates, frequency, zero share, mean, filled periods, SBC class counts,
    per-window SKU counts (with `windows`) and per-parameter SKU counts (with `items`)."""
    counts = np.bincount(sbc_classes(data), minlength=len(_SBC_CLASSES))
    out: dict[str, Any] = {
        "path": data.path,
        "skus": data.n_skus,
        "periods": data.n_periods,
        "first_date": str(data.dates[0]),
        "last_date": str(data.dates[-1]),
        "freq": data.freq,
        "sku_periods": data.n_observations,
        "zero_share": data.zero_share,
        "mean_demand": data.mean_demand,
        "filled": data.filled,
        "notes": list(data.notes),
        "classes": {name: int(c) for name, c in zip(_SBC_CLASSES, counts, strict=True)},
    }
    if windows is not None:
        win: dict[str, Any] = {}
        for name in _WINDOW_NAMES:
            s, e = windows.window(name)
            r = windows.sku_ranges(data, name)
            win[name] = {
                "start": _grid_day(data, s) if e > s else None,
                "end": _grid_day(data, e - 1) if e > s else None,
                "periods": e - s,
                "skus": int(np.count_nonzero(r[:, 1] > r[:, 0])),
                "sku_periods": int(np.sum(r[:, 1] - r[:, 0])),
            }
        out["windows"] = win
    if items is not None:
        out["items"] = {"path": items.path, "ignored": items.ignored,
                        "params": {name: items.given(name) for name in ITEM_PARAMS if name in items.values}}
    return out


def format_summary(summary: Mapping[str, Any]) -> str:
    """The dict of :func:`summarize` as a readable text table."""
    s = summary
    rows = [
        ("file", s["path"]),
        ("SKUs", f"{s['skus']}"),
        ("periods", f"{s['periods']} ({s['freq']}), {s['first_date']} .. {s['last_date']}"),
        ("SKU-periods", f"{s['sku_periods']}" + (f" ({s['filled']} missing, filled with 0)" if s["filled"] else "")),
        ("zero share", f"{100 * s['zero_share']:.1f}%"),
        ("mean demand", f"{s['mean_demand']:.4g} per SKU-period"),
        ("SBC classes", ", ".join(f"{k}: {v}" for k, v in s["classes"].items())),
    ]
    lines = [f"{k:<13}{v}" for k, v in rows]
    for i, note in enumerate(s.get("notes", ())):
        lines.append(f"{'read' if i == 0 else '':<13}{note}")
    if "windows" in s:
        lines += ["", f"{'window':<8}{'start':<12}{'end':<12}{'periods':>8}{'SKUs':>7}{'SKU-periods':>13}"]
        for name, w in s["windows"].items():
            lines.append(f"{name:<8}{w['start'] or '-':<12}{w['end'] or '-':<12}{w['periods']:>8}{w['skus']:>7}"
                         f"{w['sku_periods']:>13}")
    if "items" in s:
        it = s["items"]
        lines += ["", f"items        {it['path']}" + (f" ({it['ignored']} rows with unknown SKUs ignored)"
                                                        if it["ignored"] else "")]
        lines.append(f"{'parameter':<15}{'SKUs with a value':>18}")
        for name, n in it["params"].items():
            lines.append(f"{name:<15}{n:>18}")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------------- reading


class _Where(Where):
    """:class:`invcore.tables.Where` (names rows: 'line N' of a CSV file, header = line 1, or 'row N') whose
    problems raise :class:`DataError`."""

    def __init__(self, source: str, lines: Any, notes: Sequence[str] = ()):
        super().__init__(source, lines, error=DataError, notes=notes)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return ""


def _read_table(path: Path, required: Sequence[str], *, text_columns: Sequence[str], what: str,
                columns: Sequence[str] | None = None, sep: str | None = None, decimal: str | None = None,
                expected_rows: str = "one row per SKU") -> tuple[pd.DataFrame, _Where]:
    """:func:`invcore.tables.read_table` (the one reader of user tables) raising :class:`DataError`: the
    `required` columns (only `columns` when given), text columns as categoricals, blank lines dropped, every
    row with the header's number of fields."""
    df, where = _read_any(path, what, required, error=DataError, text_columns=text_columns, columns=columns,
                          sep=sep, decimal=decimal, expected_rows=expected_rows)
    return df, _Where(where.source, where.lines, where.notes)


def _require_columns(df: pd.DataFrame, source: str, required: Sequence[str], what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        label = "column" if len(missing) == 1 else "columns"
        raise DataError(f"{source}: missing required {label} {', '.join(repr(c) for c in missing)} in the {what}; "
                        f"expected columns {', '.join(required)}, found columns {_list([str(c) for c in df.columns])}")


def _list(cols: Sequence[str]) -> str:
    return ", ".join(excerpt(c) for c in cols) if cols else "none"


def _numbers(col: pd.Series, where: Where, column: str, *, context: Callable[[int], str],
             what: str = "demand") -> np.ndarray:
    """A column as finite float64 (errors for text, empty/NaN and infinite values; negatives are checked by the
    caller): :func:`invcore.tables.number_column`."""
    return number_column(col.to_frame(column), column, where, None, what, low=None, context=context)


def _infer_grid(unique_days: np.ndarray, row_of_day: Callable[[int], int], where: _Where, column: str) -> tuple[str, np.ndarray]:
    """Frequency alias and grid (int days since epoch) of sorted unique dates `unique_days`: the candidate grid
    that holds exactly these dates, else the first one that holds them all (periods missing from every SKU
    are then reported, or filled, as missing periods)."""
    if unique_days.size < 2:
        raise DataError(f"{where.source}: all rows have the same date {_day(unique_days[0])}; expected at least "
                        f"two distinct dates to infer the period (frequency) of the data")
    candidates = _freq_candidates(unique_days)
    start = np.datetime64(int(unique_days[0]), "D")
    stop = np.datetime64(int(unique_days[-1]), "D")
    best: tuple[str, np.ndarray] | None = None
    for freq in candidates:
        grid = pd.date_range(start, stop, freq=freq).to_numpy().astype("datetime64[D]").astype(np.int64)
        if grid.size == 0 or grid[0] != unique_days[0] or grid[-1] != unique_days[-1]:
            continue
        if grid.size == unique_days.size and np.array_equal(grid, unique_days):
            best = (freq, grid)  # an exact fit (e.g. business days "B" when no weekend date occurs) wins
            break
        if best is None and np.isin(unique_days, grid).all():
            best = (freq, grid)
    if best is None:
        diffs = np.diff(unique_days)
        step = int(_mode(diffs))
        guess = candidates[0] if candidates else f"{step}D"
        try:
            grid = pd.date_range(start, stop, freq=guess).to_numpy().astype("datetime64[D]").astype(np.int64)
            off = unique_days[~np.isin(unique_days, grid)]
        except ValueError:
            off = unique_days[1:]
        example = ""
        if off.size:
            i = row_of_day(int(off[0]))
            example = (f"; e.g. {_day(off[0])} ({where.row(i)}) is not on the {guess} grid starting "
                       f"{_day(unique_days[0])}")
        raise DataError(f"{where.source}, column {column!r}: the dates are not on a regular grid, the frequency "
                        f"cannot be inferred (most common step {step} days{example}); expected one date per period "
                        f"(daily, weekly on a fixed weekday, first or last day of the month, ...)")
    return best


def _freq_candidates(u: np.ndarray) -> list[str]:
    """Possible pandas aliases for sorted unique days `u` (checked against the grid by the caller)."""
    ts = pd.DatetimeIndex(u.astype("datetime64[D]"))
    step = int(_mode(np.diff(u)))
    out: list[str] = []
    if step >= 28:
        months = ts.year.to_numpy() * 12 + ts.month.to_numpy() - 1
        k = int(_mode(np.diff(months)))
        m0 = int(ts[0].month)
        if k >= 1:
            if (ts.day == 1).all():
                out.append({1: "MS", 3: f"QS-{_MONTHS[(m0 - 1) % 3]}", 12: f"YS-{_MONTHS[m0 - 1]}"}.get(k, f"{k}MS"))
            if ts.is_month_end.all():
                out.append({1: "ME", 3: f"QE-{_MONTHS[(m0 - 1) % 3 + 9]}", 12: f"YE-{_MONTHS[m0 - 1]}"}.get(
                    k, f"{k}ME"))
    if step == 1:
        out.append("D")
        if (ts.day_of_week < 5).all():
            out.append("B")
    elif step % 7 == 0:
        w = step // 7
        day = _WEEKDAYS[int(ts[0].day_of_week)]
        out.append(f"W-{day}" if w == 1 else f"{w}W-{day}")
    elif step < 28:
        out.append(f"{step}D")
    return out


def _mode(x: np.ndarray) -> int:
    values, counts = np.unique(x, return_counts=True)
    return int(values[np.argmax(counts)])


def _day(d: Any) -> str:
    if isinstance(d, (int, np.integer)):
        return str(np.datetime64(int(d), "D"))
    return str(np.datetime64(d, "D"))


def _num(x: float) -> str:
    return f"{x:g}"


# ------------------------------------------------------------------------------------------------------- CLI


def _mapping(text: str, option: str, convert: Callable[[str], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise DataError(f"{option} {text!r}: expected NAME=VALUE pairs separated by commas, got {part!r}")
        try:
            out[name.strip()] = convert(value.strip())
        except ValueError:
            raise DataError(f"{option} {text!r}: cannot read the value {value.strip()!r} of {name.strip()!r}") from None
    return out


def _scale_value(text: str) -> float:
    num, sep, den = text.partition("/")
    return float(num) / float(den) if sep else float(text)


def demand_options(config: Any) -> dict[str, Any]:
    """The :func:`load_demand` keyword arguments of a scenario's ``data:`` section (:class:`DataConfig`)."""
    return {"fill_missing": config.fill_missing, "columns": config.columns, "sep": config.sep,
            "decimal": config.decimal, "date_format": config.date_format, "dayfirst": config.dayfirst,
            "wide": config.wide, "aggregate": config.aggregate}


def item_options(config: Any) -> dict[str, Any]:
    """The :func:`load_items` keyword arguments of a scenario's ``data:`` section (:class:`DataConfig`)."""
    return {"columns": config.item_columns, "ignore_unknown_skus": config.ignore_unknown_items,
            "scale": config.item_scale, "ignore_columns": config.items_ignore}


def _names(text: str, option: str) -> list[str]:
    names = [p.strip() for p in text.split(",") if p.strip()]
    if text.strip() and not names:
        raise DataError(f"{option} {excerpt(text)}: expected column names separated by commas")
    return names


def _separator(text: str | None) -> str | None:
    if text is None:
        return None
    return {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}.get(text.lower(), text)


def scenario_yaml(data: DemandData, windows: Windows, out: Path, options: Mapping[str, Any],
                  items: ItemTable | None = None, item_options_: Mapping[str, Any] | None = None) -> str:
    """A commented scenario YAML for a data set (``python -m envs.data FILE --init OUT.yaml``): the read options
    that were used, the windows, and placeholder costs and lead time to edit (marked EDIT)."""
    import json
    import os

    def q(v: Any) -> str:
        return json.dumps(v)  # JSON scalars are YAML

    rel = os.path.relpath(Path(data.path).resolve(), out.resolve().parent)
    test_start = _grid_day(data, windows.test[0])
    periods = windows.test[1] - windows.test[0]
    lines = [
        f"# Scenario for {data.path}: {data.n_skus} SKUs, {data.n_periods} periods ({data.freq}), "
        f"{data.dates[0]} .. {data.dates[-1]}.",
        "# Written by python -m envs.data --init. The costs and the lead time below are placeholders: EDIT them",
        "# (units: per unit and period of this file's grid). Check: python evaluate.py --scenario THIS_FILE",
        *(f"# read: {n}" for n in data.notes),
        f"name: {q(Path(data.path).name.split('.')[0])}",
        "mode: lost_sales            # EDIT: lost_sales (unmet demand is lost) or backorder",
        "lead_time: 1                # EDIT: periods from order to arrival (an item table may give it per SKU)",
        "holding_cost: 1.0           # EDIT: h, per unit on hand at the end of a period",
        "shortage_cost: 9.0          # EDIT: p per lost unit (b per backordered unit and period)",
        "order_cost: 0.0             # EDIT: K, per order placed",
        "unit_cost: 0.0              # c, per unit ordered",
        f"episode_length: {max(periods, 1)}          # periods per training episode (here: the test window's)",
        "data:",
        f"  path: {q(rel)}",
    ]
    for key, value in options.items():
        default = {"fill_missing": False, "dayfirst": False, "wide": False}.get(key)
        if value is not None and value != default and value != {}:
            lines.append(f"  {key}: {q(value)}")
    if items is not None:
        lines.append(f"  items: {q(os.path.relpath(Path(items.path).resolve(), out.resolve().parent))}")
        for key, value in (item_options_ or {}).items():
            name = {"columns": "item_columns", "scale": "item_scale", "ignore_unknown_skus": "ignore_unknown_items",
                    "ignore_columns": "items_ignore"}[key]
            if value:
                lines.append(f"  {name}: {q(value)}")
    lines += [
        f"  test: {q(test_start)}       # test window start: {periods} periods to the end, seen by no rule or agent",
        "  # train / val: the periods before the test window, 3 : 1 (or give data.train / data.val: shares or dates)",
        "observation: {demand_window: 6}",
        "action: {mode: units, n: 21, step: 0.5, relative: true}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None, prog: str = "python -m envs.data") -> int:
    """``python -m envs.data FILE [...]`` (``invrl data``): load, validate and summarise a demand file (and item
    table)."""
    from invcore.cli import HelpFormatter

    ap = argparse.ArgumentParser(prog=prog, formatter_class=HelpFormatter,
                                 description="Load and validate a demand file (date,sku,demand) and print a summary. "
                                             "Each option has a key of the scenario YAML's data: section (in "
                                             "brackets); evaluate.py / train.py take them as data.KEY=VALUE.")
    ap.add_argument("file", help="demand file: .csv, .csv.gz, .parquet or .pq")
    ap.add_argument("--columns", default="", metavar="FIELD=COLUMN,...",
                    help="the file's names of date, sku, demand, e.g. date=Datum,sku=Artikel,demand=Menge [columns]")
    ap.add_argument("--sep", help="CSV separator, e.g. ';' or tab (default: detected from the header) [sep]")
    ap.add_argument("--decimal", choices=[".", ","],
                    help="decimal mark (default: ',' when the separator is not ',' and numbers like 12,5 occur) "
                         "[decimal]")
    ap.add_argument("--date-format", metavar="FORMAT", help="strftime format of the dates, e.g. %%d.%%m.%%Y "
                                                          "(default YYYY-MM-DD) [date_format]")
    ap.add_argument("--dayfirst", action="store_true", help="day-first dates, e.g. 31/01/2016 [dayfirst]")
    ap.add_argument("--wide", action="store_true",
                    help="wide table: a date column, then one demand column per SKU; empty cells are no rows [wide]")
    ap.add_argument("--aggregate", choices=list(AGGREGATIONS),
                    help="sum several rows of one (date, sku), e.g. order lines (default: a duplicate is an error) "
                         "[aggregate]")
    ap.add_argument("--items", help="item table (sku + per-SKU parameters) [items]")
    ap.add_argument("--items-columns", default="", metavar="PARAM=COLUMN,...",
                    help="item table column names, e.g. lead_time=lead_time_weeks,unit_cost=unit_cost_eur "
                         "[item_columns]")
    ap.add_argument("--items-scale", default="", metavar="PARAM=FACTOR,...",
                    help="factors applied to item parameters, e.g. holding_cost=1/52 [item_scale]")
    ap.add_argument("--items-ignore", default="", metavar="COLUMN,...",
                    help="item table columns to ignore, e.g. Description,Supplier (other unknown columns are an "
                         "error) [items_ignore]")
    ap.add_argument("--ignore-unknown-items", action="store_true",
                    help="skip item rows whose SKU is not in the demand file [ignore_unknown_items]")
    ap.add_argument("--fill-missing", action="store_true",
                    help="fill missing periods inside a SKU's date range with 0 instead of failing [fill_missing]")
    for name in _WINDOW_NAMES:
        ap.add_argument(f"--{name}", metavar="X", help=f"{name} window: a share in (0, 1) or a start date YYYY-MM-DD "
                                                       f"[{name}]")
    ap.add_argument("--init", metavar="OUT.yaml",
                    help="write a commented scenario YAML for this file (its read options, windows and placeholder "
                         "costs to edit); an existing file is not overwritten")
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error (argparse printed the message)
        return int(exc.code) if isinstance(exc.code, int) else 2
    try:
        if args.init and Path(args.init).exists():
            raise DataError(f"--init {args.init}: the file exists; expected a new file name (nothing overwritten)")
        options = {"columns": _mapping(args.columns, "--columns", str), "sep": _separator(args.sep),
                   "decimal": args.decimal, "date_format": args.date_format, "dayfirst": args.dayfirst,
                   "wide": args.wide, "aggregate": args.aggregate, "fill_missing": args.fill_missing}
        data = load_demand(args.file, **options)
        windows = split_windows(data, train=args.train, val=args.val, test=args.test)
        items = None
        item_opts: dict[str, Any] = {}
        if args.items:
            item_opts = {"columns": _mapping(args.items_columns, "--items-columns", str),
                         "ignore_unknown_skus": args.ignore_unknown_items,
                         "scale": _mapping(args.items_scale, "--items-scale", _scale_value),
                         "ignore_columns": _names(args.items_ignore, "--items-ignore")}
            items = load_items(args.items, data.skus, **item_opts)
        elif args.items_columns or args.items_scale or args.ignore_unknown_items or args.items_ignore:
            raise DataError("--items-columns, --items-scale, --items-ignore and --ignore-unknown-items need --items")
        print(format_summary(summarize(data, items, windows)))
        if args.init:
            from invcore.atomic import atomic_write_text

            out = Path(args.init)
            try:
                atomic_write_text(out, scenario_yaml(data, windows, out, options, items, item_opts))
            except OSError as e:
                raise DataError(f"--init {out}: cannot write: {e.strerror or e}") from None
            print(f"\nwrote {out}: edit its costs and lead time (marked EDIT), then python evaluate.py --scenario "
                  f"{out}")
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
