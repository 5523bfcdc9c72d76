"""Arrays and tables on disk, with their metadata, written atomically.

Arrays: ``.npz`` holding the arrays and a ``__meta__`` JSON string.
Tables: ``.csv`` (plain, for readers) with a ``<name>.meta.json`` sidecar.
A write goes to a temporary file in the same folder and is renamed into place,
so a crash never leaves a truncated file behind.

Reads are checked: a table against the row count, columns and SHA-256 recorded in its
sidecar (``"__table__"``), an array file for being a readable zip with the arrays it was
written with (``"__arrays__"`` in its metadata). A file that fails is moved aside to
``<name>.corrupt`` and :class:`CorruptFileError` names it: rerunning Snakemake rebuilds
it (its job's output is missing now). Files written before these records existed are
read unchecked.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def provenance() -> dict[str, str]:
    """Versions of Python and of the packages that shape the numbers."""
    out = {"python": platform.python_version()}
    for pkg in ("memreg", "numpy", "scipy", "torch", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _json(meta: dict[str, Any]) -> str:
    return json.dumps({**meta, "provenance": provenance()}, indent=1, sort_keys=True, default=str)


class CorruptFileError(OSError):
    """An intermediate file that cannot be trusted; it has been moved aside."""


def reject(path: str | os.PathLike, reason: str) -> None:
    """Move the bad file ``path`` to ``<path>.corrupt`` and raise CorruptFileError."""
    path = Path(path).absolute()
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    raise CorruptFileError(
        f"{path} is corrupt ({reason}); moved it to {aside.name}. Run snakemake again: "
        f"it rebuilds {path.name} (the .corrupt copy can be deleted)."
    )


def _sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_arrays(path: str | os.PathLike, meta: dict[str, Any] | None = None, **arrays: Any) -> None:
    """Save named arrays to ``path`` (.npz) with a JSON metadata record."""
    record = {**(meta or {}), "__arrays__": sorted(arrays)}
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, __meta__=np.array(_json(record)), **arrays)


def load_arrays(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, metadata) of a file written by save_arrays. A file that is not a readable
    .npz, or lacks an array it was written with, is moved aside (CorruptFileError)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if k != "__meta__"}
            meta = json.loads(str(data["__meta__"])) if "__meta__" in data.files else {}
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError) as err:
        reject(path, f"not a readable .npz: {type(err).__name__}: {err}")
    missing = sorted(set(meta.pop("__arrays__", [])) - set(arrays))
    if missing:
        reject(path, f"arrays {missing} missing")
    return arrays, meta


def save_table(
    path: str | os.PathLike, table: pd.DataFrame, meta: dict[str, Any] | None = None
) -> None:
    """Write ``table`` as CSV and its metadata as ``<path>.meta.json``."""
    # Both are written to temporary files first; a failure in either renames neither.
    # The sidecar records what a reader checks: rows, columns and the CSV's SHA-256.
    with atomic_path(f"{path}.meta.json") as tmp_meta, atomic_path(path) as tmp_csv:
        table.to_csv(tmp_csv, index=False)
        check = {
            "rows": len(table),
            "columns": [str(c) for c in table.columns],
            "sha256": _sha256(tmp_csv),
        }
        Path(tmp_meta).write_text(_json({**(meta or {}), "__table__": check}))


def load_table(path: str | os.PathLike) -> pd.DataFrame:
    """A table written by save_table, checked against its sidecar's record (SHA-256, rows,
    columns); a mismatch moves the CSV aside (CorruptFileError)."""
    sidecar = Path(f"{path}.meta.json")
    check = json.loads(sidecar.read_text()).get("__table__") if sidecar.is_file() else None
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        reject(path, f"not a readable CSV: {err}")
    if check and (len(table) != check["rows"] or list(table.columns) != check["columns"]):
        reject(
            path,
            f"{len(table)} rows and columns {list(table.columns)}, written with "
            f"{check['rows']} rows and columns {check['columns']}",
        )
    if check and _sha256(path) != check["sha256"]:
        reject(path, f"its content differs from what was written (SHA-256 in {sidecar.name})")
    return table
