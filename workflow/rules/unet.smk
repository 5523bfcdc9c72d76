# Family K: EDM U-Nets trained on a few images of squares; one training job per
# (data set, model size, seed), evaluated every unet.train.eval_every images as it trains.

UN = config["unet"]
UNET_SIZES = [int(c) for c in UN["model_channels"]]


rule unet_images:
    """K: the training images, one square each, in [0, 1]."""
    output:
        "results/unet/images_{dataset}.npz",
    params:
        squares=lambda w: UN["datasets"][w.dataset],
        scale=UN["resolution"] / UN["squares_resolution"],
        resolution=UN["resolution"],
    wildcard_constraints:
        dataset="|".join(UN["datasets"]),
    log:
        "logs/unet_images/{dataset}.log",
    priority: 1000  # first: every U-Net training waits for it
    conda:
        CONDA_ENV,
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/unet_images.py"


rule train_unet:
    """K: train one U-Net on one data set from one seed, resuming from its checkpoint;
    evaluations inside."""
    input:
        "results/unet/images_{dataset}.npz",
    output:
        model="results/unet/{dataset}_c{channels}_s{seed}/model.pt",
        table="results/unet/{dataset}_c{channels}_s{seed}/evaluation.csv",
        grids="results/unet/{dataset}_c{channels}_s{seed}/grids.npz",
        loss="results/unet/{dataset}_c{channels}_s{seed}/loss.csv",
    params:
        architecture=lambda w: unet_architecture(w.channels),
        train=lambda w: {**UN["train"], "seed": int(w.seed)},
        evaluation=UN["evaluation"],
        device=UN["device"],
        cuda_graph=UN["cuda_graph"],
        cpu_hours_limit=UN["cpu_hours_limit"],
        allow_slow_cpu=UN["allow_slow_cpu"],
        checkpoint_dir=lambda w: f"results/unet/{w.dataset}_c{w.channels}_s{w.seed}",
    wildcard_constraints:
        dataset="|".join(UN["datasets"]),
        channels="|".join(str(c) for c in UNET_SIZES),
        seed=r"\d+",
    threads: UN["threads"]
    # After the short jobs, then longest first across families (train_mlp alike): the
    # estimated minutes, so that two cores end together instead of one finishing a long job.
    priority: lambda w: training_priority(unet_runtime(w.channels))
    conda:
        CONDA_ENV,
    resources:
        gpu_slots=1,  # `--resources gpu_slots=K`: at most K trainings at once (on one GPU)
        mem_mb=lambda w: 2000 + 200 * int(w.channels),
        runtime=lambda w: unet_runtime(w.channels),
    log:
        "logs/unet/train_{dataset}_c{channels}_s{seed}.log",
    script:
        "../scripts/train_unet.py"


concatenated_table(
    "results/unet/memorization.csv",
    [
        f"results/unet/{d}_c{c}_s{s}/evaluation.csv"
        for d in UN["datasets"]
        for c in UNET_SIZES
        for s in unet_seeds(d)
    ],
)
