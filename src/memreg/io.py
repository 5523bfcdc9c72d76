"""Arrays and tables on disk, with their metadata, written atomically.

Arrays: ``.npz`` holding the arrays and a ``__meta__`` JSON string.
Tables: ``.csv`` (plain, for readers) with a ``<name>.meta.json`` sidecar.
A write goes to a temporary file in the same folder and is renamed into place,
so a crash never leaves a truncated file behind.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
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


def save_arrays(path: str | os.PathLike, meta: dict[str, Any] | None = None, **arrays: Any) -> None:
    """Save named arrays to ``path`` (.npz) with a JSON metadata record."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, __meta__=np.array(_json(meta or {})), **arrays)


def load_arrays(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, metadata) of a file written by save_arrays."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
        meta = json.loads(str(data["__meta__"])) if "__meta__" in data.files else {}
    return arrays, meta


def save_table(
    path: str | os.PathLike, table: pd.DataFrame, meta: dict[str, Any] | None = None
) -> None:
    """Write ``table`` as CSV and its metadata as ``<path>.meta.json``."""
    # Both are written to temporary files first; a failure in either renames neither.
    with atomic_path(f"{path}.meta.json") as tmp_meta, atomic_path(path) as tmp_csv:
        Path(tmp_meta).write_text(_json(meta or {}))
        table.to_csv(tmp_csv, index=False)


def load_table(path: str | os.PathLike) -> pd.DataFrame:
    return pd.read_csv(path)
