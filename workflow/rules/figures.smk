# Figures: each reads tables/arrays from results/ and draws with memreg.plots.

from memreg.metrics import GU_RATIO, ratio_text


rule fig_data_voronoi:
    """A: the authors' 20 points and their Voronoi tessellation."""
    input:
        "results/data/authors_points.npz",
    output:
        figure("data_voronoi", "A-E"),
    log:
        "logs/fig_data_voronoi.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_data_voronoi.py"


for _process in config["dynamics"]["processes"]:
    register_figure(f"{_process}_dynamics")


rule fig_dynamics:
    """B (ve), C (vp): trajectories, weights, distance to x* with 2 sigma(t)."""
    input:
        "results/dynamics/trajectories_{process}.npz",
    output:
        figure_outputs("{process}_dynamics", "A-E", "dynamics"),
    log:
        "logs/fig_dynamics/{process}.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_dynamics.py"


rule fig_convergence_s:
    """D: |y(s) - x*| against s, one panel per process."""
    input:
        table="results/dynamics/convergence.csv",
        curves=expand("results/dynamics/convergence_{process}.npz", process=config["convergence"]["processes"]),
    output:
        figure("convergence_s", "A-E"),
    params:
        processes=config["convergence"]["processes"],
    log:
        "logs/fig_convergence_s.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_convergence_s.py"


rule fig_voronoi_boundaries:
    """E: starts on Voronoi faces end on them; all others at their cell's point."""
    input:
        table="results/dynamics/boundaries.csv",
        paths=expand("results/dynamics/boundaries_{dataset}.npz", dataset=config["boundaries"]["datasets"]),
    output:
        figure("voronoi_boundaries", "A-E"),
    params:
        datasets=config["boundaries"]["datasets"],
    log:
        "logs/fig_voronoi_boundaries.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_voronoi_boundaries.py"


REG_LABELS = {"tikhonov": ("c", "Tikhonov constant $c$"), "consistency": ("tau", r"threshold $\tau$")}


rule fig_regularized_samples:
    """F, G: samples over the Voronoi diagram, one panel per c (or tau)."""
    input:
        lambda w: sweep_files(w.kind, "npz"),
    output:
        figure_outputs("{kind}_samples", "F-G", "regularized_samples"),
    params:
        values=lambda w: SWEEPS[w.kind][1],
        symbol=lambda w: SWEEPS[w.kind][0],
        n_shown=REG["n_shown"],
    wildcard_constraints:
        kind=SWEEP_KIND,
    log:
        "logs/fig_regularized_samples/{kind}.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_regularized_samples.py"


rule fig_memorization_curve:
    """F, G: fraction matching the data against c (or tau)."""
    input:
        "results/regularization/{kind}.csv",
    output:
        figure_outputs("{kind}_memorization", "F-G", "memorization_curve"),
    params:
        param=lambda w: REG_LABELS[w.kind][0],
        label=lambda w: REG_LABELS[w.kind][1],
        gu_ratio=ratio_text(GU_RATIO),  # for the caption; the plot builds its label alike
    wildcard_constraints:
        kind=SWEEP_KIND,
    log:
        "logs/fig_memorization_curve/{kind}.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_memorization_curve.py"


for _kind in SWEEPS:
    register_figure(f"{_kind}_samples")
    register_figure(f"{_kind}_memorization")


rule fig_score_vs_time:
    """F': |s_c(x*, t)| against t."""
    input:
        "results/regularization/score_vs_time.csv",
    output:
        figure("score_vs_time", "F-G"),
    log:
        "logs/fig_score_vs_time.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_score_vs_time.py"


rule fig_nn_tikhonov_samples:
    """H: samples of the MLP scores over the Voronoi diagram, one panel per c."""
    input:
        "results/neural/tikhonov/samples.npz",
    output:
        figure("nn_tikhonov_samples", "H-J"),
    params:
        c=NN["tikhonov"]["c"],
        n_shown=REG["n_shown"],
    log:
        "logs/fig_nn_tikhonov_samples.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_nn_tikhonov_samples.py"


NN_FIGURES = {
    "nn_tikhonov_memorization": ("results/neural/tikhonov.csv", "nn_memorization"),
    "nn_score_vs_time": ("results/neural/score_vs_time.csv", "nn_score_vs_time"),
    "nn_early_stopping": ("results/neural/early_stopping.csv", "nn_early_stopping"),
    "nn_width": ("results/neural/width.csv", "nn_width"),
}
for _name, (_table, _function) in NN_FIGURES.items():

    rule:
        name:
            f"fig_{_name}"
        input:
            _table,
        output:
            figure(_name, "H-J"),
        log:
            f"logs/fig_{_name}.log",
        params:
            function=_function,
        conda:
            CONDA_ENV,
        resources:
            mem_mb=1000,
            runtime=5,
        script:
            "../scripts/fig_from_table.py"
