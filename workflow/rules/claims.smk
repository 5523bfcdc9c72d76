# The claims table: the paper's testable claims checked against this run's tables
# (memreg.claims), as results/claims.csv and a figure-free page of the report.

CLAIM_TABLES = {
    "convergence": "results/dynamics/convergence.csv",
    "boundaries": "results/dynamics/boundaries.csv",
    "tikhonov": "results/regularization/tikhonov.csv",
    "consistency": "results/regularization/consistency.csv",
    "nn_tikhonov": "results/neural/tikhonov.csv",
    "early_stopping": "results/neural/early_stopping.csv",
    "width": "results/neural/width.csv",
    "unet": "results/unet/memorization.csv",
}


rule claims:
    """One row per claim: statement, quantity, criterion, measured value, holds."""
    input:
        **CLAIM_TABLES,
    output:
        table=table("results/claims.csv"),
        page=report("results/claims.html", caption="../report/claims.rst", category="0. Claims"),
    params:
        thresholds=config["claims"],
    log:
        "logs/claims.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/claims.py"
