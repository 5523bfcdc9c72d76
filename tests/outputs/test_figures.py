"""Figures you can grep: every figure that `rule all` builds has one rule of its own,
``fig_<name>`` in workflow/rules/figures.smk, and every PDF and PNG that memreg.outputs.plots writes
names in its metadata the rule, the script, the function and the configuration slice that
made it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from memreg.metrics import GU_RATIO, ratio_text
from memreg.outputs import plots

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "workflow" / "rules"
SNAKEMAKE = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
RULE_START = re.compile(r"^(?:rule (\w+)|use rule \w+ as (\w+) with):", re.M)
FIGURE_CALL = re.compile(r"\bfigure\(\s*\"(\w+)\"")


def rule_blocks(text: str) -> list[tuple[str, str]]:
    """(name, text up to the next rule) of every rule of a Snakefile, `use rule` included."""
    starts = list(RULE_START.finditer(text))
    ends = [m.start() for m in starts[1:]] + [len(text)]
    return [(m[1] or m[2], text[m.start() : end]) for m, end in zip(starts, ends)]


def all_figures(workdir: Path, *config: str) -> set[str]:
    """The figures/<name>.pdf inputs of `rule all` in a dry run (empty working directory)."""
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), "-n", "--cores", "1",
           "all", "--config", *config]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    inputs = re.search(r"^rule all:\n\s+input: (.*)$", proc.stdout, re.M)
    assert inputs, proc.stdout[-2000:]
    return set(re.findall(r"figures/(\w+)\.pdf", inputs[1]))


def test_every_figure_rule_is_named_after_the_one_figure_it_registers():
    blocks = rule_blocks((RULES / "figures.smk").read_text())
    names = [name for name, _ in blocks]
    assert len(names) == len(set(names)), "two rules of figures.smk share a name"
    for name, block in blocks:
        assert FIGURE_CALL.findall(block) == [name.removeprefix("fig_")], name
        assert "{" not in re.search(r"output:(.*?)\n    \w+:", block, re.S)[1], name
    for path in RULES.glob("*.smk"):
        if path.name not in ("figures.smk", "common.smk"):
            assert not FIGURE_CALL.search(path.read_text()), f"a figure rule in {path.name}"


def test_every_figure_of_rule_all_has_exactly_one_rule_named_after_it(tmp_path):
    """With every process of config.yaml in dynamics.processes: the most figures."""
    processes = list(yaml.safe_load((REPO / "config.yaml").read_text())["processes"])
    figures = all_figures(tmp_path, f"dynamics={json.dumps({'processes': processes})}")
    assert {f"{p}_dynamics" for p in processes} <= figures
    assert len(figures) >= 18
    names = [name for name, _ in rule_blocks((RULES / "figures.smk").read_text())]
    for figure in sorted(figures):
        assert names.count(f"fig_{figure}") == 1, figure
    assert {name.removeprefix("fig_") for name in names} == figures


@pytest.fixture
def drawn(tmp_path):
    """Figure A drawn twice by memreg.outputs.plots inside made_by, into two folders."""
    train = np.random.default_rng(0).normal(size=(6, 2))
    config = {"data.authors_points": {"n": 6, "dim": 2, "seed": 1}, "note": "a (b) \\ c"}
    script = "/somewhere/memreg/workflow/scripts/fig_data_voronoi.py"
    with plots.made_by("fig_data_voronoi", script, plots.data_voronoi, config) as record:
        for name in ("one", "two"):
            plots.data_voronoi(train, tmp_path / name / "data_voronoi.pdf")
    return tmp_path, record, config


def test_png_and_pdf_name_rule_script_function_and_config(drawn):
    tmp_path, record, config = drawn
    assert record["script"] == "workflow/scripts/fig_data_voronoi.py"
    assert record["function"] == "memreg.outputs.plots.data_voronoi"
    with Image.open(tmp_path / "one" / "data_voronoi.png") as image:
        text = dict(image.text)
    assert text["rule"] == "fig_data_voronoi"
    assert text["script"] == "workflow/scripts/fig_data_voronoi.py"
    assert text["function"] == "memreg.outputs.plots.data_voronoi"
    assert json.loads(text["config"]) == config
    assert text["Title"] == "data_voronoi"
    pdf = (tmp_path / "one" / "data_voronoi.pdf").read_bytes()
    assert b"/Title (data_voronoi)" in pdf
    subject = (b"/Subject (rule fig_data_voronoi, script workflow/scripts/fig_data_voronoi.py,"
               b" function memreg.outputs.plots.data_voronoi)")  # fmt: skip
    assert subject in pdf
    assert b"/Keywords (" in pdf and b"/CreationDate" not in pdf
    for ext in ("pdf", "png"):
        back = plots.read_provenance(tmp_path / "one" / f"data_voronoi.{ext}")
        assert back == {**record, "config": config}, ext


def test_the_same_figure_gives_the_same_bytes(drawn):
    tmp_path = drawn[0]
    for ext in ("pdf", "png"):
        one = (tmp_path / "one" / f"data_voronoi.{ext}").read_bytes()
        assert one == (tmp_path / "two" / f"data_voronoi.{ext}").read_bytes(), ext


def test_outside_made_by_a_figure_carries_no_provenance(tmp_path):
    plots.data_voronoi(np.eye(2), tmp_path / "bare.png")
    for ext in ("pdf", "png"):
        assert plots.read_provenance(tmp_path / f"bare.{ext}") == {}, ext
    with Image.open(tmp_path / "bare.png") as image:
        assert image.text["Title"] == "bare" and "rule" not in image.text


def test_plots_leaves_the_backend_to_the_environment():
    env = {**os.environ, "MPLBACKEND": "svg"}
    code = "import matplotlib, memreg.outputs.plots; print(matplotlib.get_backend())"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().lower() == "svg"


def test_every_caption_renders_from_params_and_config_without_wildcards():
    """No figure rule has wildcards: a caption may read snakemake.params and .config only."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for kind, process in (("tikhonov", "ve"), ("consistency", "vp")):
        params = types.SimpleNamespace(kind=kind, process=process, gu_ratio=ratio_text(GU_RATIO))
        job = types.SimpleNamespace(config=config, params=params, wildcards=types.SimpleNamespace())
        for caption in sorted((REPO / "workflow" / "report").glob("*.rst")):
            if caption.stem != "workflow":
                env.from_string(caption.read_text()).render(snakemake=job)


def test_unet_memorization_draws_medians_over_seeds_against_epochs(tmp_path, monkeypatch):
    """From the synthetic table (tests/outputs/tables.py): one column per data set by
    increasing N, the median over seeds with a min-max band, fraction on top and the
    authors' distance (log axis) below; the files are written."""
    from tests.outputs.tables import synthetic_tables

    table = synthetic_tables(np.random.default_rng(1))["unet"]
    plots.unet_memorization(table, tmp_path / "unet_memorization.pdf", "SCALE NOTE")
    assert (tmp_path / "unet_memorization.pdf").is_file()
    assert (tmp_path / "unet_memorization.png").is_file()
    figs = []
    monkeypatch.setattr(plots, "save", lambda fig, *args, **kwargs: figs.append(fig))
    plots.unet_memorization(table, "unused", "SCALE NOTE")
    (fig,) = figs
    axes = np.array(fig.axes).reshape(2, 2)
    assert fig._suptitle.get_text() == "SCALE NOTE"
    assert [ax.get_title() for ax in axes[0]] == ["N = 2 (n2), 3 seeds", "N = 8 (n8), 1-2 seeds"]
    assert all(ax.get_xlabel() == "epochs" for ax in axes.flat)
    assert [ax.get_yscale() for ax in axes[1]] == ["log", "log"]
    labels = [t.get_text() for t in axes[0, 0].get_legend().get_texts()]
    assert labels == ["57,017 params", "222,705 params"]
    # n2, C4: seeds at 200, 400, 600, 800 images (epochs 100-400) memorize 0.0 0.2 0.6 0.9,
    # 0.0 0.5 0.8 1.0 and 0.1 0.3 0.5 0.8; their distances are 8 6 4 2, 4 3 2 1, 12 9 6 3
    frac, dist = axes[0, 0].get_lines()[0], axes[1, 0].get_lines()[0]
    np.testing.assert_allclose(frac.get_xdata(), [100, 200, 300, 400])
    np.testing.assert_allclose(frac.get_ydata(), [0.0, 0.3, 0.6, 0.9])
    np.testing.assert_allclose(dist.get_ydata(), [8, 6, 4, 2])
    # n8, C4: two seeds, epochs 25-100; the band spans 0.0 0.1 0.2 0.6 to 0.0 0.0 0.1 0.3
    n8 = axes[0, 1].get_lines()[0]
    np.testing.assert_allclose(n8.get_xdata(), [25, 50, 75, 100])
    np.testing.assert_allclose(n8.get_ydata(), [0.0, 0.05, 0.15, 0.45])
    band = axes[0, 1].collections[0].get_paths()[0].vertices
    assert {tuple(v) for v in band} >= {(100.0, 0.3), (100.0, 0.6), (50.0, 0.0), (50.0, 0.1)}


def _drawn(monkeypatch, draw) -> list:
    figs: list = []
    monkeypatch.setattr(plots, "save", lambda fig, *args, **kwargs: figs.append(fig))
    draw()
    return figs


def _authors_crosses(ax) -> np.ndarray:
    """The offsets of the authors' markers (the scatter labelled "authors")."""
    (points,) = [c for c in ax.collections if c.get_label() == plots.AUTHORS_LABEL]
    return np.asarray(points.get_offsets())


def test_nn_memorization_draws_the_authors_values_on_the_matching_curves(monkeypatch):
    """Synthetic H table (c 0, 1e-2, 1e-1 at x = 0, 1, 2; last iteration 600): the authors'
    values at c = 1e-2 and (as 0.1 * (1 + 1e-12)) 1e-1 are drawn; one at another iteration,
    one at a c and one at a delta this run lacks are not."""
    from memreg.outputs.comparison import authors_table
    from tests.outputs.tables import synthetic_tables

    table = synthetic_tables(np.random.default_rng(2))["nn_tikhonov"]
    authors = pd.DataFrame(
        {
            "c": [1e-2, 0.1 * (1 + 1e-12), 1e-2, 1e-3, 1e-2],
            "delta": [0.1, 0.5, 0.1, 0.1, 0.05],
            "iteration": [600.0, 600.0, 300.0, 600.0, 600.0],
            "authors": [0.3, 0.9, 0.2, 0.4, 0.5],
        }
    )
    (fig,) = _drawn(monkeypatch, lambda: plots.nn_memorization(table, "unused", authors))
    (ax,) = fig.axes
    np.testing.assert_allclose(_authors_crosses(ax), [[1.0, 0.3], [2.0, 0.9]])
    assert plots.AUTHORS_LABEL in [t.get_text() for t in ax.get_legend().get_texts()]
    # without the authors' values, or with none on the curves (the package's, at 500,000
    # iterations), no marker and no legend entry
    for theirs in (None, authors_table("H")):
        (fig,) = _drawn(monkeypatch, lambda a=theirs: plots.nn_memorization(table, "x", a))
        (ax,) = fig.axes
        assert not [c for c in ax.collections if c.get_label() == plots.AUTHORS_LABEL]
        assert plots.AUTHORS_LABEL not in [t.get_text() for t in ax.get_legend().get_texts()]


def test_nn_early_stopping_draws_the_authors_values_on_the_matching_curves(monkeypatch, tmp_path):
    """Synthetic I table (iterations 200, 400; deltas 0.01, 0.1, 0.5): the authors' values of
    the singular network at 400 and the nonsingular one at 200 are drawn at their iteration;
    one at iteration 10,000 and one of an unknown parameterization are not."""
    from tests.outputs.tables import synthetic_tables

    table = synthetic_tables(np.random.default_rng(2))["early_stopping"]
    authors = pd.DataFrame(
        {
            "parameterization": ["singular", "nonsingular", "singular", "other"],
            "iteration": [400.0, 200.0, 10000.0, 400.0],
            "delta": [0.1, 0.01, 0.1, 0.1],
            "authors": [0.3, 0.05, 0.5, 0.6],
        }
    )
    (fig,) = _drawn(monkeypatch, lambda: plots.nn_early_stopping(table, "unused", authors))
    np.testing.assert_allclose(_authors_crosses(fig.axes[0]), [[400.0, 0.3], [200.0, 0.05]])
    # the key sits beside the axes, off the curves: one entry per delta, per
    # parameterization, and the authors
    ax = fig.axes[0]
    legend = ax.get_legend()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[-3:] == ["nonsingular", "singular", plots.AUTHORS_LABEL]
    assert len(texts) == table["delta"].nunique() + 3
    monkeypatch.undo()
    plots.nn_early_stopping(table, tmp_path / "nn_early_stopping.pdf", authors)
    assert (tmp_path / "nn_early_stopping.png").is_file()
