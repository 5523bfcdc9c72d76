"""The checkpoint module both trainings use: fingerprint, atomic save with .prev, the
policy for a corrupt file, the resume log line."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
import torch

from memreg import checkpoint
from memreg.checkpoint import CheckpointError


@dataclass(frozen=True)
class Settings:
    lr: float = 1e-3
    snapshots: tuple[int, ...] = (10, 20)


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("cannot be saved")


def fp(**train) -> dict:
    return checkpoint.fingerprint({"model": {"width": 32}, "train": Settings(**train)})


def state(step: int, expected: dict | None = None) -> dict:
    return {"fingerprint": expected or fp(), "step": step, "weights": torch.full((3,), step)}


def read(path) -> dict:
    return torch.load(path, weights_only=True)


def test_fingerprint_is_plain_json_values():
    assert fp() == {"model": {"width": 32}, "train": {"lr": 1e-3, "snapshots": [10, 20]}}
    with pytest.raises(TypeError, match="not a setting"):
        checkpoint.fingerprint({"x": object()})


def test_settings_key_follows_the_values_not_the_key_order():
    a = checkpoint.settings_key([{"a": 1, "b": {"c": 2}}, {"vp": 1}])
    assert a == checkpoint.settings_key([{"b": {"c": 2}, "a": 1}, {"vp": 1}])
    assert a != checkpoint.settings_key([{"a": 1, "b": {"c": 3}}, {"vp": 1}])
    assert len(a) == 12 and int(a, 16) >= 0


def test_differences_name_every_differing_key():
    saved, expected = fp(), fp(lr=2e-3)
    expected["data_sum"] = 4.0
    assert checkpoint.differences(saved, saved) == []
    assert checkpoint.differences(saved, expected) == [
        "data_sum: checkpoint has None, this run has 4.0",
        "train.lr: checkpoint has 0.001, this run has 0.002",
    ]


def test_save_is_atomic_and_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "model.pt"
    for step in (1, 2, 3):
        checkpoint.save(path, state(step))
    assert read(path)["step"] == 3 and read(tmp_path / "model.pt.prev")["step"] == 2
    with pytest.raises(RuntimeError, match="cannot be saved"):  # a save failing half-way
        checkpoint.save(path, {**state(4), "bad": Unpicklable()})
    assert read(path)["step"] == 3 and read(tmp_path / "model.pt.prev")["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt", "model.pt.prev"]


def test_the_resume_line_names_the_latest_checkpoint(tmp_path, caplog):
    path = tmp_path / "model.pt"
    assert checkpoint.load(path, fp()) is None  # nothing saved: a fresh start
    checkpoint.save(path, state(1200))
    with caplog.at_level(logging.INFO, logger="memreg.checkpoint"):
        assert checkpoint.load(path, fp())["step"] == 1200
    assert [r.getMessage() for r in caplog.records] == [f"resuming from {path} at step 1200"]


def test_a_corrupt_checkpoint_is_set_aside_and_the_previous_one_used(tmp_path, caplog):
    path = tmp_path / "model.pt"
    checkpoint.save(path, state(1200))
    checkpoint.save(path, state(1300))
    damaged = path.read_bytes()[:100]
    path.write_bytes(damaged)
    with caplog.at_level(logging.INFO, logger="memreg.checkpoint"):
        resumed = checkpoint.load(path, fp())
    assert resumed["step"] == 1200 and torch.equal(resumed["weights"], torch.full((3,), 1200))
    assert (tmp_path / "model.pt.corrupt").read_bytes() == damaged
    assert not path.exists()
    unreadable, resuming = caplog.records
    assert unreadable.levelno == logging.WARNING and "unreadable" in unreadable.getMessage()
    assert resuming.levelno == logging.WARNING
    assert resuming.getMessage() == (
        f"resuming from {path}.prev at step 1200 (the previous checkpoint)"
    )


def test_a_second_corrupt_file_does_not_overwrite_the_first(tmp_path):
    path = tmp_path / "model.pt"
    for content in (b"first", b"second"):
        checkpoint.save(path, state(1))
        checkpoint.save(path, state(2))
        path.write_bytes(content)
        assert checkpoint.load(path, fp())["step"] == 1
    assert (tmp_path / "model.pt.corrupt").read_bytes() == b"first"
    assert (tmp_path / "model.pt.corrupt.1").read_bytes() == b"second"


def test_no_readable_checkpoint_left_is_an_error_not_a_fresh_start(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"not a checkpoint")
    torch.save({"step": 3}, tmp_path / "model.pt.prev")  # readable, but no fingerprint
    with pytest.raises(CheckpointError, match="no readable checkpoint left"):
        checkpoint.load(path, fp())
    assert {p.name for p in tmp_path.iterdir()} == {"model.pt.corrupt", "model.pt.prev.corrupt"}
    with pytest.raises(CheckpointError, match="no readable checkpoint left"):  # still, on a rerun
        checkpoint.load(path, fp())


def test_a_checkpoint_of_other_settings_is_refused_by_key_and_kept(tmp_path):
    path = tmp_path / "model.pt"
    checkpoint.save(path, state(5))
    with pytest.raises(
        CheckpointError, match=r"train\.lr: checkpoint has 0\.001, this run has 0\.002"
    ):
        checkpoint.load(path, fp(lr=2e-3))
    assert read(path)["step"] == 5


def test_remove_keeps_only_the_corrupt_copies(tmp_path):
    path = tmp_path / "model.pt"
    checkpoint.save(path, state(1))
    checkpoint.save(path, state(2))
    (tmp_path / "model.pt.corrupt").write_bytes(b"x")
    checkpoint.remove(path)
    checkpoint.remove(path)  # nothing left to remove is fine
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt.corrupt"]
