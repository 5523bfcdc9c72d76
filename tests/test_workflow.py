"""End to end: the Snakemake workflow on the smoke preset, in a temporary directory,
and the refusal of bad configuration before any job starts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from memreg import metrics
from memreg.outputs import plots

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
FIGURES = [
    "data_voronoi",
    "ve_dynamics",
    "vp_dynamics",
    "convergence_s",
    "voronoi_boundaries",
    "tikhonov_samples",
    "tikhonov_memorization",
    "score_vs_time",
    "consistency_samples",
    "consistency_memorization",
    "nn_tikhonov_samples",
    "nn_tikhonov_memorization",
    "nn_score_vs_time",
    "nn_early_stopping",
    "nn_width",
    "unet_training_images",
    "unet_samples_vs_steps",
    "unet_memorization",
]
TABLES = [
    "results/dynamics/convergence.csv",
    "results/dynamics/boundaries.csv",
    "results/regularization/tikhonov.csv",
    "results/regularization/consistency.csv",
    "results/regularization/score_vs_time.csv",
    "results/neural/tikhonov.csv",
    "results/neural/early_stopping.csv",
    "results/neural/width.csv",
    "results/neural/score_vs_time.csv",
    "results/unet/memorization.csv",
    "results/claims.csv",
    "results/comparison.csv",
]
MEMORIZATION_COLUMNS = [
    "process",
    "n_samples",
    "delta",
    "fraction_matched",
    "ci_low",
    "ci_high",
    "fraction_ratio_criterion",
]

pytestmark = pytest.mark.workflow


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


@pytest.fixture(scope="module")
def smoke_base(tmp_path_factory) -> Path:
    """The directory the smoke run starts from (-d)."""
    workdir = tmp_path_factory.mktemp("smoke")
    snakemake(workdir, "--config", "preset=smoke")
    return workdir


@pytest.fixture(scope="module")
def smoke_run(smoke_base) -> Path:
    """Where the smoke preset's outputs are: runs/smoke/ (presets never share a folder)."""
    return smoke_base / "runs" / "smoke"


def test_every_figure_and_table_is_built(smoke_run):
    for name in FIGURES:
        for ext in ("pdf", "png"):
            path = smoke_run / "figures" / f"{name}.{ext}"
            assert path.is_file() and path.stat().st_size > 1000, path
            made_by = plots.read_provenance(path)  # what made it, from its metadata
            assert made_by["rule"] == f"fig_{name}", path
            assert (REPO / made_by["script"]).is_file(), path
            module, function = made_by["function"].rsplit(".", 1)
            assert module == "memreg.outputs.plots" and callable(getattr(plots, function)), path
            assert made_by["config"], path
    for path in TABLES:
        assert (smoke_run / path).is_file(), path


def test_second_run_has_nothing_to_do(smoke_base, smoke_run):
    assert not (smoke_base / "results").exists()  # the default run's folder is untouched
    out = snakemake(smoke_base, "--config", "preset=smoke", "-n")
    assert "Nothing to be done" in out.stdout + out.stderr


def test_convergence_rate_is_one_for_every_process(smoke_run):
    table = pd.read_csv(smoke_run / "results/dynamics/convergence.csv")
    assert set(table["process"]) == {"ve_talk", "ve", "vp"}
    for process, rows in table.groupby("process"):
        reached = rows[rows["limit_index"] >= 0]
        assert len(reached) > 0, process
        assert 0.95 <= reached["rate"].median() <= 1.05, (process, reached["rate"].tolist())


def test_boundary_limits_follow_the_voronoi_rule(smoke_run):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    table = pd.read_csv(smoke_run / "results/dynamics/boundaries.csv")
    assert set(table["dataset"]) == {"two_points", "four_points"}
    for name, rows in table.groupby("dataset"):
        train = np.asarray(config["data"]["point_sets"][name], dtype=float)
        starts = rows[["start_x", "start_y"]].to_numpy()
        limits = rows[["limit_x", "limit_y"]].to_numpy()
        # The rule, from the geometry of the starts alone: on a face -> mean of the
        # equidistant points, a boundary limit; otherwise -> the cell's own point.
        on_face = metrics.voronoi_boundary_distance(starts, train) == 0.0
        assert on_face.sum() == (2 if name == "two_points" else 4)
        cell = train[metrics.voronoi_cell(starts, train)]
        for k in range(len(rows)):
            if on_face[k]:
                near = np.isclose(
                    np.linalg.norm(starts[k] - train, axis=1),
                    np.linalg.norm(starts[k] - train, axis=1).min(),
                )
                expected, kind = train[near].mean(axis=0), metrics.VORONOI_BOUNDARY
            else:
                expected, kind = cell[k], metrics.TRAINING_POINT
            assert np.linalg.norm(limits[k] - expected) < 1e-6, (name, starts[k], limits[k])
            assert rows["limit_class"].iloc[k] == kind


def test_tikhonov_fraction_falls_with_c(smoke_run):
    table = pd.read_csv(smoke_run / "results/regularization/tikhonov.csv")
    assert list(table.columns[:2]) == ["process", "c"]
    assert set(MEMORIZATION_COLUMNS) <= set(table.columns)
    table = table.sort_values("c")
    assert table["c"].min() == 1e-5 and table["c"].max() == 1e-1
    assert table["fraction_matched"].iloc[0] > 0.9  # c = 1e-5
    assert table["fraction_matched"].iloc[-1] < 0.05  # c = 1e-1
    # non-increasing in c within the confidence intervals
    assert np.all(table["ci_low"].to_numpy()[1:] <= table["ci_high"].to_numpy()[:-1])


def test_consistency_fraction_falls_with_tau(smoke_run):
    table = pd.read_csv(smoke_run / "results/regularization/consistency.csv").sort_values("tau")
    assert set(MEMORIZATION_COLUMNS) <= set(table.columns)
    assert np.all(np.diff(table["fraction_matched"].to_numpy()) <= 0)
    assert np.all(table["ci_low"].to_numpy()[1:] <= table["ci_high"].to_numpy()[:-1])


def test_regularized_score_levels_off(smoke_run):
    table = pd.read_csv(smoke_run / "results/regularization/score_vs_time.csv")
    for c, rows in table.groupby("c"):
        last = rows.sort_values("t")["score_norm"].iloc[0]  # smallest t
        if c > 0:
            assert last <= rows["bound"].iloc[0] and last == pytest.approx(
                rows["limit"].iloc[0], rel=1e-3
            )
        else:
            assert last > 1e6


def test_neural_training_reduces_the_loss_and_tables_cover_every_snapshot(smoke_run):
    config = yaml.safe_load((REPO / "config.yaml").read_text())["presets"]["smoke"]["neural"]
    for study in ("tikhonov", "early_stopping", "width_16", "width_64"):
        loss = pd.read_csv(smoke_run / f"results/neural/{study}/loss.csv")
        for column in loss.columns.drop("iteration"):
            assert loss[column].iloc[-2:].mean() < loss[column].iloc[:2].mean(), (study, column)
    width = pd.read_csv(smoke_run / "results/neural/width.csv")
    assert sorted(width["width"].unique()) == config["width"]["widths"]
    every, n = config["width"]["snapshot_every"], config["width"]["iterations"]
    assert sorted(width["iteration"].unique()) == list(range(every, n + 1, every))
    assert width.groupby("width")["n_params"].nunique().eq(1).all()


def test_unet_table_has_every_model_and_evaluation(smoke_run):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    smoke = config["presets"]["smoke"]["unet"]
    table = pd.read_csv(smoke_run / "results/unet/memorization.csv")
    assert list(table.columns) == [
        "dataset",
        "n_train",
        "model_channels",
        "resolution",
        "n_params",
        "seed",
        "images",
        "epoch",
        "step",
        "fraction_memorized",
        "ci_low",
        "ci_high",
        "mean_nearest_distance",
        "sq_distance_mean",
        "sq_distance_max",
    ]
    assert sorted(table["model_channels"].unique()) == smoke["model_channels"]
    assert table["resolution"].eq(smoke["resolution"]).all()
    assert dict(table.groupby("dataset")["n_train"].first()) == {
        name: len(sq) for name, sq in config["unet"]["datasets"].items()
    }
    every, images = smoke["train"]["eval_every"], smoke["train"]["images"]
    for (name, _), rows in table.groupby(["dataset", "model_channels"]):  # seeds 0, 1, ...
        assert sorted(rows["seed"].unique()) == list(range(smoke["seeds"][name]))
        for _, run in rows.groupby("seed"):
            assert run["images"].tolist() == list(range(every, images + 1, every))
            assert (run["epoch"] * run["n_train"]).tolist() == run["images"].tolist()
    assert smoke["seeds"]["n2"] >= 2  # the smoke preset runs the seeds' code paths
    assert (
        (table["ci_low"] <= table["fraction_memorized"])
        & (table["fraction_memorized"] <= table["ci_high"])
    ).all()
    assert table.loc[table["model_channels"] == 4, "n_params"].eq(57017).all()
    assert not list((smoke_run / "results/unet").glob("*/checkpoint-*"))  # removed when done


def test_claims_table_reports_every_claim(smoke_run):
    claims = pd.read_csv(smoke_run / "results/claims.csv")
    assert list(claims.columns) == ["id", "family", "claim", "quantity", "criterion", "value",
                                    "holds"]  # fmt: skip
    assert len(claims) >= 12 and claims["id"].is_unique
    assert "no data" not in set(claims["value"])
    held = dict(zip(claims["id"], claims["holds"]))
    for process in ("ve_talk", "ve", "vp"):  # the smoke preset is long enough for these
        assert held[f"rate_{process}"], claims
    assert held["voronoi_faces"] and held["tikhonov_falls"] and held["consistency_falls"]
    assert (smoke_run / "results/claims.html").is_file()


def test_report_holds_every_figure_and_the_claims(smoke_base, smoke_run):
    snakemake(smoke_base, "--config", "preset=smoke", "--report", "report.html")
    page = (smoke_run / "report.html").read_text()
    for name in FIGURES:
        assert f"{name}.png" in page, name
    assert "claims.html" in page and "comparison.html" in page
    for caption in (REPO / "workflow/report").glob("*.rst"):
        known = {"workflow", "claims", "comparison", "dynamics", "regularized_samples",
                 "memorization_curve", *FIGURES}  # fmt: skip
        assert caption.stem in known, caption


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk (TeX Live) not installed")
def test_paper_is_built_with_every_figure(smoke_run):
    pdf = smoke_run / "paper/main.pdf"
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
    inputs = (smoke_run / "paper/build/main.fls").read_text()  # latexmk's file record
    for name in FIGURES:
        assert f"figures/{name}.pdf\n" in inputs, name
    tex = (REPO / "paper/main.tex").read_text()
    sections = tex.count("\\section{")
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        pages = int(
            next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages"))
        )
        assert pages >= sections, (pages, sections)


@pytest.mark.parametrize(
    "override, key, allowed",
    [
        ({"preset": "huge"}, "preset", "paper"),
        ({"dynamics": {"processes": ["ve", "nope"]}}, "processes", "ve_talk"),
        ({"convergence": {"n_steps": -5}}, "convergence.n_steps", "an integer >= 1"),
        ({"boundaries": {"unknown_key": 1}}, "unknown_key", "keys allowed under boundaries"),
        ({"convergence": {"fit_window": [12.0, 6.0]}}, "convergence.fit_window", "low < high"),
        ({"boundaries": {"datasets": ["missing"]}}, "boundaries.datasets", "two_points"),
        ({"regularization": {"tikhonov_c": [1e-2, -1e-3]}}, "tikhonov_c", "a number > 0"),
        ({"regularization": {"consistency_tau": [-0.1]}}, "consistency_tau", "a number > 0"),
        ({"regularization": {"tikhonov_c": []}}, "tikhonov_c", "at least 1 item"),
        ({"regularization": {"process": "ve_fast"}}, "process", "'ve_talk', 've', 'vp'"),
        ({"neural": {"width": {"widths": [0, 16]}}}, "widths", "an integer >= 1"),
        ({"neural": {"lr": -1e-3}}, "lr", "a number > 0"),
        ({"neural": {"ema_update_every": 0}}, "ema_update_every", "an integer >= 1"),
        ({"neural": {"sampling": {"t_min": 1e-3}}}, "t_min", "keys allowed under neural.sampling"),
        (
            {"neural": {"early_stopping": {"snapshot_every": 10**9}}},
            "neural.early_stopping.snapshot_every",
            "at most neural.early_stopping.iterations",
        ),
        (
            {"neural": {"early_stopping": {"parameterizations": ["nonsingular", "odd"]}}},
            "parameterizations",
            "'nonsingular', 'singular'",
        ),
        ({"unet": {"resolution": 62}}, "unet.resolution", "a multiple of 4"),
        ({"unet": {"model_channels": [2, 8]}}, "model_channels", "an integer >= 4"),
        ({"unet": {"train": {"eval_every": 10**6}}}, "unet.train.eval_every", "at most"),
        ({"unet": {"device": "tpu"}}, "device", "'auto', 'cpu', 'cuda'"),
        (
            {"unet": {"train": {"images": 1550}}},
            "unet.train.images",
            "a multiple of",
        ),  # issue 14, 7
        ({"unet": {"seeds": {"n3": 2}}}, "unet.seeds", "a count of seeds for each key"),
        ({"unet": {"train": {"batch_size": 4}}}, "unet.train.batch_size", "a divisor of"),
        ({"unet": {"train": {"precision": "fp16"}}}, "precision", "'float32', 'bfloat16'"),
        # issue 14, 1: checked after the preset is merged (the user's file beats the preset)
        ({"preset": "smoke", "regularization": {"n_samples": 0}}, "n_samples", ">= 1"),
        ({"presets": {"mine": {"dynamics": {"n_steps": -5}}}, "preset": "mine"}, "n_steps", ">= 1"),
        ({"unet": {"datasets": {"n2": [[60, 60, 12]]}}}, "unet.datasets.n2", "inside 64"),
    ],
)
def test_bad_config_is_refused_before_any_job(tmp_path, override, key, allowed):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(override))
    proc = snakemake(tmp_path, "-n", "--configfile", str(bad), check=False)
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert key in message and allowed in message, message[-2000:]
    assert len(message.splitlines()) < 12, message  # one paragraph, no schema dump
    assert not (tmp_path / "results").exists() and not (tmp_path / "runs").exists()


def restated(node):
    """``node`` with every mapping in reverse key order and every float written as text
    that YAML reads back as the same float (1e-06 -> 1.0e-06)."""
    if isinstance(node, dict):
        return {k: restated(node[k]) for k in reversed(list(node))}
    if isinstance(node, list):
        return [restated(v) for v in node]
    return node


def test_restating_the_settings_plans_no_job(smoke_base, tmp_path):
    # issue 14, 3: every rule's params are canonical: restating the run's own settings
    # (all of them, in reverse key order, through --configfile and --config) reruns nothing.
    from snakemake.cli import parse_config

    from memreg import config as mc

    base = yaml.safe_load((REPO / "config.yaml").read_text())
    effective = mc.build(base, [], parse_config(["preset=smoke"]))
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(restated(effective), sort_keys=False))
    out = snakemake(
        smoke_base,
        "-n",
        "--configfile",
        str(again),
        "--config",
        "preset=smoke",
        f"dynamics__t_min={effective['dynamics']['t_min']}",
        "unet={train: {seed: 0}}",
    )
    assert "Nothing to be done" in out.stdout + out.stderr, (out.stdout + out.stderr)[-3000:]


def test_corrupt_intermediates_are_caught_and_rebuilt(smoke_base, smoke_run):
    # issue 14, 4: a truncated per-value CSV or .npz fails its reader's job, naming the file;
    # the next run rebuilds it and the table comes out as before.
    part = smoke_run / "results/regularization/tikhonov/0.1.csv"
    samples = smoke_run / "results/regularization/tikhonov/0.1.npz"
    table = smoke_run / "results/regularization/tikhonov.csv"
    before = table.read_bytes()
    part.write_bytes(part.read_bytes()[:-60])
    samples.write_bytes(samples.read_bytes()[:-60])
    targets = ("results/regularization/tikhonov.csv", "figures/tikhonov_samples.pdf")
    failed = snakemake(
        smoke_base, *targets, "--keep-going", "--config", "preset=smoke", check=False
    )
    message = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert f"{part} is corrupt" in message and f"{samples} is corrupt" in message, message[-3000:]
    assert not part.exists() and not samples.exists()
    # issue 24, 1: each failed job's log names its rule and inputs and holds its traceback
    logs = {
        part: smoke_run / "logs/concat_tables/results/regularization/tikhonov.csv.log",
        samples: smoke_run / "logs/fig_tikhonov_samples.log",
    }
    for corrupt, log in logs.items():
        text = log.read_text()
        assert f"input {corrupt.relative_to(smoke_run)}" in text, text[-2000:]
        assert "Traceback (most recent call last)" in text and f"{corrupt} is corrupt" in text
    snakemake(smoke_base, *targets, "--config", "preset=smoke")
    assert table.read_bytes() == before


def test_presets_write_apart(tmp_path):
    # issue 14, 5: the default run writes at the top of the working directory (as the README
    # says), another preset under runs/<preset>/; neither touches the other's files.
    target = "results/data/authors_points.npz"
    snakemake(tmp_path, target)
    default = (tmp_path / target).read_bytes()
    snakemake(tmp_path, target, "--config", "preset=smoke")
    assert (tmp_path / "runs/smoke" / target).is_file()
    assert (tmp_path / target).read_bytes() == default
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["smoke"]


@pytest.mark.parametrize("caption", ["unet_memorization", "unet_samples_vs_steps"])
@pytest.mark.parametrize("preset", ["default", "smoke", "paper"])
def test_unet_captions_state_the_scale_of_their_run(caption, preset):
    # issue 12, 4: a reader never mistakes a CPU-scale run for the paper's 64x64
    import types

    import jinja2

    import memreg.config as mc

    config = mc.build(yaml.safe_load((REPO / "config.yaml").read_text()), [],
                      {"preset": preset})  # fmt: skip
    text = (REPO / "workflow/report" / f"{caption}.rst").read_text()
    rendered = jinja2.Template(text).render(snakemake=types.SimpleNamespace(config=config))
    un = config["unet"]
    scale = (
        f"{un['resolution']}x{un['resolution']} pixels,\n{un['train']['images']} training images"
    )
    assert scale in rendered and f"preset ``{preset}``" in rendered
    assert "--config preset=paper" in rendered


def test_a_job_started_inside_its_run_root_does_not_descend_again(tmp_path):
    # a SLURM job of a smoke run starts in runs/smoke itself (where its run was submitted
    # from); it must find its files there, not under runs/smoke/runs/smoke
    root = tmp_path / "runs" / "smoke"
    root.mkdir(parents=True)
    snakemake(root, "results/data/two_points.npz", "--config", "preset=smoke")
    assert (root / "results/data/two_points.npz").is_file()
    assert not (root / "runs").exists()
