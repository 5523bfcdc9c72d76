# Families H, I, J: MLP scores trained by denoising score matching, then sampled.
# One training job per study: H (all c together), I (both parameterizations
# together), J (one job per width); the networks of a job train as one batched
# computation (memreg.mlp.model.MLPGroup).

NN = config["neural"]


NN_STUDIES = ["tikhonov", "early_stopping", *[f"width_{w}" for w in NN["width"]["widths"]]]


rule train_mlp:
    """H, I, J: train the networks of one study; resumes from its last checkpoint."""
    input:
        "results/data/authors_points.npz",
    output:
        model="results/neural/{study}/model.pt",
        loss="results/neural/{study}/loss.csv",
    params:
        study=lambda w: nn_study(w.study),
        process=process_params(NN["process"]),
        state_dir="results/neural/{study}",
    wildcard_constraints:
        study="|".join(NN_STUDIES),
    threads: 1
    priority: lambda w: training_priority(nn_runtime(w.study))  # after the short jobs, longest first
    conda:
        CONDA_ENV,
    resources:
        mem_mb=2000,
        runtime=lambda w: nn_runtime(w.study),
    log:
        "logs/neural/train_{study}.log",
    script:
        "../scripts/train_mlp.py"


rule evaluate_mlp:
    """H, I, J: sample every network at every snapshot; memorization per delta."""
    input:
        model="results/neural/{study}/model.pt",
        data="results/data/authors_points.npz",
    output:
        table="results/neural/{study}/evaluation.csv",
        samples="results/neural/{study}/samples.npz",
    params:
        process=process_params(NN["process"]),
        sampling=NN["sampling"],
        t_eps=NN["t_eps"],  # where the singular networks' samples end
        deltas=NN["deltas"],
        n_boot=NN["n_boot"],
        score_error=NN["score_error"],
    wildcard_constraints:
        study="|".join(NN_STUDIES),
    threads: 1
    log:
        "logs/evaluate_mlp/{study}.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../scripts/evaluate_mlp.py"


rule nn_score_vs_time:
    """H: |learned score| and |closed-form score| against t at a perturbed training point."""
    input:
        model="results/neural/tikhonov/model.pt",
        data="results/data/authors_points.npz",
    output:
        table("results/neural/score_vs_time.csv"),
    params:
        process=process_params(NN["process"]),
        curves=NN["tikhonov"]["score_vs_time"],
    log:
        "logs/nn_score_vs_time.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/nn_score_vs_time.py"


concatenated_table("results/neural/tikhonov.csv", ["results/neural/tikhonov/evaluation.csv"])
concatenated_table(
    "results/neural/early_stopping.csv", ["results/neural/early_stopping/evaluation.csv"]
)
concatenated_table(
    "results/neural/width.csv",
    [f"results/neural/width_{w}/evaluation.csv" for w in NN["width"]["widths"]],
)
