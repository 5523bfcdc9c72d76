# memreg: reproduce arXiv:2501.15785 (Baptista, Dasgupta, Kovachki, Oberai, Stuart).
#   snakemake --cores N                        every figure, table and the paper, paper scale
#   snakemake --cores N --config preset=smoke  the same rules at smoke scale, under runs/smoke/
# Rules live in workflow/rules, one file per experiment family; the science lives
# in the memreg package (src/memreg); scripts in workflow/scripts only adapt.

import os
from pathlib import Path

from snakemake.utils import min_version

min_version("9.20")

# Figures are drawn without a display, by matplotlib's Agg backend: jobs inherit this
# environment (local ones) or parse this file again (cluster ones).
os.environ.update(MPLBACKEND="Agg")


report: "workflow/report/workflow.rst"


# The repository's config.yaml, also when run with --directory elsewhere; common.smk
# merges the preset, --configfile FILE and --config KEY=VALUE on top of it, in that order.
configfile: Path(workflow.basedir) / "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/dynamics.smk"
include: "workflow/rules/regularization.smk"
include: "workflow/rules/neural.smk"
include: "workflow/rules/unet.smk"
include: "workflow/rules/collect.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/paper.smk"


rule all:
    input:
        registered_outputs(),
        PAPER_TARGETS,
    default_target: True
