# The claims table: the paper's testable claims checked against this run's tables
# (memreg.outputs.claims), as results/claims.csv and a figure-free page of the report. The
# tables it reads are memreg.outputs.summary.RESULT_TABLES, as the manuscript's are.

from memreg.outputs.summary import CLAIMS_TABLE, RESULT_TABLES


rule claims:
    """One row per claim: statement, quantity, criterion, measured value, holds."""
    input:
        **RESULT_TABLES,
    output:
        table=table(CLAIMS_TABLE),
        page=report("results/claims.html", caption="../report/claims.rst", category="0. Claims"),
    params:
        thresholds=config["claims"],
        boundary_tol=config["boundaries"]["tol"],
        nn_delta=config["paper"]["nn_delta"],
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
