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


# ---- corrupt files are caught on read (issue 14, 4) ----


def table_file(tmp_path):
    path = tmp_path / "0.1.csv"
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "process": ["ve"] * 3,
            "c": [0.1, 0.2, 0.3],
            "fraction": rng.random(3),
            "ci_low": rng.random(3),
        }
    )
    io.save_table(path, table, meta={"c": 0.1})
    return path, table


def test_table_records_rows_columns_and_checksum(tmp_path):
    path, table = table_file(tmp_path)
    record = json.loads((tmp_path / "0.1.csv.meta.json").read_text())["__table__"]
    assert record["rows"] == 3 and record["columns"] == list(table.columns)
    assert len(record["sha256"]) == 64


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda b: b[:-20], "differs from what was written"),  # last row cut: NaN, same count
        (lambda b: b[: b.rindex(b"\n", 0, len(b) - 1) + 1], "2 rows"),  # last row gone
        (lambda b: b.replace(b"ve", b"vp", 1), "differs from what was written"),
        (lambda b: b"", "not a readable CSV"),
    ],
)
def test_damaged_table_is_moved_aside_and_named(tmp_path, damage, reason):
    path, _ = table_file(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(io.CorruptFileError, match=reason) as info:
        io.load_table(path)
    assert str(path) in str(info.value) and "Run snakemake again" in str(info.value)
    assert not path.exists() and (tmp_path / "0.1.csv.corrupt").exists()


def test_table_without_record_is_read_unchecked(tmp_path):
    path = tmp_path / "old.csv"
    pd.DataFrame({"a": [1, 2]}).to_csv(path, index=False)
    assert io.load_table(path)["a"].tolist() == [1, 2]


@pytest.mark.parametrize("cut", [60, 400])
def test_truncated_npz_is_moved_aside_and_named(tmp_path, cut):
    path = tmp_path / "samples.npz"
    io.save_arrays(path, meta={"c": 0.1}, samples=np.zeros((200, 2)), predicted=np.ones(200))
    data = path.read_bytes()
    path.write_bytes(data[:-cut])
    with pytest.raises(io.CorruptFileError, match="not a readable .npz") as info:
        io.load_arrays(path)
    assert str(path) in str(info.value)
    assert not path.exists() and (tmp_path / "samples.npz.corrupt").read_bytes() == data[:-cut]


def test_npz_missing_an_array_is_refused(tmp_path):
    path = tmp_path / "a.npz"
    io.save_arrays(path, x=np.ones(3), y=np.zeros(2))
    arrays, meta = io.load_arrays(path)  # the record itself is not handed back
    assert set(arrays) == {"x", "y"} and "__arrays__" not in meta
    with np.load(path) as data:  # rewrite it without y, keeping the record
        np.savez(path, __meta__=data["__meta__"], x=data["x"])
    with pytest.raises(io.CorruptFileError, match=r"arrays \['y'\] missing"):
        io.load_arrays(path)
