# The claims table: the paper's testable claims checked against this run's tables
# (memreg.outputs.claims), as results/claims.csv and a figure-free page of the report. The
# tables it reads are memreg.outputs.summary.RESULT_TABLES, as the manuscript's are.
# Beside it, the authors' numbers next to ours (memreg.outputs.comparison), as
# results/comparison.csv and a page of the report next to the claims.

from dataclasses import asdict

from memreg.outputs.comparison import (
    COMPARED_TABLES,
    COMPARISON_PAGE,
    COMPARISON_TABLE,
    authors_values_file,
)
from memreg.outputs.claims import from_config as claims_settings
from memreg.outputs.summary import CLAIMS_TABLE, RESULT_TABLES

THRESHOLDS, CITED = claims_settings(config)  # config claims, boundaries.tol, paper.nn_delta


rule claims:
    """One row per claim: statement, quantity, criterion, measured value, holds."""
    input:
        **RESULT_TABLES,
    output:
        table=table(CLAIMS_TABLE),
        page=report("results/claims.html", caption="../report/claims.rst", category="0. Claims"),
    params:
        thresholds=asdict(THRESHOLDS),
        cited=asdict(CITED),
        processes=config["convergence"]["processes"],
    log:
        "logs/claims.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/claims.py"


rule comparison:
    """One row per value of the authors' notebooks: theirs, ours with its 95% interval,
    the difference and whether theirs lies inside our interval."""
    input:
        **COMPARED_TABLES,
        authors=authors_values_file(),
    output:
        table=table(COMPARISON_TABLE),
        page=report(COMPARISON_PAGE, caption="../report/comparison.rst", category="0. Claims"),
    log:
        "logs/comparison.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/comparison.py"
