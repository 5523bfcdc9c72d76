"""memreg.numerics.flush_subnormals: the mode is on inside and given back after (also after
an exception, and when it was already on), subnormals read as 0 inside, and an Adam step on
a subnormal state costs inside what it costs on a normal one."""

from __future__ import annotations

import time
from contextlib import nullcontext

import pytest
import torch

from memreg import numerics
from memreg.numerics import flush_subnormals, subnormals_flushed

SUBNORMAL = 1e-40  # float32: normal floats begin at 2**-126 = 1.18e-38


def _subnormal() -> torch.Tensor:
    """A float32 subnormal, made with the mode off (a float written with it on reads 0)."""
    assert not subnormals_flushed()
    x = torch.tensor([SUBNORMAL])
    assert 0 < x.item() < torch.finfo(torch.float32).tiny
    return x


@pytest.fixture
def flushing():
    """Skip where the CPU cannot flush subnormals; the mode is off around each test."""
    supported = torch.set_flush_denormal(True)
    torch.set_flush_denormal(False)
    if not supported:
        pytest.skip("this CPU does not support flushing subnormals (set_flush_denormal)")
    yield
    torch.set_flush_denormal(False)


def test_mode_is_on_inside_and_restored_after(flushing):
    assert not subnormals_flushed()
    with flush_subnormals() as on:
        assert on and subnormals_flushed()
        with flush_subnormals():  # nested: the inner exit keeps the outer block's mode
            assert subnormals_flushed()
        assert subnormals_flushed()
    assert not subnormals_flushed()


def test_mode_is_restored_after_an_exception(flushing):
    with pytest.raises(RuntimeError, match="inside"):
        with flush_subnormals():
            raise RuntimeError("inside")
    assert not subnormals_flushed()


def test_mode_that_was_on_stays_on(flushing):
    torch.set_flush_denormal(True)
    with flush_subnormals():
        assert subnormals_flushed()
    assert subnormals_flushed()


def test_subnormals_are_flushed_inside_and_kept_outside(flushing):
    x = _subnormal()
    with flush_subnormals():
        assert (x * 1.0).item() == 0.0
        assert (x + x).item() == 0.0
    assert (x * 1.0).item() == x.item() != 0.0
    assert (x + x).item() == 2 * x.item()


def test_unsupported_cpu_runs_the_block_unchanged(monkeypatch):
    monkeypatch.setattr(torch, "set_flush_denormal", lambda mode: False)
    monkeypatch.setattr(numerics, "subnormals_flushed", lambda: False)
    with flush_subnormals() as on:
        assert on is False


def test_adam_step_on_subnormal_state_costs_what_a_normal_one_does(flushing):
    """The ratio, not a time: one-thread fused Adam (as memreg.mlp.training uses) on 1e6
    parameters whose gradient is exactly zero, the moments subnormal or normal. Measured on
    the development machine (AMD EPYC, best of 7): subnormal unflushed 0.9-1.6 ms, subnormal
    flushed 0.6 ms, normal 0.55-0.67 ms; torch's non-fused Adam there, whose sqrt is slow on
    subnormal and on zero inputs alike, 28 / 7.3 / 4.2 ms."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        sizes = (400_000, 300_000, 300_000)
        gen = torch.Generator().manual_seed(0)
        params = [torch.nn.Parameter(torch.randn(n, generator=gen)) for n in sizes]
        for p in params:
            p.grad = torch.zeros_like(p)  # a unit that has long had no gradient
        opt = torch.optim.Adam(params, lr=1e-3, fused=True)
        opt.step()
        tiny, normal = _subnormal().item(), 1e-3

        def step(moment: float, flush: bool) -> float:
            for p in params:
                state = opt.state[p]
                state["exp_avg"].fill_(moment)  # filled with the mode off: values kept
                state["exp_avg_sq"].fill_(moment)
                state["step"].fill_(100_000)
            with flush_subnormals() if flush else nullcontext():
                start = time.perf_counter()
                opt.step()
                return time.perf_counter() - start

        best = {"unflushed": float("inf"), "flushed": float("inf"), "normal": float("inf")}
        for _ in range(7):  # interleaved, so that a busy moment of the machine hits all three
            best["unflushed"] = min(best["unflushed"], step(tiny, flush=False))
            best["flushed"] = min(best["flushed"], step(tiny, flush=True))
            best["normal"] = min(best["normal"], step(normal, flush=False))
    finally:
        torch.set_num_threads(threads)
    ms = {k: round(v * 1e3, 3) for k, v in best.items()}
    assert best["flushed"] < 2 * best["normal"], ms
