"""MLP groups and their training (memreg.mlp.model, memreg.mlp.training): batched = one at a time,
the EMA against the authors' ema-pytorch step by step, one seed per network, exact resume
after a kill, refusal of foreign checkpoints, a corrupt one set aside."""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from memreg import checkpoint
from memreg.checkpoint import CheckpointError
from memreg.closed_form.process import make_process
from memreg.data import authors_points
from memreg.errors import SettingError
from memreg.mlp.model import (
    STUDIES,
    Architecture,
    MLPGroup,
    ModelSpec,
    dsm_loss,
    dsm_loss_and_grads,
    network_seed,
)
from memreg.mlp.training import (
    TrainConfig,
    ema_decay,
    ema_schedule,
    model_generator,
    train,
    update_ema,
)

DATA = authors_points()
VP = make_process("vp")
SMALL = Architecture(width=32)


def test_architecture_counts_parameters_and_refuses_bad_shapes():
    arch = Architecture(dim=2, width=256, n_hidden=3, embedding_dim=8)
    # Linear(10, 256) + 2 x Linear(256, 256) + Linear(256, 2), the paper's MLP
    assert arch.n_params == (10 * 256 + 256) + 2 * (256 * 256 + 256) + (256 * 2 + 2)
    with pytest.raises(SettingError, match="width = 0 is not allowed: an integer >= 1"):
        Architecture(width=0)
    with pytest.raises(SettingError, match="embedding_dim = 7 is not allowed: an even integer"):
        Architecture(embedding_dim=7)
    with pytest.raises(SettingError, match="parameterization = 'odd' is not allowed: one of"):
        ModelSpec(seed=0, parameterization="odd")


def test_group_member_equals_a_network_built_alone():
    specs = [ModelSpec(seed=3), ModelSpec(seed=4, parameterization="singular"), ModelSpec(seed=5)]
    group = MLPGroup(SMALL, specs)
    alone = MLPGroup(SMALL, [specs[1]])
    x, t = torch.randn(3, 7, 2), torch.rand(3, 7)
    out = group(x, t)
    torch.testing.assert_close(out[1:2], alone(x[1:2], t[1:2]), rtol=1e-5, atol=1e-6)
    # the network is the paper's: [x, sin/cos(2 pi W t)] -> ReLU layers -> linear
    w = [p[1] for p in group.weights]
    b = [p[1] for p in group.biases]
    angle = 2 * np.pi * t[1][:, None] * group.freqs[1][None]
    h = torch.cat([x[1], torch.sin(angle), torch.cos(angle)], dim=1)
    for k in range(3):
        h = torch.relu(h @ w[k] + b[k])
    torch.testing.assert_close(out[1], h @ w[3] + b[3], rtol=1e-5, atol=1e-6)


def test_every_network_has_its_own_seed():
    """Seeds from SeedSequence([neural.seed, study, index]): the same settings give the same
    seed; distinct networks (any study, any position, another base seed) distinct seeds,
    hence distinct initializations and distinct training draws."""
    keys = [(base, study, k) for base in (10, 11) for study in STUDIES for k in range(8)]
    seeds = [network_seed(*key) for key in keys]
    assert len(set(seeds)) == len(keys)
    assert seeds == [network_seed(*key) for key in keys]
    first = np.random.SeedSequence([10, STUDIES.index("early_stopping"), 1]).generate_state(1)
    assert network_seed(10, "early_stopping", 1) == int(first[0])
    specs = [ModelSpec(seed=network_seed(10, "tikhonov", k)) for k in range(3)]
    group = MLPGroup(SMALL, specs)
    for a in range(3):
        for b in range(a):
            assert not torch.equal(group.weights[0][a], group.weights[0][b])
            assert not torch.equal(group.freqs[a], group.freqs[b])
    draws = [torch.rand(5, generator=model_generator(spec)) for spec in specs]
    assert all(not torch.equal(draws[a], draws[b]) for a in range(3) for b in range(a))
    with pytest.raises(SettingError, match="study = 'depth' is not allowed: one of"):
        network_seed(10, "depth", 0)


def test_dsm_loss_of_each_parameterization():
    group = MLPGroup(
        SMALL,
        [
            ModelSpec(seed=0),
            ModelSpec(seed=0, parameterization="singular"),
            ModelSpec(seed=0, c=0.5),
        ],
    )
    x0 = torch.as_tensor(DATA, dtype=torch.float32)
    t = torch.full((3, len(DATA)), 0.3)
    eps = torch.randn(3, len(DATA), 2)
    loss = dsm_loss(group, VP, x0, t, eps)
    sigma, alpha = VP.sigma(t[0]), VP.alpha(t[0])
    xt = alpha[:, None] * x0 + sigma[:, None] * eps
    out = group(xt, t)
    expected = [
        ((sigma[:, None] * out[0] + eps[0]) ** 2).mean(),
        ((out[1] + eps[1]) ** 2).mean(),
        ((sigma[:, None] * out[2] + eps[2]) ** 2).mean() + 0.5 * (out[2] ** 2).mean(),
    ]
    torch.testing.assert_close(loss, torch.stack(expected), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("t_low", [1e-5, 0.3])
def test_hand_written_gradients_equal_autograd(t_low):
    specs = [
        ModelSpec(seed=0),
        ModelSpec(seed=1, parameterization="singular"),
        ModelSpec(seed=2, c=0.1),
        ModelSpec(seed=3, parameterization="singular", c=1e-2),
    ]
    group = MLPGroup(SMALL, specs)
    gen = torch.Generator().manual_seed(5)
    x0 = torch.as_tensor(DATA, dtype=torch.float32)
    t = t_low + (1 - t_low) * torch.rand(len(specs), len(DATA), generator=gen)
    eps = torch.randn(len(specs), len(DATA), 2, generator=gen)
    params = list(group.weights) + list(group.biases)
    reference = dsm_loss(group, VP, x0, t, eps)
    reference.sum().backward()
    grads = [torch.full_like(p, float("nan")) for p in params]  # every entry must be written
    loss = dsm_loss_and_grads(group, VP, x0, t, eps, grads)
    torch.testing.assert_close(loss, reference.detach(), rtol=1e-5, atol=1e-6)
    for p, g in zip(params, grads):
        scale = p.grad.abs().max()
        torch.testing.assert_close(g / scale, p.grad / scale, rtol=0, atol=1e-5)


def test_batched_training_equals_one_at_a_time():
    specs = [
        ModelSpec(seed=1, c=0.0),
        ModelSpec(seed=2, c=1e-2),
        ModelSpec(seed=3, parameterization="singular"),
    ]
    cfg = TrainConfig(iterations=60, log_every=20, save_every=20, snapshots=(30, 60))
    together = train(MLPGroup(SMALL, specs), VP, DATA, cfg)
    for m, spec in enumerate(specs):
        alone = train(MLPGroup(SMALL, [spec]), VP, DATA, cfg)
        for p_all, p_one in zip(together.group.parameters(), alone.group.parameters()):
            torch.testing.assert_close(p_all[m : m + 1], p_one, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(together.losses[:, m], alone.losses[:, 0], rtol=1e-4)
        for k in (30, 60):
            for a, b in zip(together.snapshots[k], alone.snapshots[k]):
                torch.testing.assert_close(a[m : m + 1], b, rtol=1e-4, atol=1e-5)


def test_training_reduces_the_loss():
    cfg = TrainConfig(iterations=800, log_every=100, save_every=100)
    result = train(MLPGroup(SMALL, [ModelSpec(seed=0)]), VP, DATA, cfg)
    assert result.losses[-3:].mean() < 0.9 * result.losses[:2].mean()


def test_config_refuses_bad_values():
    with pytest.raises(SettingError, match="lr = -0.001 is not allowed: a number > 0"):
        TrainConfig(iterations=10, lr=-1e-3)
    outside = r"snapshots = \[20\] is not allowed: iterations in 1..iterations = 10"
    with pytest.raises(SettingError, match=outside):
        TrainConfig(iterations=10, snapshots=(5, 20))
    with pytest.raises(SettingError, match="a positive multiple of log_every"):
        TrainConfig(iterations=10, save_every=15, log_every=10)
    with pytest.raises(SettingError, match="ema_update_every = 0 is not allowed: an integer >= 1"):
        TrainConfig(iterations=10, ema_update_every=0)
    with pytest.raises(SettingError, match="ema_power = 0.0 is not allowed: a number > 0"):
        TrainConfig(iterations=10, ema_power=0.0)


# The package computes its decay in float32 (torch arithmetic on its integer step counter),
# ours in float64: 1 - d differs by up to half a float32 ulp of d, 2**-25 ~ 3e-8, per average,
# times |w - ema| (a few units for the N(0, 1) weights below); 19 averages in 300 steps.
FLOAT32_DECAY_ATOL = 19 * 2**-25 * 8


def _package_ema(model: torch.nn.Module):
    """ema-pytorch's EMA as the authors' notebooks build it: EMA(model, beta=0.9999), the
    package's defaults otherwise (imported here: a test extra, not a runtime dependency)."""
    from ema_pytorch import EMA

    return EMA(model, beta=0.9999)


def _package_weights(ema) -> list[torch.Tensor]:
    """The package's averaged weights in our order [weights..., biases...]."""
    model = ema.ema_model
    return [p.detach().clone() for p in list(model.weights) + list(model.biases)]


def test_ema_follows_ema_pytorch_step_by_step():
    """Random weights stand in for the optimizer: after each of 300 steps the package's
    ``update()`` and ours (``update_ema``) see the same weights, and the averages agree;
    our decay is the package's ``get_current_decay()`` with its counter at the step."""
    group = MLPGroup(Architecture(width=8), [ModelSpec(seed=0), ModelSpec(seed=1)])
    params = list(group.weights) + list(group.biases)
    package = _package_ema(group)
    ours = [p.detach().clone() for p in params]
    cfg = TrainConfig(iterations=300)
    gen = torch.Generator().manual_seed(0)
    actions = []
    for step in range(1, cfg.iterations + 1):
        with torch.no_grad():
            for p in params:
                p.copy_(torch.randn(p.shape, generator=gen))
        package.update()
        update_ema(ours, params, step, cfg)
        assert int(package.step) == step
        assert ema_decay(step, cfg) == pytest.approx(package.get_current_decay(), rel=1e-6)
        for a, b in zip(ours, _package_weights(package)):
            torch.testing.assert_close(a, b, rtol=0, atol=FLOAT32_DECAY_ATOL)
        actions.append(ema_schedule(step, cfg))
    # the schedule read off the package's defaults: copies until step 101, then every 10th
    copies = [k for k, a in enumerate(actions, 1) if a == "copy"]
    averages = [k for k, a in enumerate(actions, 1) if a == "average"]
    assert copies == list(range(1, 102, 10))
    assert averages == list(range(111, 301, 10))
    assert ema_decay(111, cfg) == pytest.approx(1 - 11 ** (-2 / 3), rel=1e-12)


def test_ema_decay_reaches_its_cap():
    """d = 1 - (1 + j)^(-2/3) passes 0.9999 at j = 10^6 - 1; beyond, the cap holds."""
    cfg = TrainConfig(iterations=1)
    j_cap = round(1e4**1.5) - 1  # (1 + j)^(-2/3) = 1e-4
    assert ema_decay(cfg.ema_update_after_step + 1 + j_cap // 2, cfg) < cfg.ema_decay
    assert ema_decay(cfg.ema_update_after_step + 1 + 2 * j_cap, cfg) == cfg.ema_decay


def test_training_keeps_the_ema_of_ema_pytorch():
    """train() itself, watched by the package: a global optimizer hook calls the package's
    ``update()`` after every Adam step on the same (online) weights, and our EMA, kept as a
    snapshot at every step, equals the package's average at every step."""
    specs = [ModelSpec(seed=4), ModelSpec(seed=5, parameterization="singular", c=1e-2)]
    group = MLPGroup(Architecture(width=8), specs)
    package, seen = _package_ema(group), {}

    def hook(optimizer, args, kwargs):
        package.update()
        seen[int(package.step)] = _package_weights(package)

    iterations = 300
    cfg = TrainConfig(
        iterations=iterations, log_every=100, save_every=100, snapshots=tuple(range(1, 301))
    )
    handle = register_optimizer_step_post_hook(hook)
    try:
        result = train(group, VP, DATA, cfg)
    finally:
        handle.remove()
    assert sorted(seen) == list(range(1, iterations + 1))
    for step in seen:
        for a, b in zip(result.snapshots[step], seen[step]):
            torch.testing.assert_close(a, b, rtol=0, atol=FLOAT32_DECAY_ATOL)
    for a, b in zip(list(result.group.weights) + list(result.group.biases), seen[iterations]):
        torch.testing.assert_close(a.detach(), b, rtol=0, atol=FLOAT32_DECAY_ATOL)


def _resume_script(state: Path, iterations: int, kill_at: int) -> str:
    """A training that SIGKILLs itself right after optimizer step ``kill_at`` (a global
    optimizer hook), as a crash or a cluster's time limit would."""
    return textwrap.dedent(f"""
        import os, signal
        import torch
        from torch.optim.optimizer import register_optimizer_step_post_hook
        from memreg.data import authors_points
        from memreg.mlp.model import Architecture, MLPGroup, ModelSpec
        from memreg.closed_form.process import make_process
        from memreg.mlp.training import TrainConfig, train
        torch.set_num_threads(1)
        steps = [0]
        def die(optimizer, args, kwargs):
            steps[0] += 1
            if steps[0] == {kill_at}:
                os.kill(os.getpid(), signal.SIGKILL)
        register_optimizer_step_post_hook(die)
        group = MLPGroup(Architecture(width=32), [ModelSpec(seed=7), ModelSpec(seed=8, c=1e-3)])
        cfg = TrainConfig(iterations={iterations}, log_every=10, save_every=50, snapshots=(100,))
        train(group, make_process("vp"), authors_points(), cfg, state_path={str(state)!r})
    """)


def load_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def test_killed_training_resumes_to_identical_weights(tmp_path):
    iterations = 500
    state = tmp_path / "state.pt"
    script = _resume_script(state, iterations, kill_at=175)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert load_state(state)["step"] == 150  # the last checkpoint before the kill
    group = MLPGroup(Architecture(width=32), [ModelSpec(seed=7), ModelSpec(seed=8, c=1e-3)])
    cfg = TrainConfig(iterations=iterations, log_every=10, save_every=50, snapshots=(100,))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the killed process: the same reductions, bit for bit
    try:
        resumed = train(group, VP, DATA, cfg, state_path=state)
        fresh = train(
            MLPGroup(Architecture(width=32), [ModelSpec(seed=7), ModelSpec(seed=8, c=1e-3)]),
            VP,
            DATA,
            cfg,
        )
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(resumed.group.parameters(), fresh.group.parameters()):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(resumed.losses, fresh.losses)
    for a, b in zip(resumed.snapshots[100], fresh.snapshots[100]):
        assert torch.equal(a, b)


def test_foreign_checkpoint_is_refused_and_a_corrupt_one_set_aside(tmp_path, caplog):
    state = tmp_path / "state.pt"
    cfg = TrainConfig(iterations=20, log_every=10, save_every=10)
    whole = train(MLPGroup(SMALL, [ModelSpec(seed=0)]), VP, DATA, cfg, state_path=state)
    assert load_state(tmp_path / "state.pt.prev")["step"] == 10
    with pytest.raises(
        CheckpointError, match=r"architecture\.width: checkpoint has 32, this run has 16"
    ):
        train(
            MLPGroup(Architecture(width=16), [ModelSpec(seed=0)]), VP, DATA, cfg, state_path=state
        )
    good = state.read_bytes()
    state.write_bytes(good[: len(good) // 2])  # a truncated file
    with caplog.at_level(logging.INFO, logger="memreg.checkpoint"):
        resumed = train(MLPGroup(SMALL, [ModelSpec(seed=0)]), VP, DATA, cfg, state_path=state)
    assert f"resuming from {state}.prev at step 10" in caplog.text
    # set aside for inspection, not overwritten; the run went on from the previous state
    assert (tmp_path / "state.pt.corrupt").read_bytes() == good[: len(good) // 2]
    assert load_state(state)["step"] == 20
    for a, b in zip(resumed.group.parameters(), whole.group.parameters()):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(resumed.losses, whole.losses)


def _no_flush(monkeypatch) -> None:
    """Train with the CPU's subnormal mode left as it is (off in the tests)."""
    monkeypatch.setattr("memreg.mlp.training.flush_subnormals", contextlib.nullcontext)


def test_flushing_subnormals_leaves_a_short_training_unchanged(monkeypatch):
    specs = [ModelSpec(seed=0), ModelSpec(seed=1, parameterization="singular", c=1e-2)]
    cfg = TrainConfig(iterations=200, log_every=50, save_every=100, snapshots=(100,))
    flushed = train(MLPGroup(Architecture(width=16), specs), VP, DATA, cfg)
    _no_flush(monkeypatch)
    kept = train(MLPGroup(Architecture(width=16), specs), VP, DATA, cfg)
    for a, b in zip(flushed.group.parameters(), kept.group.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-30)
    for a, b in zip(flushed.snapshots[100], kept.snapshots[100]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-30)
    np.testing.assert_allclose(flushed.losses, kept.losses, rtol=0, atol=1e-30)


def test_flushing_subnormal_adam_moments_moves_weights_only_negligibly(tmp_path, monkeypatch):
    """A state whose Adam moments of a dead unit (no gradient, ever) are subnormal, trained
    10 steps with and without flushing: only that unit's outgoing weights differ, by no more
    than Adam's division by eps can make of a subnormal first moment m, lr * |m| / eps per
    step (|m| < 2**-126; about 1.2e-33 per step here)."""
    arch, specs = Architecture(width=16), [ModelSpec(seed=3), ModelSpec(seed=4, c=1e-2)]
    cfg = TrainConfig(iterations=20, log_every=10, save_every=10)
    train(MLPGroup(arch, specs), VP, DATA, cfg, state_path=tmp_path / "run.pt")
    state = load_state(tmp_path / "run.pt.prev")  # the state at step 10
    assert state["step"] == 10
    dead, n_layers = 5, len(MLPGroup(arch, specs).weights)
    state["group"]["biases.0"][..., dead] = -1e4  # hidden unit `dead` of layer 1 never fires
    state["group"]["weights.1"][:, dead, :] = 0.0  # its outgoing weights: gradient 0
    moments = state["optimizer"]["state"]
    for key in ("exp_avg", "exp_avg_sq"):
        moments[1][key][:, dead, :] = 1e-39  # subnormal (written with the mode off)
        moments[n_layers][key][..., dead] = 1e-39  # its bias
    assert 0 < moments[1]["exp_avg"][0, dead, 0].item() < torch.finfo(torch.float32).tiny
    checkpoint.save(tmp_path / "flushed.pt", state)
    checkpoint.save(tmp_path / "kept.pt", state)
    flushed = train(MLPGroup(arch, specs), VP, DATA, cfg, state_path=tmp_path / "flushed.pt")
    _no_flush(monkeypatch)
    kept = train(MLPGroup(arch, specs), VP, DATA, cfg, state_path=tmp_path / "kept.pt")
    w_flushed = load_state(tmp_path / "flushed.pt")["group"]
    w_kept = load_state(tmp_path / "kept.pt")["group"]
    bound = 10 * cfg.lr * 2.0**-126 / 1e-8 / (1 - 0.9**11)  # 10 steps, Adam's eps, bias corr.
    for name in w_flushed:
        if not name.startswith(("weights.", "biases.")):
            assert torch.equal(w_flushed[name], w_kept[name]), name
            continue
        diff = (w_flushed[name] - w_kept[name]).abs()
        if name == "weights.1":
            assert w_flushed[name][:, dead, :].abs().max() == 0  # flushed: the moments read 0
            assert 0 < diff[:, dead, :].max() <= bound, diff[:, dead, :].max()
            diff[:, dead, :] = 0
        assert diff.max() == 0, name  # everything else: bit for bit
    for a, b in zip(flushed.group.parameters(), kept.group.parameters()):  # the EMA weights
        torch.testing.assert_close(a, b, rtol=0, atol=bound)
