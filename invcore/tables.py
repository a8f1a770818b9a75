"""Reading CSV / CSV.gz / Parquet tables whose errors say where: file, column, line (header = line 1) or SKU.

The one reader of the user's tabular files (demand files, item tables, deploy's state and history files).
CSV files are read with pyarrow's CSV reader into compact columns: text columns (``text_columns``, e.g. the
SKU and date) as categoricals (int32 codes + one copy of each distinct value), numbers as int64 / float64,
so a file of tens of millions of rows never holds one Python string per row. Every row must have as many
fields as the header (a surplus or missing field is an error naming the line). The separator is detected
from the header line unless given (``,``, ``;``, tab or ``|``); with a separator other than ``,`` decimal
commas (``1,5``) are detected from the first lines (or ``decimal=","`` is given).

The only modules of :mod:`invcore` that import pandas and pyarrow; import it where tables are read, not at
start-up of code that does not read them. Every error is raised as ``where.error`` (:class:`TableError`
unless the caller passes its own exception class to :func:`read_table`), with a message that names the place
and says what was expected, quoting at most a short excerpt of a bad value (:func:`excerpt`).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
SEPARATORS = (",", ";", "\t", "|")
"""Separators :func:`read_table` detects (the most frequent one in the header line; ``,`` if none occurs)."""
EXCERPT_CHARS = 60
"""Messages quote at most this many characters of a bad value."""
_SNIFF_BYTES = 1 << 16
_BLOCK_BYTES = 1 << 24
_MAX_BLOCK_BYTES = 1 << 28  # a line longer than this (256 MiB) is an error
_DECIMAL_COMMA = re.compile(r"^\s*[+-]?\d+,\d+\s*$")


class TableError(ValueError):
    """A table that cannot be read or a bad value in it; the message names the file, column, line or SKU."""


_QUOTE: ContextVar[bool] = ContextVar("invcore_tables_quote", default=True)
"""False while :func:`read_table` reads a file through a symbolic link: its errors quote none of its content
(a ``.csv`` link to a system file would otherwise print that file's first line)."""
NOT_SHOWN = "<not shown: the file is a symbolic link>"


def unquoted_if_linked(*params: str) -> Callable:
    """Decorator: while the function runs, :func:`excerpt` quotes nothing (:data:`NOT_SHOWN`) if any of its
    arguments named `params` is a path to a symbolic link. :func:`read_table` alone covers only its own
    errors; the function that validates a table's cells after reading it (a bad number, an unknown or too long
    SKU) raises errors that would quote that file's cells, and a link may point at a system file."""
    import functools
    import inspect

    def wrap(fn: Callable) -> Callable:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            given = sig.bind_partial(*args, **kwargs).arguments
            if not any(_is_link(given.get(p)) for p in params):
                return fn(*args, **kwargs)
            token = _QUOTE.set(False)
            try:
                return fn(*args, **kwargs)
            finally:
                _QUOTE.reset(token)

        return run

    return wrap


def _is_link(path: Any) -> bool:
    if not isinstance(path, (str, Path)):
        return False
    try:
        return Path(path).is_symlink()
    except (OSError, ValueError):
        return False


MAX_SKU_CHARS = 200
"""Longest SKU id accepted (characters, after stripping surrounding whitespace), in demand files, item
tables, state files and histories alike: an id of megabytes is a broken export, and every message and output
that names the SKU would carry it."""


def check_sku_length(ids: Any, codes: np.ndarray | None, where: Where, column: str = "sku") -> None:
    """Error naming the file, column and row of the first SKU id longer than :data:`MAX_SKU_CHARS`. `ids`:
    the distinct (stripped) ids with `codes` the id of each row, or `codes` None: one id per row."""
    lengths = pd.Series(np.asarray(ids, dtype=object)).str.len().fillna(0).to_numpy(dtype=np.int64)
    long = np.flatnonzero(lengths > MAX_SKU_CHARS)
    if not long.size:
        return
    rows = long if codes is None else np.flatnonzero(np.isin(codes, long))
    if not rows.size:  # a distinct id no row uses
        return
    i = int(rows[0])
    value = ids[i] if codes is None else ids[int(codes[i])]
    raise where.error(f"{where.at(column, i)}: SKU id {excerpt(value)} is longer than {MAX_SKU_CHARS} characters; "
                      f"expected an id of at most {MAX_SKU_CHARS} characters")


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)`` of at most about `limit` characters: a long text is cut and its length given (nothing of
    a file read through a symbolic link, :data:`NOT_SHOWN`)."""
    if not _QUOTE.get():
        return NOT_SHOWN
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


class LineNumbers:
    """File line numbers of the rows of a CSV table (header = line 1) without an array per row: row i is line
    ``i + 2`` plus the number of dropped (blank) lines before it."""

    def __init__(self, n: int, dropped: np.ndarray | None = None):
        self.n = int(n)
        self.dropped = np.zeros(0, dtype=np.int64) if dropped is None else np.asarray(dropped, dtype=np.int64)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        i = int(i)
        if not -self.n <= i < self.n:
            raise IndexError(i)
        i %= self.n
        j = i  # row index in the file (before dropping): the smallest j with j - dropped(< j) == i
        while True:
            k = i + int(np.searchsorted(self.dropped, j, side="right"))
            if k == j:
                return j + 2
            j = k

    def __iter__(self) -> Iterator[int]:
        return (self[i] for i in range(self.n))

    def take(self, idx: np.ndarray) -> np.ndarray:
        """Line numbers of rows `idx` (vectorised)."""
        idx = np.asarray(idx, dtype=np.int64)
        if not self.dropped.size:
            return idx + 2
        keep = np.setdiff1d(np.arange(self.n + self.dropped.size), self.dropped)
        return keep[idx] + 2


class Where:
    """Names rows of a table: 'line N' of a CSV file (header = line 1) or 'row N' (0-based position, Parquet);
    `error` is the exception class raised for problems found in the table. `notes` says how a CSV file was
    read when that was detected or asked for (separator, decimal comma)."""

    def __init__(self, source: str, lines: Any, error: type[Exception] = TableError,
                 notes: Sequence[str] = ()):
        self.source = source
        self.lines = lines
        self.error = error
        self.notes = list(notes)

    def row(self, i: int) -> str:
        return f"line {int(self.lines[i])}" if self.lines is not None else f"row {i}"

    def at(self, column: str, i: int) -> str:
        return f"{self.source}, column {excerpt(column)}, {self.row(i)}"


@dataclass(frozen=True)
class Dialect:
    """How a CSV file is split: field separator and decimal mark, and whether each was detected."""

    sep: str = ","
    decimal: str = "."
    sep_detected: bool = False
    decimal_detected: bool = False

    def notes(self) -> list[str]:
        out = []
        if self.sep_detected and self.sep != ",":
            out.append(f"separator {self.sep!r} (detected)")
        elif not self.sep_detected and self.sep != ",":
            out.append(f"separator {self.sep!r}")
        if self.decimal != ".":
            out.append("decimal comma" + (" (detected)" if self.decimal_detected else ""))
        return out


def sniff(path: Path, sep: str | None = None, decimal: str | None = None) -> Dialect:
    """The separator (from the header line: the most frequent of :data:`SEPARATORS` outside quotes, ``,`` if
    none) and decimal mark (``,`` if the separator is not ``,`` and a field of the first lines looks like
    ``12,5``) of a CSV or CSV.gz file, unless given."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as f:
        head = f.read(_SNIFF_BYTES).decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = head.splitlines() or [""]
    sep_detected = sep is None
    if sep is None:
        header = re.sub(r'"[^"]*"', "", lines[0])
        counts = [header.count(s) for s in SEPARATORS]
        sep = SEPARATORS[int(np.argmax(counts))] if max(counts) else ","
    dec_detected = decimal is None
    if decimal is None:
        decimal = "."
        if sep != ",":
            for line in lines[1:200]:
                if any(_DECIMAL_COMMA.match(f.strip('"')) for f in line.split(sep)):
                    decimal = ","
                    break
    return Dialect(sep, decimal, sep_detected, dec_detected)


def read_table(path: str | Path, what: str, required: Sequence[str], *, error: type[Exception] = TableError,
               text_columns: Sequence[str] = ("sku",), columns: Sequence[str] | None = None,
               sep: str | None = None, decimal: str | None = None,
               expected_rows: str = "one row per SKU") -> tuple[pd.DataFrame, Where]:
    """A CSV / CSV.gz / Parquet table (all its columns, or `columns`) that has the `required` columns and a data
    row, with the `text_columns` read as text (categorical of str; stripped by the callers that need it);
    completely blank CSV lines are dropped (lines keep their numbers). A CSV row with more or fewer fields than
    the header is an error naming its line. `sep` / `decimal`: the CSV separator and decimal mark (default:
    detected, see :func:`sniff`). `what` names the table in messages ("state file")."""
    p = Path(path)
    src = str(path)
    name = p.name.lower()
    if not any(name.endswith(s) for s in SUFFIXES):
        raise error(f"{src}: unsupported file type for the {what}; expected {', '.join(SUFFIXES)}")
    if not p.exists():
        raise error(f"{src}: no such file")
    if not p.is_file():
        raise error(f"{src}: not a file")
    if p.stat().st_size == 0:
        raise error(f"{src}: the file is empty (0 bytes); expected a header line with columns "
                    f"{', '.join(required)}")
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1 or sep in "\"\r\n"):
        raise error(f"{src}: separator {excerpt(sep)}; expected one character such as ',' ';' or a tab")
    if decimal is not None and decimal not in (".", ","):
        raise error(f"{src}: decimal mark {excerpt(decimal)}; expected '.' or ','")
    token = _QUOTE.set(not p.is_symlink())
    try:
        return _read_table(p, src, name, what, required, error, text_columns, columns, sep, decimal, expected_rows)
    finally:
        _QUOTE.reset(token)


def _read_table(p: Path, src: str, name: str, what: str, required: Sequence[str], error: type[Exception],
                text_columns: Sequence[str], columns: Sequence[str] | None, sep: str | None, decimal: str | None,
                expected_rows: str) -> tuple[pd.DataFrame, Where]:
    notes: list[str] = []
    try:
        if name.endswith((".parquet", ".pq")):
            df = pd.read_parquet(p)
            if not isinstance(df.index, pd.RangeIndex):
                df = df.reset_index()
            _require(df.columns, src, required, what, error)
            if columns is not None:
                df = df.loc[:, [c for c in df.columns if c in set(columns)]]
            for c in text_columns:
                if c in df.columns:
                    df[c] = as_text(df[c])
            lines = None
        else:
            dialect = sniff(p, sep, decimal)
            notes = dialect.notes()
            df, lines = _read_csv(p, src, what, required, error, text_columns, columns, dialect)
    except (OSError, EOFError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        if isinstance(e, error):
            raise
        raise error(f"{src}: cannot read the {what}: {_short(e) if _QUOTE.get() else type(e).__name__}") from None
    if len(df) == 0:
        raise error(f"{src}: no data rows (only a header); expected {expected_rows}")
    return df, Where(src, lines, error, notes)


def _read_csv(p: Path, src: str, what: str, required: Sequence[str], error: type[Exception],
              text_columns: Sequence[str], columns: Sequence[str] | None,
              dialect: Dialect) -> tuple[pd.DataFrame, LineNumbers]:
    """Stream the CSV file block by block, converting each block at once to compact numpy columns (text
    columns: int32 codes into one table of distinct values), so arrow never holds the whole file."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    bad: list[Any] = []

    def invalid_row(row: Any) -> str:
        if not bad:
            bad.append(row)
        return "error"

    block = _BLOCK_BYTES
    types: dict[str, Any] = {c: pa.dictionary(pa.int32(), pa.string()) for c in text_columns}
    for _attempt in range(64):
        bad.clear()
        try:
            reader = pacsv.open_csv(
                p, read_options=pacsv.ReadOptions(use_threads=False, block_size=block),
                parse_options=pacsv.ParseOptions(delimiter=dialect.sep, ignore_empty_lines=False,
                                                 invalid_row_handler=invalid_row),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, include_columns=None if columns is None else list(columns),
                    decimal_point=dialect.decimal, strings_can_be_null=True))
            header = reader.schema.names
            _check_header(header, src, required, what, error)
            frame = _Frame(header, text_columns)
            for batch in reader:
                frame.add(batch)
                del batch
            del reader
            pa.default_memory_pool().release_unused()
            return frame.result()
        except (pa.ArrowInvalid, pa.ArrowKeyError) as e:
            msg = str(e)
            if bad:
                row = bad[0]
                line = f"line {row.number}" if row.number is not None else "a row"
                names = _header(p, dialect.sep)
                raise error(f"{src}, {line}: {row.actual_columns} field(s) but the header has "
                            f"{row.expected_columns} ({', '.join(excerpt(n, 30) for n in names[:8])}"
                            f"{', ...' if len(names) > 8 else ''}); expected {row.expected_columns} fields "
                            f"separated by {dialect.sep!r} in every row: {excerpt(row.text)}") from None
            if "straddling" in msg and block < _MAX_BLOCK_BYTES:
                block *= 16
                continue
            if "straddling" in msg:
                raise error(f"{src}: a line longer than {_MAX_BLOCK_BYTES >> 20} MiB in the {what}; expected "
                            "one record per line") from None
            conv = re.search(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (\w+)", msg)
            if conv:  # types are inferred from the first block: a later int -> float, or text -> diagnose as text
                names = _header(p, dialect.sep)
                k = int(conv.group(1))
                name = names[k] if k < len(names) else None
                if name is not None and name not in types:
                    types[name] = pa.float64() if conv.group(2).startswith(("int", "uint")) else pa.string()
                    continue
                if name is not None and types[name] == pa.float64():
                    types[name] = pa.string()
                    continue
            if "Empty CSV file" in msg:
                raise error(f"{src}: the file is empty; expected a header line with columns "
                            f"{', '.join(required)}") from None
            if isinstance(e, pa.ArrowKeyError) or "include_columns" in msg:
                _require(_header(p, dialect.sep), src, required, what, error)
            if "UTF8" in msg or "utf8" in msg.lower():
                raise error(f"{src}: cannot read the {what}: it is not UTF-8 text ({_short(e)}); expected a "
                            "UTF-8 encoded CSV file") from None
            raise error(f"{src}: cannot read the {what}: {_short(e) if _QUOTE.get() else type(e).__name__}") from None
    raise error(f"{src}: cannot read the {what}: the column types could not be settled")


def _check_header(header: Sequence[str], src: str, required: Sequence[str], what: str,
                  error: type[Exception]) -> None:
    dup = pd.Index(header)[pd.Index(header).duplicated()]
    if len(dup):
        raise error(f"{src}: column {excerpt(dup[0])} appears twice in the header of the {what}; expected "
                    "distinct column names")
    _require(header, src, required, what, error)


class _Frame:
    """Collects the record batches of a CSV file as compact numpy columns; blank rows are dropped (their
    positions kept for the line numbers)."""

    def __init__(self, header: Sequence[str], text_columns: Sequence[str]):
        self.text = set(text_columns)
        self.parts: dict[str, list[np.ndarray]] = {}
        self.values: dict[str, pd.Index] = {}  # text column -> distinct values so far (codes index into it)
        self.dropped: list[np.ndarray] = []
        self.rows = 0

    def add(self, batch: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pac

        cols: dict[str, np.ndarray] = {}
        blank = np.ones(batch.num_rows, dtype=bool)
        for name, arr in zip(batch.schema.names, batch.columns):
            if pa.types.is_dictionary(arr.type):
                local = pd.Index(arr.dictionary.to_numpy(zero_copy_only=False).astype(object))
                known = self.values.get(name, pd.Index([], dtype=object))
                pos = known.get_indexer(local)
                new = pos < 0
                if new.any():
                    pos[new] = len(known) + np.arange(int(new.sum()))
                    known = known.append(local[new])
                self.values[name] = known
                idx = pac.fill_null(arr.indices, -1).to_numpy(zero_copy_only=False)
                lookup = np.append(pos.astype(np.int32), np.int32(-1))  # index -1 (missing) stays -1
                codes = lookup[idx]
                empty = np.flatnonzero(local.astype(str).str.strip() == "")
                blank &= (codes < 0) | np.isin(idx, empty)
                cols[name] = codes
            else:
                if pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type) or pa.types.is_time(arr.type):
                    arr = arr.cast(pa.string())  # a date-like column outside text_columns stays text
                v = arr.to_numpy(zero_copy_only=False)
                nulls = arr.is_null().to_numpy(zero_copy_only=False)
                if v.dtype == object:
                    blank &= nulls | pd.Series(v, dtype="string").str.strip().eq("").to_numpy(dtype=bool,
                                                                                            na_value=True)
                else:
                    blank &= nulls
                if v.dtype == np.int64 and v.size and -2**31 <= v.min() and v.max() < 2**31:
                    v = v.astype(np.int32)  # integral counts: half the memory (widened again if a block needs it)
                cols[name] = v
        if blank.any():
            self.dropped.append(self.rows + np.flatnonzero(blank))
            cols = {k: v[~blank] for k, v in cols.items()}
        self.rows += batch.num_rows
        for k, v in cols.items():
            self.parts.setdefault(k, []).append(v)

    def result(self) -> tuple[pd.DataFrame, LineNumbers]:
        data: dict[str, Any] = {}
        for name in list(self.parts):
            parts = self.parts.pop(name)
            v = parts[0] if len(parts) == 1 else _concat(parts)
            del parts
            if name in self.values:
                data[name] = pd.Categorical.from_codes(v, categories=self.values[name], validate=False)
            else:
                data[name] = v
        df = pd.DataFrame(data, copy=False)
        dropped = np.concatenate(self.dropped) if self.dropped else None
        return df, LineNumbers(len(df), dropped)


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    kinds = {p.dtype.kind for p in parts}
    if len({p.dtype for p in parts}) > 1 and kinds <= {"i", "u", "f", "b"}:
        dtype = np.result_type(*parts)
    elif len({p.dtype for p in parts}) > 1:
        dtype = object
    else:
        dtype = parts[0].dtype
    out = np.empty(sum(len(p) for p in parts), dtype=dtype)
    s = 0
    while parts:
        p = parts.pop(0)
        out[s:s + len(p)] = p
        s += len(p)
    return out


def _header(p: Path, sep: str) -> list[str]:
    import csv

    opener = gzip.open if p.name.lower().endswith(".gz") else open
    with opener(p, "rt", encoding="utf-8", errors="replace", newline="") as f:
        first = f.readline(_SNIFF_BYTES).lstrip("\ufeff")
    return next(csv.reader([first], delimiter=sep), [])


def _short(err: BaseException, limit: int = 200) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _require(found: Sequence[Any], src: str, required: Sequence[str], what: str, error: type[Exception]) -> None:
    found = [str(c) for c in found]
    missing = [c for c in required if c not in found]
    if missing:
        label = "column" if len(missing) == 1 else "columns"
        shown = ", ".join(excerpt(c) for c in found[:20]) + (", ..." if len(found) > 20 else "")
        raise error(f"{src}: missing required {label} {', '.join(map(repr, missing))} in the {what}; "
                    f"expected columns {', '.join(required)}, found columns {shown or 'none'}")


def as_text(col: pd.Series) -> pd.Series:
    """A column as a categorical of str (missing values stay missing): the compact form of a text column."""
    if isinstance(col.dtype, pd.CategoricalDtype) and all(isinstance(c, str) for c in col.cat.categories):
        return col
    cat = pd.Categorical(col)
    cats = pd.Index(cat.categories).astype(str)
    if cats.has_duplicates:  # e.g. 1 and "1": merge them
        codes, uniq = pd.factorize(cats)
        new = np.where(cat.codes >= 0, codes[np.maximum(cat.codes, 0)], -1)
        return pd.Series(pd.Categorical.from_codes(new, categories=pd.Index(uniq)), index=col.index, name=col.name)
    return pd.Series(pd.Categorical.from_codes(cat.codes, categories=cats), index=col.index, name=col.name)


def sku_column(df: pd.DataFrame, where: Where, unique: bool = True, column: str = "sku") -> np.ndarray:
    """The SKU ids of a table (stripped text, object array); errors for an empty id and, with `unique`, a
    repeated one (naming both lines)."""
    text = df[column].astype("string").str.strip()
    empty = text.isna().to_numpy() | (text == "").to_numpy(dtype=bool, na_value=True)
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise where.error(f"{where.at(column, i)}: empty SKU; expected a non-empty id")
    arr = text.to_numpy(dtype=object)
    check_sku_length(arr, None, where, column)
    if unique:
        dup = pd.Index(arr).duplicated()
        if dup.any():
            j = int(np.flatnonzero(dup)[0])
            first = int(np.flatnonzero(arr == arr[j])[0])
            raise where.error(f"{where.source}: duplicate SKU {excerpt(arr[j])} in column {column!r}: {where.row(first)} "
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
        return f" (SKU {excerpt(skus[i])})" if skus is not None else ""

    if pd.api.types.is_bool_dtype(col.dtype):
        raise where.error(f"{where.at(column, 0)}: {what} is {excerpt(col.iloc[0])}{ctx(0)}; expected a number")
    if pd.api.types.is_numeric_dtype(col.dtype):
        v = col.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        text = np.isnan(v) & ~col.isna().to_numpy()
        if text.any():
            i = int(np.flatnonzero(text)[0])
            raw = col.iloc[i]
            if not (isinstance(raw, str) and raw.strip().lower() in ("nan", "")):
                raise where.error(f"{where.at(column, i)}: {what} {excerpt(raw)} is not a number{ctx(i)}; expected a "
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
