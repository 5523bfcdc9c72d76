# The manuscript (paper/main.pdf): paper/main.tex from the repository, the figures of
# the registry and the tables/macros generated from results/ (memreg.outputs.paper).
#
# Sources stay in the repository (<repo>/paper, found from this file, so `snakemake -d
# DIR` works); rule `paper` copies them to DIR/paper/build/, compiles there (paths in
# main.tex are relative to that folder: ../generated/, ../../figures/) and copies the PDF
# to DIR/paper/main.pdf. Needs latexmk and TeX Live; without latexmk, PAPER_TARGETS is
# empty and `rule all` skips the paper.

import shutil
import sys
from dataclasses import asdict
from pathlib import Path

from memreg.outputs.comparison import COMPARISON_TABLE
from memreg.outputs.paper import TABLE_NAMES, VALUE_TABLES

PAPER_SOURCES = Path(str(workflow.current_basedir)).parents[1] / "paper"
TEX_PACKAGES = "latexmk texlive-latex-recommended texlive-fonts-recommended texlive-latex-extra"

if shutil.which("latexmk"):
    PAPER_TARGETS = ["paper/main.pdf"]
else:
    PAPER_TARGETS = []
    if workflow.is_main_process:
        print(
            "memreg: latexmk not found, skipping paper/main.pdf; to build it install TeX, "
            f"e.g. Debian/Ubuntu: apt-get install --no-install-recommends {TEX_PACKAGES}",
            file=sys.stderr,
        )


localrules: paper_generated, paper  # on the submit host, where latexmk is


rule paper_generated:
    """The macros the prose cites (values.tex) and the numeric tables, from results/
    (the comparison table: the authors' numbers beside ours)."""
    input:
        **VALUE_TABLES,
        comparison=COMPARISON_TABLE,
    output:
        values="paper/generated/values.tex",
        tables=expand("paper/generated/tables/{name}.tex", name=TABLE_NAMES),
    params:
        thresholds=asdict(THRESHOLDS),  # claims.smk: memreg.outputs.claims.from_config
        cited=asdict(CITED),
    log:
        "logs/paper_generated.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/paper_generated.py"


rule paper:
    """paper/main.pdf: latexmk on a copy of the repository's paper/ sources."""
    input:
        values="paper/generated/values.tex",
        tables=expand("paper/generated/tables/{name}.tex", name=TABLE_NAMES),
        figures=lambda w: [f"figures/{name}.pdf" for name in REGISTRY["figures"]],
        tex=PAPER_SOURCES / "main.tex",
        bib=PAPER_SOURCES / "refs.bib",
    output:
        "paper/main.pdf",
    log:
        "logs/paper.log",
    params:
        build="paper/build",
        packages=TEX_PACKAGES,
    conda:
        CONDA_ENV,
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/paper_build.py"
