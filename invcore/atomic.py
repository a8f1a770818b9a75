"""Atomic file writes: a temporary file in the target's folder, fsync'd, then renamed over the target.

A reader sees the old file or the complete new one, never a partial write; on any error (or interrupt) the
temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o644
"""Permissions of a written file (a temporary file would otherwise keep mkstemp's 0o600)."""


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", **open_kwargs: Any) -> Iterator[IO]:
    """``with atomic_open(path, "w", newline="") as f: ...``: a file object on a temporary file beside `path`
    (``.NAME.*.tmp``), renamed over `path` when the block completes; `mode` is "w" or "wb" (and
    `open_kwargs`: encoding, newline ... as for :func:`open`). The folder is created if needed."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write_bytes` of `text` encoded as UTF-8."""
    atomic_write_bytes(path, text.encode())


def output_file_error(path: str | Path) -> str | None:
    """Why `path` cannot be written as an output file, in a few words (None when it can): a folder, a parent
    folder that does not exist or is not a folder, or a folder without write permission. Checked at the command
    line, before any work, so that a job fails at once and writes nothing."""
    p = Path(path)
    parent = p.parent
    if p.is_dir():
        return "is a folder; expected a file name"
    if not parent.exists():
        return f"folder {parent} does not exist (create it first)"
    if not parent.is_dir():
        return f"{parent} is not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"folder {parent} is not writable"
    if p.exists() and not os.access(p, os.W_OK):
        return "exists and is read-only"
    return None
