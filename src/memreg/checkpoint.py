"""Training checkpoints: one mechanism for the MLP and the U-Net trainings.

A checkpoint is a ``torch.save`` of a dict of tensors and plain values, read back with
``weights_only=True``. Besides the state a training keeps, it holds ``"fingerprint"``
(the settings of the run that wrote it) and ``"step"``.

- **Fingerprint.** ``fingerprint(settings)`` is the settings as plain JSON values
  (dataclasses as dicts, tuples as lists). A checkpoint is resumed only by a run with
  the same fingerprint; ``differences`` names every key that differs
  (``train.lr: checkpoint has 0.001, this run has 0.002``). ``settings_key`` (12 hex
  digits of its SHA-256) names the file, so that changed settings get a new file.
- **Save.** ``save`` writes a temporary file beside the checkpoint and renames it into
  place (``os.replace``): a crash never leaves a truncated checkpoint behind. The
  checkpoint it replaces is kept as ``<name>.prev``.
- **A corrupt file.** ``load`` tries the checkpoint, then ``<name>.prev``. A file that
  cannot be read is moved to ``<name>.corrupt`` (never overwritten, never deleted: a
  second one becomes ``<name>.corrupt.1``), with a warning, and the next is tried. When
  no readable checkpoint is left but a ``.corrupt`` copy is, ``CheckpointError``: the run
  stops rather than start from scratch; deleting the copies starts it afresh. No
  checkpoint at all is a fresh start.
- **The resume line.** ``load`` logs one line naming the file actually used and its step,
  ``resuming from results/.../checkpoint-0a1b2c3d4e5f.pt.prev at step 1200 (the previous
  checkpoint)``: at INFO for the latest checkpoint, at WARNING for the previous one.
- **Clean-up.** ``remove`` deletes the checkpoint and its ``.prev`` once the job's outputs
  hold everything; ``.corrupt`` copies stay for inspection.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from .io import atomic_path

log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: none readable left, or from other settings."""


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise TypeError(f"{type(obj).__name__} is not a setting: {obj!r}")


def _json(settings: Any) -> str:
    return json.dumps(settings, sort_keys=True, default=_plain)


def fingerprint(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` as plain JSON values: what a checkpoint stores and a resuming run matches."""
    return json.loads(_json(settings))


def settings_key(settings: Any) -> str:
    """12 hex digits of the SHA-256 of ``settings`` (as JSON, keys sorted): a file name part."""
    return hashlib.sha256(_json(settings).encode()).hexdigest()[:12]


def differences(saved: dict[str, Any], expected: dict[str, Any], prefix: str = "") -> list[str]:
    """One line per differing key of two fingerprints (nested keys dotted: ``train.lr``)."""
    out = []
    for key in sorted(set(saved) | set(expected)):
        a, b = saved.get(key), expected.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: checkpoint has {a!r}, this run has {b!r}")
    return out


def _beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def save(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically; the checkpoint it replaces becomes ``.prev``."""
    path = Path(path)
    prev = _beside(path, ".prev")
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
        if path.exists():
            prev.unlink(missing_ok=True)
            try:  # a second name: `path` stays in place until the new file replaces it
                os.link(path, prev)
            except OSError:  # a file system without hard links
                os.replace(path, prev)


def _set_aside(path: Path, err: Exception) -> None:
    aside, k = _beside(path, ".corrupt"), 0
    while aside.exists():
        k += 1
        aside = _beside(path, f".corrupt.{k}")
    os.replace(path, aside)
    log.warning("checkpoint %s is unreadable (%s); moved to %s", path, err, aside)


def load(path: str | Path, expected: dict[str, Any]) -> dict[str, Any] | None:
    """The newest usable checkpoint at ``path`` or ``<path>.prev``; None when there is none.

    ``expected``: this run's ``fingerprint``; a checkpoint with another one raises
    CheckpointError naming the differing settings. Unreadable files are set aside as
    described in the module docstring; the file used is named in one log line."""
    path = Path(path)
    prev = _beside(path, ".prev")
    for candidate in (path, prev):
        if not candidate.exists():
            continue
        try:
            state = torch.load(candidate, map_location="cpu", weights_only=True)
            if not isinstance(state, dict) or not {"fingerprint", "step"} <= state.keys():
                raise ValueError("not a memreg checkpoint")
        except Exception as err:  # noqa: BLE001 - truncated zip, wrong format, ...
            _set_aside(candidate, err)
            continue
        diff = differences(state["fingerprint"], expected)
        if diff:
            raise CheckpointError(
                f"checkpoint {candidate} was written by another configuration: "
                + "; ".join(diff)
                + ". Delete it to start this configuration from scratch."
            )
        note = " (the previous checkpoint)" if candidate == prev else ""
        level = logging.WARNING if note else logging.INFO
        log.log(level, "resuming from %s at step %d%s", candidate, state["step"], note)
        return state
    if any(_beside(p, ".corrupt").exists() for p in (path, prev)):
        raise CheckpointError(
            f"no readable checkpoint left at {path} (corrupt copies kept as *.corrupt); "
            "delete them to start from scratch"
        )
    return None


def remove(path: str | Path) -> None:
    """Delete the checkpoint ``path`` and its ``.prev`` (not its ``.corrupt`` copies)."""
    path = Path(path)
    for leftover in (path, _beside(path, ".prev")):
        leftover.unlink(missing_ok=True)
