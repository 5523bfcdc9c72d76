"""Family K on one device: steps/s per model size (plain and CUDA-graph step), one
evaluation round, packing several trainings on one device, and the paper-scale estimate.

    python benchmarks/bench_unet_device.py [--device cuda] [--channels 4 8 ...] [--steps 200]
        [--warmup 20] [--check-steps 400] [--pack 1 2 4 6] [--pack-plain 1 6]
        [--pack-channels 32]
        [--window 8] [--deadline 330] [--out DIR]

The one prepared script for a GPU check (it also runs on CPU with small settings, which
is how it is tested by hand). Everything comes from the paper settings of
``config.yaml`` (section ``unet``, no preset): the authors' N = 2 squares at 64x64, the
architecture, the training and evaluation settings. Every measurement runs
``memreg.unet.training.train_unet``, the code the workflow runs (bf16 autocast and
cudnn.benchmark on CUDA):

1. per model size: steps/s after ``--warmup`` steps with the plain step and with
   ``cuda_graph=True`` (CUDA only), and one evaluation round as configured (paper: 100
   fixed-noise samples, 40 Heun steps = 79 network evaluations at batch 100);
2. agreement of the two steps: ``--check-steps`` steps of the same run twice with the
   plain step and once with the graph; the loss curves (means over blocks of 100 steps)
   and the final EMA weights compared, plain against plain giving the device's own
   run-to-run spread;
3. packing: 1, 2, 4, 6 trainings of size ``--pack-channels`` as separate processes (as
   Snakemake runs them), all timed over the same ``--window`` seconds after every one
   is warm; and the whole family mixed (the six sizes at once); aggregate steps/s;
4. the estimate of paper-scale family K (6 sizes x 2 data sets, ``train.steps`` steps
   and one evaluation round every ``train.eval_every``) on this device: alone one after
   another, and packed six at a time;
5. until ``--deadline`` seconds after the start, the two smallest sizes on N = 2 at the
   paper's settings, concurrently, until both reach a memorized fraction of 0.9.

Results go to ``--out`` (``results.md``, ``results.json``) as each part finishes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch
import yaml

from memreg.data import scale_squares, square_images
from memreg.unet.edm import to_model_range
from memreg.unet.network import UNetConfig
from memreg.unet.training import EvalConfig, UNetTrainConfig, evaluate, pick_device, train_unet

MEMORIZED = 0.9


class Stop(Exception):
    """Raised from ``on_step`` to end a timed run."""


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def paper_settings(config: Path) -> dict:
    un = yaml.safe_load(config.read_text())["unet"]
    squares = scale_squares(un["datasets"]["n2"], un["resolution"] / un["squares_resolution"])
    return {
        "unet": un,
        "images": square_images(squares, un["resolution"]),
        "train": UNetTrainConfig(**un["train"]),
        "evaluation": EvalConfig(**un["evaluation"]),
    }


def architecture(un: dict, channels: int) -> UNetConfig:
    return UNetConfig(
        resolution=un["resolution"],
        model_channels=channels,
        channel_mult=un["channel_mult"],
        num_blocks=un["num_blocks"],
        attn_resolutions=un["attn_resolutions"],
    )


def time_training(images, arch, steps, warmup, device, cuda_graph):
    """(seconds per step after the warm-up, the trained run) of ``train_unet``."""
    stamps: dict[int, float] = {}

    def on_step(step: int) -> None:
        if step in (warmup, warmup + steps):
            synchronize(device)
            stamps[step] = time.perf_counter()

    tiny_eval = EvalConfig(n_eval=1, n_grid=1, n_steps=2, n_boot=10)  # one, after the window
    total = warmup + steps + 1
    cfg = UNetTrainConfig(images=total, eval_every=total, evaluation=tiny_eval)
    run = train_unet(images, arch, cfg, device=str(device), on_step=on_step, cuda_graph=cuda_graph)
    return (stamps[warmup + steps] - stamps[warmup]) / steps, run


def time_evaluation(images, run, cfg: EvalConfig, device: torch.device) -> float:
    """Seconds of one evaluation round of ``run``'s EMA model."""
    model = run.ema.to(device)
    train = to_model_range(images)[:, None].to(device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    with autocast:  # warm-up at the same batch shape (cudnn.benchmark picks its kernels)
        evaluate(model, train, dataclasses.replace(cfg, n_steps=2, n_boot=10), device)
    synchronize(device)
    start = time.perf_counter()
    with autocast:
        evaluate(model, train, cfg, device)
    synchronize(device)
    return time.perf_counter() - start


def agreement(images, arch, steps, device) -> dict:
    """Loss curves and EMA weights of plain, plain again and graphed runs of ``steps`` steps."""
    cfg = UNetTrainConfig(
        images=steps,
        eval_every=steps,
        log_every=100,
        evaluation=EvalConfig(n_eval=1, n_grid=1, n_steps=2),
    )
    runs = {
        name: train_unet(images, arch, cfg, device=str(device), cuda_graph=graph)
        for name, graph in (("plain", False), ("plain_again", False), ("graph", True))
    }

    def flat(run):
        return torch.cat([p.detach().float().reshape(-1) for p in run.ema.parameters()])

    ref = flat(runs["plain"])
    out = {"loss_steps": runs["plain"].loss_images}
    for name, run in runs.items():
        out[f"loss_{name}"] = run.losses
        out[f"ema_rel_diff_{name}"] = float((flat(run) - ref).norm() / ref.norm())
    return out


def worker(args) -> int:
    """One training process of the packing test: warm up, wait for the others, count the
    steps done in the common window, write them to ``args.worker_out``."""
    s = paper_settings(args.config)
    device = pick_device(args.device)
    torch.set_num_threads(2)
    ready_dir = Path(args.worker_out).parent
    mark = {}

    def on_step(step: int) -> None:
        if step == args.warmup:
            Path(args.worker_out + ".ready").write_text("")
            while len(list(ready_dir.glob("*.ready"))) < args.n_workers:
                time.sleep(0.01)
            synchronize(device)
            mark["start"], mark["step"] = time.perf_counter(), step
        elif "start" in mark and step % 5 == 0:
            if time.perf_counter() - mark["start"] >= args.window:
                synchronize(device)
                mark["end"], mark["steps"] = time.perf_counter(), step - mark["step"]
                raise Stop

    big = 10**7
    cfg = UNetTrainConfig(images=big, eval_every=big, evaluation=EvalConfig(n_eval=1, n_grid=1))
    arch = architecture(s["unet"], args.worker_channels)
    try:
        train_unet(
            s["images"],
            arch,
            cfg,
            device=str(device),
            on_step=on_step,
            cuda_graph=args.worker_graph,
        )
    except Stop:
        pass
    rate = mark["steps"] / (mark["end"] - mark["start"])
    Path(args.worker_out).write_text(json.dumps({"channels": args.worker_channels, "rate": rate}))
    return 0


def pack(args, channels: list[int], graph: bool, tag: str) -> list[dict]:
    """Run one worker per entry of ``channels`` at once; their steps/s in the common window."""
    folder = Path(args.scratch) / tag
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    procs = []
    for k, c in enumerate(channels):
        cmd = [
            sys.executable,
            __file__,
            "--worker-channels",
            str(c),
            "--n-workers",
            str(len(channels)),
            "--worker-out",
            str(folder / f"w{k}.json"),
            "--window",
            str(args.window),
            "--warmup",
            str(args.warmup),
            "--config",
            str(args.config),
        ] + (["--worker-graph"] if graph else [])
        if args.device:
            cmd += ["--device", args.device]
        procs.append(subprocess.Popen(cmd))
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError(f"packing worker failed ({tag})")
    return [json.loads((folder / f"w{k}.json").read_text()) for k in range(len(channels))]


def memorization_race(args, s, channels: list[int], deadline: float) -> dict:
    """The two smallest sizes on N = 2 at paper settings, concurrently, until both reach
    MEMORIZED or the deadline; their evaluations read from their checkpoints."""
    folder = Path(args.scratch) / "race"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    procs = {}
    for c in channels:
        cmd = [
            sys.executable,
            __file__,
            "--race-channels",
            str(c),
            "--worker-out",
            str(folder / f"c{c}.pt"),
            "--config",
            str(args.config),
        ]
        if args.device:
            cmd += ["--device", args.device]
        procs[c] = subprocess.Popen(cmd)
    evaluations: dict[int, list] = {c: [] for c in channels}
    while time.time() < deadline and any(p.poll() is None for p in procs.values()):
        time.sleep(3)
        for c in channels:
            path = folder / f"c{c}.pt"
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
                evaluations[c] = state["evaluations"]
            except Exception:  # not written yet, or being replaced
                continue
        if all(ev and ev[-1]["fraction_memorized"] >= MEMORIZED for ev in evaluations.values()):
            break
    for p in procs.values():
        p.kill()
    out = {}
    for c, ev in evaluations.items():
        first = {
            level: next((e["step"] for e in ev if e["fraction_memorized"] >= level), None)
            for level in (0.5, MEMORIZED)
        }
        out[c] = {"evaluations": ev, "first_step_0.5": first[0.5], "first_step_0.9": first[0.9]}
    return out


def race_worker(args) -> int:
    s = paper_settings(args.config)
    arch = architecture(s["unet"], args.race_channels)
    cfg = dataclasses.replace(s["train"], checkpoint_every=s["train"].eval_every)
    cfg = dataclasses.replace(cfg, evaluation=s["evaluation"])
    torch.set_num_threads(2)
    train_unet(
        s["images"], arch, cfg, checkpoint=args.worker_out, device=args.device, cuda_graph=True
    )
    return 0


def alone_rate(size: dict) -> float:
    """The faster step's steps/s of one training alone."""
    return max(size["plain"], size["graph"] or 0.0)


class Report:
    """The markdown lines and the raw numbers, rewritten under ``out`` after every part."""

    def __init__(self, out: Path | None) -> None:
        self.out, self.lines, self.data = out, [], {}
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)

    def add(self, *lines: str) -> None:
        for line in lines:
            print(line, flush=True)
        self.lines += lines
        self.save()

    def save(self) -> None:
        if self.out is not None:
            (self.out / "results.md").write_text("\n".join(self.lines) + "\n")
            (self.out / "results.json").write_text(json.dumps(self.data, indent=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--channels", type=int, nargs="+", help="default: the config's sizes")
    parser.add_argument("--steps", type=int, default=200, help="timed training steps per size")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps before them")
    parser.add_argument("--heun-steps", type=int, help="default: the config's evaluation")
    parser.add_argument("--check-steps", type=int, default=400, help="0 skips part 2")
    parser.add_argument("--check-channels", type=int, default=16)
    parser.add_argument("--pack", type=int, nargs="*", default=[1, 2, 4, 6])
    parser.add_argument(
        "--pack-plain",
        type=int,
        nargs="*",
        default=[1, 6],
        help="k for the plain step (the CUDA-graph step takes --pack)",
    )
    parser.add_argument("--pack-channels", type=int, default=32)
    parser.add_argument("--window", type=float, default=8.0, help="seconds of the packing window")
    parser.add_argument("--deadline", type=float, default=330.0, help="seconds; ends part 5")
    parser.add_argument("--scratch", default="/tmp/bench_unet_device")
    parser.add_argument("--out", type=Path, default=None, help="folder for results.md/.json")
    # internal: one process of the packing test (part 3) or of part 5
    parser.add_argument("--worker-channels", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-graph", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    parser.add_argument("--n-workers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--race-channels", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_channels is not None:
        return worker(args)
    if args.race_channels is not None:
        return race_worker(args)

    t0 = time.time()
    s = paper_settings(args.config)
    un, paper, evaluation, images = s["unet"], s["train"], s["evaluation"], s["images"]
    if args.heun_steps is not None:
        evaluation = dataclasses.replace(evaluation, n_steps=args.heun_steps)
    rounds = len(paper.eval_images())
    device = pick_device(args.device)
    graph_ok = device.type == "cuda"
    rep = Report(args.out)
    rep.data["device"] = device_name(device)
    rep.add(
        f"Device: {device_name(device)}; torch {torch.__version__}; {un['resolution']}x"
        f"{un['resolution']}, batch {paper.batch_size}, N = {len(images)}; {args.steps} timed "
        f"steps after {args.warmup}; evaluation: {evaluation.n_eval} samples, "
        f"{evaluation.n_steps} Heun steps; {time.strftime('%Y-%m-%d')}.",
        "",
        "| model_channels (parameters) | steps/s plain | steps/s CUDA graph | graph / plain | "
        f"s / evaluation round | paper preset, one model ({paper.steps:,} steps + {rounds} "
        "rounds), best step |",
        "|---|---|---|---|---|---|",
    )
    sizes = {}
    for channels in args.channels or un["model_channels"]:
        arch = architecture(un, channels)
        per_step, run = time_training(images, arch, args.steps, args.warmup, device, False)
        graph_step = None
        if graph_ok:
            try:
                graph_step, _ = time_training(images, arch, args.steps, args.warmup, device, True)
            except Exception:
                rep.data.setdefault("errors", []).append(traceback.format_exc())
        per_round = time_evaluation(images, run, evaluation, device)
        best = min(per_step, graph_step or per_step)
        hours = (paper.steps * best + rounds * per_round) / 3600
        sizes[channels] = {
            "n_params": run.n_params,
            "plain": 1 / per_step,
            "graph": 1 / graph_step if graph_step else None,
            "eval_round_s": per_round,
            "hours": hours,
        }
        rep.data["sizes"] = sizes
        g = f"{1 / graph_step:.1f} | {per_step / graph_step:.2f}" if graph_step else "- | -"
        rep.add(
            f"| {channels} ({run.n_params:,}) | {1 / per_step:.1f} | {g} | {per_round:.2f} | "
            f"{hours:.2f} h |"
        )

    if args.check_steps and graph_ok:
        try:
            check = agreement(
                images, architecture(un, args.check_channels), args.check_steps, device
            )
            rep.data["agreement"] = check
            rep.add(
                "",
                f"Plain against CUDA-graph step, model_channels {args.check_channels}, "
                f"{args.check_steps} steps: loss per block of 100 steps plain "
                f"{[round(v, 4) for v in check['loss_plain']]}, plain again "
                f"{[round(v, 4) for v in check['loss_plain_again']]}, graph "
                f"{[round(v, 4) for v in check['loss_graph']]}; final EMA weights, relative "
                f"L2 difference to the first plain run: plain again "
                f"{check['ema_rel_diff_plain_again']:.2e}, graph "
                f"{check['ema_rel_diff_graph']:.2e}.",
            )
        except Exception:
            rep.data.setdefault("errors", []).append(traceback.format_exc())
            rep.add("", "agreement check failed (traceback in results.json)")

    modes = [True, False] if graph_ok else [False]
    if args.pack:
        rep.add(
            "",
            f"Packing: k trainings of model_channels {args.pack_channels} at once, "
            f"separate processes, common {args.window:.0f} s window; aggregate steps/s "
            "(and against one alone).",
            "",
            "| step | " + " | ".join(f"k = {k}" for k in args.pack) + " |",
            "|---|" + "---|" * len(args.pack),
        )
    packing = {}
    for graph in modes if args.pack else []:
        name = "CUDA graph" if graph else "plain"
        rates = {}
        try:
            for k in args.pack if graph or not graph_ok else args.pack_plain:
                res = pack(args, [args.pack_channels] * k, graph, f"{name}-{k}")
                rates[k] = sum(r["rate"] for r in res)
        except Exception:
            rep.data.setdefault("errors", []).append(traceback.format_exc())
        packing[name] = rates
        rep.data["packing"] = packing
        one = rates.get(1)
        cells = [
            f"{rates[k]:.0f} ({rates[k] / one:.2f}x)" if k in rates and one else "-"
            for k in args.pack
        ]
        rep.add(f"| {name} | " + " | ".join(cells) + " |")

    mix = None
    family = [c for c in (args.channels or un["model_channels"])]
    if args.pack and len(family) > 1:
        graph = graph_ok
        try:
            res = pack(args, family, graph, "mix")
            mix = {r["channels"]: r["rate"] for r in res}
            rep.data["mix"] = mix
            rep.add(
                "",
                "The family mixed (one training per size, at once, "
                f"{'CUDA graph' if graph else 'plain'} step): steps/s per size "
                + ", ".join(f"{c}: {mix[c]:.0f} (alone {alone_rate(sizes[c]):.0f})" for c in family)
                + ".",
            )
        except Exception:
            rep.data.setdefault("errors", []).append(traceback.format_exc())

    # 4. paper-scale family K on this device: 2 data sets x the sizes
    alone_h = 2 * sum(v["hours"] for v in sizes.values())
    lines = [
        "",
        f"Paper-scale family K ({len(sizes)} sizes x 2 data sets) on this device: one "
        f"training after another {alone_h:.2f} h",
    ]
    if mix:
        key = "graph" if graph_ok else "plain"
        wave = max(paper.steps / mix[c] + rounds * sizes[c]["eval_round_s"] for c in family) / 3600
        rep.data["family_hours"] = {"sequential": alone_h, "packed_mix": 2 * wave}
        lines[-1] += (
            f"; the six sizes at once, two waves (N = 2, then N = 8) at the mixed "
            f"rates, {2 * wave:.2f} h (slowest member; evaluation rounds at their "
            f"alone time; alone rates: {key})"
        )
    rep.add(*lines[:-1], lines[-1] + ".")

    remaining = t0 + args.deadline - time.time()
    if remaining > 60 and len(family) >= 2:
        smallest = sorted(family)[:2]
        race = memorization_race(args, s, smallest, t0 + args.deadline)
        rep.data["race"] = race
        rep.add(
            "",
            f"Paper settings, N = 2, sizes {smallest} at once (CUDA graph step) for "
            f"{remaining:.0f} s: "
            + "; ".join(
                f"C = {c}: evaluations up to step "
                f"{r['evaluations'][-1]['step'] if r['evaluations'] else 0}, fractions "
                f"{[round(e['fraction_memorized'], 2) for e in r['evaluations']]}, first "
                f"step >= 0.5: {r['first_step_0.5']}, >= 0.9: {r['first_step_0.9']}"
                for c, r in race.items()
            )
            + ".",
        )
    rep.add("", f"Total wall time of this script: {time.time() - t0:.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
