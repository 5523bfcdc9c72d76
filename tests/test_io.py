"""Arrays and tables on disk: round trips, metadata with provenance, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from memreg import io


def test_arrays_round_trip(tmp_path):
    path = tmp_path / "sub" / "samples.npz"
    x = np.random.default_rng(0).standard_normal((5, 2))
    idx = np.arange(7)
    meta = {"process": "ve", "c": 1e-3, "seed": 4, "grid": [1, 2, 3]}
    io.save_arrays(path, meta=meta, samples=x, index=idx)
    arrays, got = io.load_arrays(path)
    assert set(arrays) == {"samples", "index"}
    np.testing.assert_array_equal(arrays["samples"], x)
    np.testing.assert_array_equal(arrays["index"], idx)
    assert arrays["samples"].dtype == np.float64 and arrays["index"].dtype == idx.dtype
    for k, v in meta.items():
        assert got[k] == v
    prov = got["provenance"]
    for pkg in ["python", "memreg", "numpy", "scipy", "torch", "pandas"]:
        assert pkg in prov
    assert prov["numpy"] == np.__version__


def test_arrays_without_meta(tmp_path):
    path = tmp_path / "a.npz"
    io.save_arrays(path, x=np.ones(3))
    arrays, meta = io.load_arrays(path)
    np.testing.assert_array_equal(arrays["x"], np.ones(3))
    assert set(meta) == {"provenance"}


def test_table_round_trip_and_sidecar(tmp_path):
    path = tmp_path / "t.csv"
    table = pd.DataFrame(
        {"c": [1e-1, 1e-3, 1.2345678901234567e-5], "fraction": [0.1, 0.5, 1.0], "name": list("abc")}
    )
    io.save_table(path, table, meta={"delta": 1e-2})
    back = io.load_table(path)
    pd.testing.assert_frame_equal(back, table)
    side = json.loads((tmp_path / "t.csv.meta.json").read_text())
    assert side["delta"] == 1e-2
    assert "provenance" in side and "pandas" in side["provenance"]
    assert path.read_text().splitlines()[0] == "c,fraction,name"  # no index column


def no_temp_files(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


class Unconvertible:
    def __array__(self, *args, **kwargs):
        raise RuntimeError("cannot convert")


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "a.npz"
    io.save_arrays(path, meta={"version": 1}, x=np.arange(3))
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        io.save_arrays(path, meta={"version": 2}, x=np.arange(5), y=Unconvertible())
    assert path.read_bytes() == before
    arrays, meta = io.load_arrays(path)
    assert meta["version"] == 1 and len(arrays["x"]) == 3
    assert no_temp_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]


def test_atomic_path_directly(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    with pytest.raises(ZeroDivisionError):
        with io.atomic_path(path) as tmp:
            assert tmp.parent == tmp_path and tmp != path
            tmp.write_text("half written")
            raise ZeroDivisionError("boom")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]
    with io.atomic_path(path) as tmp:
        tmp.write_text("new")
        assert path.read_text() == "old"  # not visible before the rename
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_table_write_failure_keeps_old_table(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    old = pd.DataFrame({"a": [1, 2]})
    io.save_table(path, old, meta={"v": 1})

    def broken(self, target, *args, **kwargs):
        with open(target, "w") as fh:
            fh.write("a\n9")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError):
        io.save_table(path, pd.DataFrame({"a": [3]}), meta={"v": 2})
    monkeypatch.undo()
    pd.testing.assert_frame_equal(io.load_table(path), old)
    assert json.loads((tmp_path / "t.csv.meta.json").read_text())["v"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.csv.meta.json"]
