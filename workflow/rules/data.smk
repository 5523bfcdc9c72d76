# Family A data: the authors' 2-D points and the small fixed point sets.


rule authors_points:
    output:
        "results/data/authors_points.npz",
    params:
        cfg=config["data"]["authors_points"],
    log:
        "logs/authors_points.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/data.py"


rule point_set:
    output:
        "results/data/{dataset}.npz",
    params:
        points=lambda w: config["data"]["point_sets"][w.dataset],
    log:
        "logs/point_set/{dataset}.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/data.py"
