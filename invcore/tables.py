"""Reading CSV / CSV.gz / Parquet tables whose errors say where: file, column, line (header = line 1) or SKU.

The only module of :mod:`invcore` that imports pandas; import it where tables are read, not at start-up of
code that does not read them. Every error is raised as ``where.error`` (:class:`TableError` unless the
caller passes its own exception class to :func:`read_table`), with a message that names the place and
says what was expected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


class TableError(ValueError):
    """A table that cannot be read or a bad value in it; the message names the file, column, line or SKU."""


class Where:
    """Names rows of a table: 'line N' of a CSV file (header = line 1) or 'row N' (0-based position, Parquet);
    `error` is the exception class raised for problems found in the table."""

    def __init__(self, source: str, lines: np.ndarray | None, error: type[Exception] = TableError):
        self.source = source
        self.lines = lines
        self.error = error

    def row(self, i: int) -> str:
        return f"line {int(self.lines[i])}" if self.lines is not None else f"row {i}"

    def at(self, column: str, i: int) -> str:
        return f"{self.source}, column {column!r}, {self.row(i)}"


def read_table(path: str | Path, what: str, required: Sequence[str], *, error: type[Exception] = TableError,
               text_columns: Sequence[str] = ("sku",)) -> tuple[pd.DataFrame, Where]:
    """A CSV / CSV.gz / Parquet table (all its columns) that has the `required` columns and a data row, with
    the `text_columns` read as text; completely blank CSV lines are dropped (lines keep their numbers).
    `what` names the table in messages ("state file")."""
    p = Path(path)
    src = str(path)
    name = p.name.lower()
    if not any(name.endswith(s) for s in SUFFIXES):
        raise error(f"{src}: unsupported file type for the {what}; expected {', '.join(SUFFIXES)}")
    if not p.is_file():
        raise error(f"{src}: no such file")
    if p.stat().st_size == 0:
        raise error(f"{src}: the file is empty (0 bytes); expected a header line with columns "
                    f"{', '.join(required)}")
    lines = None
    try:
        if name.endswith((".parquet", ".pq")):
            df = pd.read_parquet(p)
            for c in text_columns:
                if c in df.columns:
                    df[c] = df[c].astype("string")
        else:
            df = pd.read_csv(p, dtype={c: str for c in text_columns}, skip_blank_lines=False)
            blank = df.isna().all(axis=1).to_numpy()
            lines = np.arange(2, len(df) + 2, dtype=np.int64)
            if blank.any():
                df = df.loc[~blank].reset_index(drop=True)
                lines = lines[~blank]
    except pd.errors.EmptyDataError:
        raise error(f"{src}: the file is empty; expected a header line with columns "
                    f"{', '.join(required)}") from None
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise error(f"{src}: cannot read the {what}: {e}") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        label = "column" if len(missing) == 1 else "columns"
        raise error(f"{src}: missing required {label} {', '.join(map(repr, missing))} in the {what}; "
                    f"expected columns {', '.join(required)}, found {', '.join(map(repr, map(str, df.columns)))}")
    if len(df) == 0:
        raise error(f"{src}: no data rows (only a header); expected one row per SKU")
    return df, Where(src, lines, error)


def sku_column(df: pd.DataFrame, where: Where, unique: bool = True, column: str = "sku") -> np.ndarray:
    """The SKU ids of a table (stripped text, object array); errors for an empty id and, with `unique`, a
    repeated one (naming both lines)."""
    text = df[column].astype("string").str.strip()
    empty = text.isna().to_numpy() | (text == "").to_numpy(dtype=bool, na_value=True)
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise where.error(f"{where.at(column, i)}: empty SKU; expected a non-empty id")
    arr = text.to_numpy(dtype=object)
    if unique:
        dup = pd.Index(arr).duplicated()
        if dup.any():
            j = int(np.flatnonzero(dup)[0])
            first = int(np.flatnonzero(arr == arr[j])[0])
            raise where.error(f"{where.source}: duplicate SKU {arr[j]!r} in column {column!r}: {where.row(first)} "
                              f"and {where.row(j)}; expected one row per SKU")
    return arr


def number_column(df: pd.DataFrame, column: str, where: Where, skus: Any, what: str, *,
                  low: float | None = 0.0, integer: bool = False, allow_inf: bool = False,
                  context: Callable[[int], str] | None = None) -> np.ndarray:
    """A column as float64: errors for text, empty/NaN, infinite (unless `allow_inf`), values below `low`
    and (with `integer`) fractions. `skus[i]` (if not None) names the SKU of row i in messages, or
    `context(i)` the whole parenthesis text; `what` names the value ("on hand")."""
    col = df[column]

    def ctx(i: int) -> str:
        if context is not None:
            return f" ({context(i)})"
        return f" (SKU {skus[i]!r})" if skus is not None else ""

    if pd.api.types.is_bool_dtype(col.dtype):
        raise where.error(f"{where.at(column, 0)}: {what} is {col.iloc[0]!r}{ctx(0)}; expected a number")
    if pd.api.types.is_numeric_dtype(col.dtype):
        v = col.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        text = np.isnan(v) & ~col.isna().to_numpy()
        if text.any():
            i = int(np.flatnonzero(text)[0])
            raw = col.iloc[i]
            if not (isinstance(raw, str) and raw.strip().lower() in ("nan", "")):
                raise where.error(f"{where.at(column, i)}: {what} {raw!r} is not a number{ctx(i)}; expected a "
                                  "number")
    bad = np.isnan(v)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise where.error(f"{where.at(column, i)}: empty or NaN {what}{ctx(i)}; expected a number")
    if not allow_inf and np.isinf(v).any():
        i = int(np.flatnonzero(np.isinf(v))[0])
        raise where.error(f"{where.at(column, i)}: infinite {what}{ctx(i)}; expected a finite number")
    if low is not None and (v < low).any():
        i = int(np.flatnonzero(v < low)[0])
        neg = " (negative stock)" if low == 0 and column in ("on_hand", "backorders") else ""
        raise where.error(f"{where.at(column, i)}: {what} {v[i]:g}{ctx(i)}{neg}; expected a number >= {low:g}")
    if integer:
        frac = np.isfinite(v) & (v != np.round(v))
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise where.error(f"{where.at(column, i)}: {what} {v[i]:g}{ctx(i)}; expected a whole number")
    return v
