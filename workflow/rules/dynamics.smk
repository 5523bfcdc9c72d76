# Families B-E: dynamics of the probability-flow ODE driven by the empirical score.


rule trajectories:
    """B, C: probability-flow trajectories of the empirical score for one process."""
    input:
        "results/data/authors_points.npz",
    output:
        "results/dynamics/trajectories_{process}.npz",
    params:
        process=lambda w: process_params(w.process),
        study={k: v for k, v in config["dynamics"].items() if k != "processes"},
    threads: 1
    log:
        "logs/trajectories/{process}.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/trajectories.py"


rule convergence:
    """D: |y(s) - x*| against s and the fitted rate, for one process."""
    input:
        "results/data/authors_points.npz",
    output:
        table="results/dynamics/convergence_{process}.csv",
        curves="results/dynamics/convergence_{process}.npz",
    params:
        process=lambda w: process_params(w.process),
        study={k: v for k, v in config["convergence"].items() if k != "processes"},
    threads: 1
    log:
        "logs/convergence/{process}.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/convergence.py"


rule boundaries:
    """E: starts on a square around a small point set, integrated to s_max."""
    input:
        "results/data/{dataset}.npz",
    output:
        table="results/dynamics/boundaries_{dataset}.csv",
        paths="results/dynamics/boundaries_{dataset}.npz",
    params:
        process=process_params(config["boundaries"]["process"]),
        study={k: v for k, v in config["boundaries"].items() if k not in ("datasets", "process")},
        dataset=lambda w: w.dataset,
    threads: 1
    log:
        "logs/boundaries/{dataset}.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/boundaries.py"


concatenated_table(
    "results/dynamics/convergence.csv",
    expand("results/dynamics/convergence_{process}.csv", process=config["convergence"]["processes"]),
)
concatenated_table(
    "results/dynamics/boundaries.csv",
    expand("results/dynamics/boundaries_{dataset}.csv", dataset=config["boundaries"]["datasets"]),
)
