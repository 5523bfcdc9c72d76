"""The manuscript's generated parts (memreg.outputs.paper) and paper/main.tex itself.

The figure check compares the ``\\includegraphics`` names of paper/main.tex with the
figure registry of the workflow (common.smk's REGISTRY, which `rule all` builds): a
dry run of `all` in an empty directory lists every registered figure as an output
``figures/<name>.pdf``, whatever file registered it, in a few seconds.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memreg.outputs import paper
from memreg.unet.scale import table_scale_label
from tests.outputs.tables import synthetic_tables

REPO = Path(__file__).resolve().parents[2]
MAIN_TEX = REPO / "paper" / "main.tex"
SNAKEMAKE = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
VALUE_PREFIXES = ("Rate", "Conv", "Boundary", "Tikhonov", "Consistency", "NN", "Early",
                  "Width", "Unet", "Claims", "Gu")  # fmt: skip
TOL, DELTA = 1e-6, 0.1  # config boundaries.tol and paper.nn_delta
WINDOW, LEVEL = 0.1, 0.5  # config claims.unet_final_window and claims.unet_level
UNET = (WINDOW, LEVEL)


def tex_source() -> str:
    """main.tex without comments."""
    return re.sub(r"(?<!\\)%.*", "", MAIN_TEX.read_text())


def included_figures() -> list[str]:
    return re.findall(r"\\includegraphics(?:\[[^\]]*\])?\{figures/([^}]+)\}", tex_source())


# ----------------------------------------------------------------------------- latex_table


def test_latex_table_escapes_text_and_formats_numbers():
    df = pd.DataFrame(
        {"name": ["ve_talk", "50% & more", "a#b{c}~^\\"], "x": [1.0, 0.5, 1e-5], "n": [1, 2, 3]}
    )
    tex = paper.latex_table(df, ["name", "x", "n"], formats={"x": ".2f"})
    lines = tex.splitlines()
    assert lines[0] == r"\begin{tabular}{lrr}"
    assert lines[1] == r"\toprule" and lines[3] == r"\midrule"
    assert lines[2] == r"name & x & n \\"
    assert lines[4] == r"ve\_talk & 1.00 & 1 \\"
    assert lines[5] == r"50\% \& more & 0.50 & 2 \\"
    assert lines[6] == (
        r"a\#b\{c\}\textasciitilde{}\textasciicircum{}\textbackslash{} & 0.00 & 3 \\"
    )
    assert lines[-2:] == [r"\bottomrule", r"\end{tabular}"]
    assert r"\begin{table}" not in tex


def test_a_command_line_keeps_its_hyphens():
    """LaTeX sets -- as an en dash and --- as an em dash; a command line keeps its hyphens."""
    assert paper.verbatim("--config preset=paper") == r"\texttt{-{}-config preset=paper}"
    assert paper.verbatim("a---b 1e-2 x_y") == r"\texttt{a-{}-{}-b 1e-2 x\_y}"


def test_latex_table_headers_callables_caption_and_errors():
    df = pd.DataFrame({"c": [1e-3, 0.0], "holds": [True, False]})
    tex = paper.latex_table(
        df, ["c", "holds"], ["$c$", "holds"], {"c": paper.sci, "holds": paper.yes_no},
        caption="A \\emph{caption}", label="tab:x", colspec="rl",
    )  # fmt: skip
    assert tex.startswith("\\begin{table}[htbp]\n\\centering\n\\caption{A \\emph{caption}}")
    assert "\\label{tab:x}" in tex and "\\begin{tabular}{rl}" in tex
    assert r"$c$ & holds \\" in tex
    assert r"$10^{-3}$ & yes \\" in tex and r"$0$ & \textbf{no} \\" in tex
    with pytest.raises(KeyError, match="missing"):
        paper.latex_table(df, ["missing"])
    with pytest.raises(ValueError, match="headers"):
        paper.latex_table(df, ["c"], ["a", "b"])


@pytest.mark.parametrize(
    "x, expected",
    [
        (0.0, "$0$"),
        (1e-5, "$10^{-5}$"),
        (3.1622776601683794e-4, r"$3.2\times10^{-4}$"),
        (9.99e-5, "$10^{-4}$"),
        (0.1, "$0.1$"),
        (10.0, "$10$"),
        (2.5e4, r"$2.5\times10^{4}$"),
        (float("inf"), r"$\infty$"),
    ],
)
def test_sci(x, expected):
    assert paper.sci(x) == expected


def test_plain_math_and_macro_names():
    assert paper.plain_math("|r - 1| <= 0.05 -> a_b ~ c") == (
        r"|r - 1| $\leq$ 0.05 $\to$ a\_b $\sim$ c"
    )
    assert paper.macro_name("rate", "ve_talk") == "RateVeTalk"
    assert paper.macro_name("early", "nonsingular", "first") == "EarlyNonsingularFirst"
    with pytest.raises(ValueError, match="letters only"):
        paper.macro_name("width", "16")


# ----------------------------------------------------------------------------- values


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    return synthetic_tables(np.random.default_rng(0))


def test_values_pick_by_min_and_max_of_the_sweeps(tables):
    v = paper.values_dict(tables, 1e-6, 0.1, WINDOW, LEVEL)
    # D: medians over the trajectories that reach a training point only
    assert v["RateVeTalk"] == "0.950" and v["RateVp"] == "1.200"
    assert "RateVe" not in v  # processes come from the table, not from a fixed list
    assert (v["ConvTrajectories"], v["ConvReached"], v["ConvPerProcess"]) == ("6", "5", "3")
    # E: two starts on faces, one of them within tol of its prediction
    assert v["BoundaryFaceStarts"] == "2" and v["BoundaryFaceAtPredicted"] == "1"
    assert v["BoundaryOffFaceStarts"] == "2" and v["BoundaryOffFaceAtPredicted"] == "1"
    assert v["BoundaryStarts"] == "4"
    # F, G: by the smallest and largest parameter, whatever the row order
    assert v["TikhonovCMin"] == r"\ensuremath{10^{-5}}" and v["TikhonovFracCMin"] == "0.980"
    assert v["TikhonovCMax"] == r"\ensuremath{0.1}" and v["TikhonovFracCMax"] == "0.000"
    assert v["TikhonovCount"] == "3" and v["TikhonovSamples"] == "200"
    assert v["ConsistencyFracTauMin"] == "0.900" and v["ConsistencyFracTauMax"] == "0.100"
    # H: last iteration, delta 0.1; c = 0 (model 0) against the largest c (model 2)
    assert v["NNIterations"] == "600" and v["NNDelta"] == r"\ensuremath{0.1}"
    assert v["NNFracCMin"] == "0.160" and v["NNFracCMax"] == "0.360"
    # I: first and last snapshot per parameterization
    assert v["EarlyFirstIter"] == "200" and v["EarlyLastIter"] == "400"
    assert v["EarlyNonsingularFirst"] == "0.120" and v["EarlyNonsingularLast"] == "0.140"
    assert v["EarlySingularFirst"] == "0.220" and v["EarlySingularLast"] == "0.240"
    # J: smallest and largest width at the final iteration
    assert (v["WidthMin"], v["WidthMax"]) == ("16", "64")
    assert (v["WidthFracMin"], v["WidthFracMax"]) == ("0.140", "0.240")
    # K: the data set with the fewest images (n2, listed second), 3 seeds per size, 4
    # evaluations (window: the last ceil(0.4) = 1): C4 ends at 0.9, 1.0, 0.8 (median 0.9),
    # C8 at 1.0, 1.0, 0.95 (median 1.0); last evaluation at 800 images = 400 epochs = 400 steps
    assert v["UnetDataset"] == "n2" and v["UnetNTrain"] == "2" and v["UnetSizes"] == "2"
    assert (v["UnetSteps"], v["UnetEpochs"], v["UnetImages"]) == ("400", "400", "800")
    assert (v["UnetFinalMin"], v["UnetFinalMax"]) == ("0.900", "1.000")
    assert v["UnetFinalList"] == ("0.900 (57{,}017 parameters), 1.000 (222{,}705 parameters)")
    assert v["UnetSeeds"] == "3 seeds on $N = 2$ and 1--2 on $N = 8$"
    assert (v["UnetWindow"], v["UnetLevel"]) == ("10\\%", "0.5")
    # the run's scale reaches the manuscript, from the table (not from the config)
    assert v["UnetScale"] == paper.escape(table_scale_label(tables["unet"]))
    assert v["UnetScale"].startswith("32x32, 800 images per training")
    assert v["UnetResolution"] == "32" and "preset=paper" in v["UnetPaperScaleCommand"]
    assert (v["ClaimsTotal"], v["ClaimsHolding"]) == ("3", "2")
    assert v["GuRatio"] == "1/3"


def test_values_macros_are_newcommands_with_letter_names(tables):
    text = paper.values_macros(tables, TOL, DELTA, *UNET)
    lines = [line for line in text.splitlines() if not line.startswith("%")]
    names = [re.fullmatch(r"\\newcommand\{\\([A-Za-z]+)\}\{.*\}", line).group(1) for line in lines]
    assert names == sorted(paper.values_dict(tables, TOL, DELTA, *UNET))


def test_values_macros_refuses_missing_or_empty_tables(tables):
    with pytest.raises(KeyError, match="claims"):
        paper.values_macros({k: t for k, t in tables.items() if k != "claims"}, TOL, DELTA, *UNET)
    with pytest.raises(ValueError, match="empty"):
        paper.values_macros({**tables, "tikhonov": tables["tikhonov"].iloc[:0]}, TOL, DELTA, *UNET)


def test_tables_tex_makes_every_table(tables):
    texts = paper.tables_tex(tables, TOL, *UNET)
    assert list(texts) == paper.TABLE_NAMES
    for name, text in texts.items():
        # the comparison is a float per family, each with its caption (test below)
        start = "\\begin{table}" if name == "comparison" else "\\begin{tabular}"
        assert text.startswith(start) and "\\bottomrule" in text, name
    assert r"\texttt{ve\_talk}" in texts["convergence"]
    assert r"$\delta=0.1$" in texts["nn_tikhonov"]
    assert r"x\_1 $\leq$ 2" in texts["claims"] and r"50\% ok" in texts["claims"]


def test_unet_table_gives_medians_over_seeds_per_data_set_and_size(tables):
    """By hand from tests/outputs/tables.py: per size the seeds, the median and range of
    the final fractions, the median first epoch >= 0.5 and the median last distance."""
    body = paper.unet_table(tables["unet"], WINDOW, LEVEL).splitlines()
    assert body[2] == (
        r"data set & $N$ & parameters & seeds & memorized & min--max & epochs to 0.5 & "
        r"squared distance \\"
    )
    assert body[4:8] == [
        # C4 on n2: first epochs 300, 200, 300; last distances 2, 1, 3
        r"\texttt{n2} & 2 & 57{,}017 & 3 & 0.90 & 0.80--1.00 & 300 & $2$ \\",
        # C8 on n2: first epochs 100, 200, 100; last distances 0.5, 0.25, 1
        r"\texttt{n2} & 2 & 222{,}705 & 3 & 1.00 & 0.95--1.00 & 100 & $0.5$ \\",
        # C4 on n8, two seeds: finals 0.3, 0.6; first epochs never, 100 (median: never);
        # last distances 8 and 4
        r"\texttt{n8} & 8 & 57{,}017 & 2 & 0.45 & 0.30--0.60 & never & $6$ \\",
        # C8 on n8, one seed: first at 400 images = 50 epochs
        r"\texttt{n8} & 8 & 222{,}705 & 1 & 0.70 & 0.70--0.70 & 50 & $3$ \\",
    ]


def test_comparison_table_sets_the_authors_values_beside_ours(tables):
    """From tests/outputs/tables.py: F at c = 1e-3 (authors 0.505 from a plot; ours 0.500,
    0.490--0.510), c = 1e-5 (0.9; ours 0.980, outside), c = 1e-4 (not computed), and I
    (printed 0.3; ours 0.240 in 0--1): one float per family."""
    tex = paper.comparison_table(tables["comparison"])
    assert tex.count("\\begin{table}") == 2 and tex.count("\\end{table}") == 2
    assert "\\label{tab:authors-F}" in tex and "\\label{tab:authors-I}" in tex
    assert "\\small" in tex and "family F:" in tex and "family I:" in tex
    assert r" & quantity & parameter & authors & ours [95\% interval] & inside \\" in tex
    rows = [line for line in tex.splitlines() if line.startswith(("F &", "I &"))]
    assert rows == [
        r"F & fraction\_matched & \texttt{ve}, $c=10^{-3}$, $\delta=0.01$ & $\approx$0.505 & "
        r"0.500 [0.490, 0.510] & yes \\",
        r"F & fraction\_matched & \texttt{ve}, $c=10^{-5}$, $\delta=0.01$ & $\approx$0.900 & "
        r"0.980 [0.970, 0.990] & \textbf{no} \\",
        r"F & fraction\_matched & \texttt{ve}, $c=10^{-4}$, $\delta=0.01$ & $\approx$0.400 & "
        r"-- & -- \\",
        r"I & fraction\_matched & singular, 400 it., $\delta=0.1$ & 0.300 & "
        r"0.240 [0.000, 1.000] & yes \\",
    ]


def test_comparison_table_splits_a_long_family_into_parts():
    """The package's 80 values of family I: two floats of 40 rows."""
    from memreg.outputs import comparison

    authors = comparison.load_authors_values()
    comp = comparison.compare(synthetic_tables(np.random.default_rng(0)), authors)
    tex = paper.comparison_table(comp[comp["family"] == "I"])
    assert (authors["family"] == "I").sum() == 2 * paper.COMPARISON_ROWS
    assert "\\label{tab:authors-I-1}" in tex and "\\label{tab:authors-I-2}" in tex
    assert "part 2 of 2" in tex
    assert len([line for line in tex.splitlines() if line.startswith("I &")]) == 80


def test_parameter_tex():
    assert paper.parameter_tex("tau=3.1622776601683794e-1;delta=1e-2") == (
        r"$\tau=0.316$, $\delta=0.01$"
    )
    assert paper.parameter_tex("c=1e-4;delta=5e-1;iteration=500000") == (
        r"$c=10^{-4}$, $\delta=0.5$, 500{,}000 it."
    )
    assert paper.parameter_tex("width=256;n_samples=1000") == r"width=256, n\_samples=1000"


# ----------------------------------------------------------------------------- main.tex


def test_main_tex_cites_only_generated_values_and_tables(tables):
    src = tex_source()
    used = {m for m in re.findall(r"\\([A-Za-z]+)", src) if m.startswith(VALUE_PREFIXES)}
    # RateVe: the ve process
    defined = set(paper.values_dict(tables, TOL, DELTA, *UNET)) | {"RateVe"}
    assert used <= defined, f"main.tex uses undefined value macros {used - defined}"
    inputs = re.findall(r"\\input\{\.\./generated/tables/([^}]+)\}", src)
    assert sorted(inputs) == sorted(paper.TABLE_NAMES)
    for section in (
        "Setting",
        "Comparison with the authors' numbers",
        "What this reproduction confirms",
    ):
        assert f"\\section{{{section}}}" in src
    assert "\\input{../generated/values}" in src


def test_main_tex_gives_the_paper_scale_command_once_with_its_hyphens(tables):
    """The manuscript's K paragraph names the paper-scale command once, in typewriter type,
    with hyphens that LaTeX does not turn into dashes."""
    command = paper.values_dict(tables, TOL, DELTA, *UNET)["UnetPaperScaleCommand"]
    assert command == r"\texttt{snakemake -{}-cores N -{}-config preset=paper}"
    src = tex_source()
    assert src.count("\\UnetPaperScaleCommand{}") == 1
    assert "--config" not in src and "the paper's scale: the paper's scale" not in src


def test_main_tex_includes_every_registered_figure(tmp_path):
    """The \\includegraphics names equal the registry: the figures/<name>.pdf outputs
    of a dry run of `rule all` (smoke preset, empty working directory)."""
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n", "--cores", "1",
           "all", "--config", "preset=smoke"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    registered = set(re.findall(r"figures/([A-Za-z0-9_]+)\.pdf", proc.stdout + proc.stderr))
    assert registered, "the dry run listed no figures"
    names = included_figures()
    assert len(names) == len(set(names)), "a figure is included twice"
    assert set(names) == registered


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk (TeX Live) not installed")
def test_main_tex_compiles_with_generated_parts(tables, tmp_path):
    """main.tex compiles, as rule `paper` runs it, on synthetic tables and blank figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (tmp_path / "figures").mkdir()
    for name in included_figures():
        fig = plt.figure(figsize=(2, 1))
        fig.savefig(tmp_path / "figures" / f"{name}.pdf")
        plt.close(fig)
    gen = tmp_path / "paper" / "generated"
    (gen / "tables").mkdir(parents=True)
    values = paper.values_macros(tables, TOL, DELTA, *UNET) + "\\newcommand{\\RateVe}{1.000}\n"
    (gen / "values.tex").write_text(values)
    for name, text in paper.tables_tex(tables, TOL, *UNET).items():
        (gen / "tables" / f"{name}.tex").write_text(text)
    build = tmp_path / "paper" / "build"
    build.mkdir()
    for src in ("main.tex", "refs.bib"):
        shutil.copyfile(REPO / "paper" / src, build / src)
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "main.tex"]
    proc = subprocess.run(cmd, cwd=build, capture_output=True, text=True, timeout=300)
    log = (build / "main.log").read_text(errors="replace") if (build / "main.log").exists() else ""
    assert proc.returncode == 0, log[-3000:]
    assert (build / "main.pdf").stat().st_size > 10_000
    assert "undefined" not in re.sub(r"\s+", " ", log).lower().replace("undefined on input", "X")
