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
