# Every figure of the workflow, one rule each: rule fig_<name> writes figures/<name>.pdf
# and figures/<name>.png, which figure() (common.smk) registers for `rule all`, the report
# and the paper; `grep -rn <name> workflow/rules` finds the rule. Variants of one figure
# (a process, a regularization) are `use rule ... as fig_<name>`.
# The rule's script, workflow/scripts/fig_*.py, draws with one function of memreg.outputs.plots
# inside plots.made_by(rule, script, function, params.config): both files carry those
# four in their metadata (memreg.outputs.plots.save; params.config is the slice of the
# configuration the figure shows).

from memreg.metrics import GU_RATIO, ratio_text
from memreg.outputs.comparison import authors_values_file


rule fig_data_voronoi:
    """A: the authors' 20 points and their Voronoi tessellation."""
    input:
        "results/data/authors_points.npz",
    output:
        figure("data_voronoi", "A-E"),
    params:
        config=config_slice("data.authors_points"),
    log:
        "logs/fig_data_voronoi.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_data_voronoi.py"


# B, C: one figure per process; `rule all` builds those of config dynamics.processes.
DYNAMICS_PROCESSES = config["dynamics"]["processes"]


rule fig_ve_dynamics:
    """B (ve; C: vp): trajectories, weights, distance to x* with 2 sigma(t)."""
    input:
        "results/dynamics/trajectories_ve.npz",
    output:
        figure("ve_dynamics", "A-E", "dynamics", "ve" in DYNAMICS_PROCESSES),
    params:
        process="ve",
        config=config_slice("dynamics", "processes.ve"),
    log:
        "logs/fig_ve_dynamics.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_dynamics.py"


use rule fig_ve_dynamics as fig_vp_dynamics with:
    input:
        "results/dynamics/trajectories_vp.npz",
    output:
        figure("vp_dynamics", "A-E", "dynamics", "vp" in DYNAMICS_PROCESSES),
    params:
        process="vp",
        config=config_slice("dynamics", "processes.vp"),
    log:
        "logs/fig_vp_dynamics.log",


use rule fig_ve_dynamics as fig_ve_talk_dynamics with:
    input:
        "results/dynamics/trajectories_ve_talk.npz",
    output:
        figure("ve_talk_dynamics", "A-E", "dynamics", "ve_talk" in DYNAMICS_PROCESSES),
    params:
        process="ve_talk",
        config=config_slice("dynamics", "processes.ve_talk"),
    log:
        "logs/fig_ve_talk_dynamics.log",


for _process in DYNAMICS_PROCESSES:
    if f"{_process}_dynamics" not in REGISTRY["figures"]:
        raise WorkflowError(f"dynamics.processes: no rule fig_{_process}_dynamics in figures.smk")


rule fig_convergence_s:
    """D: |y(s) - x*| against s, one panel per process."""
    input:
        table="results/dynamics/convergence.csv",
        curves=expand("results/dynamics/convergence_{process}.npz", process=config["convergence"]["processes"]),
    output:
        figure("convergence_s", "A-E"),
    params:
        processes=config["convergence"]["processes"],
        config=config_slice("convergence"),
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
        config=config_slice("boundaries", "data.point_sets"),
    log:
        "logs/fig_voronoi_boundaries.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_voronoi_boundaries.py"


rule fig_tikhonov_samples:
    """F (G: consistency_samples): samples over the Voronoi diagram, one panel per c (tau)."""
    input:
        sweep_files("tikhonov", "npz"),
    output:
        figure("tikhonov_samples", "F-G", "regularized_samples"),
    params:
        kind="tikhonov",
        symbol=SWEEPS["tikhonov"][0],
        values=SWEEPS["tikhonov"][1],
        n_shown=REG["n_shown"],
        config=config_slice("regularization"),
    log:
        "logs/fig_tikhonov_samples.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_regularized_samples.py"


use rule fig_tikhonov_samples as fig_consistency_samples with:
    input:
        sweep_files("consistency", "npz"),
    output:
        figure("consistency_samples", "F-G", "regularized_samples"),
    params:
        kind="consistency",
        symbol=SWEEPS["consistency"][0],
        values=SWEEPS["consistency"][1],
        n_shown=REG["n_shown"],
        config=config_slice("regularization"),
    log:
        "logs/fig_consistency_samples.log",


rule fig_tikhonov_memorization:
    """F (G: consistency_memorization): fraction matching the data against c (tau)."""
    input:
        "results/regularization/tikhonov.csv",
    output:
        figure("tikhonov_memorization", "F-G", "memorization_curve"),
    params:
        kind="tikhonov",
        param=SWEEPS["tikhonov"][0],
        label="Tikhonov constant $c$",
        gu_ratio=ratio_text(GU_RATIO),  # for the caption; the plot builds its label alike
        config=config_slice("regularization"),
    log:
        "logs/fig_tikhonov_memorization.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_memorization_curve.py"


use rule fig_tikhonov_memorization as fig_consistency_memorization with:
    input:
        "results/regularization/consistency.csv",
    output:
        figure("consistency_memorization", "F-G", "memorization_curve"),
    params:
        kind="consistency",
        param=SWEEPS["consistency"][0],
        label=r"threshold $\tau$",
        gu_ratio=ratio_text(GU_RATIO),
        config=config_slice("regularization"),
    log:
        "logs/fig_consistency_memorization.log",


rule fig_score_vs_time:
    """F': |s_c(x*, t)| against t."""
    input:
        "results/regularization/score_vs_time.csv",
    output:
        figure("score_vs_time", "F-G"),
    params:
        config=config_slice("regularization.process", "regularization.score_vs_time"),
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
        config=config_slice("neural.tikhonov", "neural.sampling", "regularization.n_shown"),
    log:
        "logs/fig_nn_tikhonov_samples.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_nn_tikhonov_samples.py"


rule fig_nn_tikhonov_memorization:
    """H: fraction of MLP samples matching the data against c, per delta."""
    input:
        table="results/neural/tikhonov.csv",
        authors=authors_values_file(),  # the authors' values, drawn on the curves
    output:
        figure("nn_tikhonov_memorization", "H-J"),
    params:
        config=config_slice("neural.tikhonov", "neural.deltas"),
    log:
        "logs/fig_nn_tikhonov_memorization.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_nn_tikhonov_memorization.py"


rule fig_nn_score_vs_time:
    """H: |learned score| per c and |closed-form score| against t."""
    input:
        "results/neural/score_vs_time.csv",
    output:
        figure("nn_score_vs_time", "H-J"),
    params:
        config=config_slice("neural.tikhonov"),
    log:
        "logs/fig_nn_score_vs_time.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_nn_score_vs_time.py"


rule fig_nn_early_stopping:
    """I: nonsingular against singular parameterization, fraction matching per iteration."""
    input:
        table="results/neural/early_stopping.csv",
        authors=authors_values_file(),  # the authors' values, drawn on the curves
    output:
        figure("nn_early_stopping", "H-J"),
    params:
        config=config_slice("neural.early_stopping", "neural.deltas"),
    log:
        "logs/fig_nn_early_stopping.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_nn_early_stopping.py"


rule fig_nn_width:
    """J: fraction matching against iterations and against parameters, per width."""
    input:
        "results/neural/width.csv",
    output:
        figure("nn_width", "H-J"),
    params:
        config=config_slice("neural.width", "neural.deltas"),
    log:
        "logs/fig_nn_width.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_nn_width.py"


rule fig_unet_training_images:
    """K: the training images of every data set."""
    input:
        expand("results/unet/images_{dataset}.npz", dataset=list(UN["datasets"])),
    output:
        figure("unet_training_images", "K"),
    params:
        datasets=list(UN["datasets"]),
        config=config_slice("unet.datasets", "unet.resolution"),
    log:
        "logs/fig_unet_training_images.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_unet_training_images.py"


rule fig_unet_samples_vs_steps:
    """K: fixed-noise samples of one model, its first seed (rows: training epochs; columns:
    noise seeds)."""
    input:
        grids=(
            f"results/unet/{UN['grid']['dataset']}_c{UN['grid']['model_channels']}"
            f"_s{UN['train']['seed']}/grids.npz"
        ),
        images=f"results/unet/images_{UN['grid']['dataset']}.npz",
    output:
        figure("unet_samples_vs_steps", "K"),
    params:
        rows=UN["grid"]["rows"],
        config=config_slice("unet.grid", "unet.train", "unet.evaluation"),
    log:
        "logs/fig_unet_samples_vs_steps.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_unet_samples_vs_steps.py"


rule fig_unet_memorization:
    """K: fraction memorized and the authors' distance against epochs, the median over seeds
    with its range, one curve per model size, per data set."""
    input:
        "results/unet/memorization.csv",
    output:
        figure("unet_memorization", "K"),
    params:
        config=config_slice("unet.datasets", "unet.seeds", "unet.model_channels", "unet.train",
                            "unet.evaluation"),
    log:
        "logs/fig_unet_memorization.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_unet_memorization.py"
