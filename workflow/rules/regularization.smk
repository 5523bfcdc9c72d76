# Families F, F', G: sampling with closed-form regularized scores.
# One job per parameter value: the wildcard {value} is repr(float(value)) of an
# entry of the config list, so a changed value reruns one job.

from memreg.closed_form.regularization import SWEEP_PARAMS, sweep_key

REG = config["regularization"]
SWEEPS = {kind: (param, REG[sweep_key(kind)]) for kind, param in SWEEP_PARAMS.items()}
SWEEP_KIND = "|".join(SWEEP_PARAMS)  # the {kind} wildcard: tikhonov|consistency


rule regularized_sampling:
    """F (Tikhonov c) and G (consistency tau): samples of one regularized score."""
    input:
        "results/data/authors_points.npz",
    output:
        row="results/regularization/{kind}/{value}.csv",
        samples="results/regularization/{kind}/{value}.npz",
    params:
        spec=lambda w: {"kind": w.kind, SWEEPS[w.kind][0]: float(w.value)},
        process=lambda w: process_params(REG["process"]),
        study={k: REG[k] for k in ("n_samples", "seed", "t_min", "n_steps", "delta", "n_boot")},
    wildcard_constraints:
        kind=SWEEP_KIND,
        value=r"[0-9][0-9.e+-]*",
    threads: 1
    log:
        "logs/regularized_sampling/{kind}_{value}.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/regularized_sampling.py"


for _kind in SWEEPS:
    concatenated_table(f"results/regularization/{_kind}.csv", sweep_files(_kind, "csv"))


rule score_vs_time:
    """F': |s_c(x*, t)| against t for several c."""
    input:
        "results/data/authors_points.npz",
    output:
        table("results/regularization/score_vs_time.csv"),
    params:
        process=process_params(REG["process"]),
        curves=REG["score_vs_time"],
    log:
        "logs/score_vs_time.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/score_vs_time.py"
