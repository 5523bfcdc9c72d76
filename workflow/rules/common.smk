# Configuration (layers merged and validated before any job starts, memreg.config) and
# the registry of figures and tables that `rule all` builds.

import os
import re
from pathlib import Path

from snakemake.common.configfile import load_configfile
from snakemake.exceptions import WorkflowError

import memreg.config
from memreg.data import scale_squares, square_images
from memreg.closed_form.process import PROCESSES
from memreg.closed_form.regularization import sweep_key
from memreg.mlp.model import network_seed
from memreg.unet.network import SettingError, UNetConfig
from memreg.unet.training import EvalConfig, UNetTrainConfig


def refuse(key, value, allowed):
    memreg.config.refuse(key, value, allowed)


def check_consistency(cfg):
    """Relations between keys that the JSON schema cannot express."""
    dyn, conv, bnd = cfg["dynamics"], cfg["convergence"], cfg["boundaries"]
    if dyn["weights_trajectory"] >= dyn["n_trajectories"]:
        refuse("dynamics.weights_trajectory", dyn["weights_trajectory"],
               f"an index below dynamics.n_trajectories = {dyn['n_trajectories']}")
    lo, hi = conv["fit_window"]
    if not lo < hi <= conv["s_max"]:
        refuse("convergence.fit_window", conv["fit_window"],
               f"[low, high] with low < high <= convergence.s_max = {conv['s_max']}")
    nn = cfg["neural"]
    for study in ("tikhonov", "early_stopping", "width"):
        run = nn[study]
        if run["snapshot_every"] > run["iterations"]:
            refuse(f"neural.{study}.snapshot_every", run["snapshot_every"],
                   f"at most neural.{study}.iterations = {run['iterations']}")
    if nn["save_every"] % nn["log_every"]:
        refuse("neural.save_every", nn["save_every"],
               f"a multiple of neural.log_every = {nn['log_every']}")
    if nn["score_error"]["t_min"] >= nn["score_error"]["t_max"]:
        refuse("neural.score_error.t_min", nn["score_error"]["t_min"],
               f"below neural.score_error.t_max = {nn['score_error']['t_max']}")
    if nn["tikhonov"]["score_vs_time"]["point"] >= cfg["data"]["authors_points"]["n"]:
        refuse("neural.tikhonov.score_vs_time.point", nn["tikhonov"]["score_vs_time"]["point"],
               f"an index below data.authors_points.n = {cfg['data']['authors_points']['n']}")
    check_unet(cfg["unet"])
    sets = cfg["data"]["point_sets"]
    for name in bnd["datasets"]:
        if name not in sets:
            refuse("boundaries.datasets", name, f"a key of data.point_sets: {sorted(sets)}")
        if any(len(p) != 2 for p in sets[name]):
            refuse(f"data.point_sets.{name}", sets[name], "a list of 2-D points [x, y]")


def unet_architecture(model_channels, UN=None):
    """Keyword arguments of memreg.unet.network.UNetConfig from the settings ``UN`` (config["unet"])."""
    UN = config["unet"] if UN is None else UN
    return {"resolution": UN["resolution"], "channels": 1, "model_channels": int(model_channels),
            "channel_mult": UN["channel_mult"], "num_blocks": UN["num_blocks"],
            "attn_resolutions": UN["attn_resolutions"]}


def library_settings(section, settings, **values):
    """``settings(**values)``, a settings dataclass of the library built from the config
    section ``section``: the dataclass checks its own values, and its refusal
    (memreg.unet.network.SettingError: the argument, its value, what is allowed) is re-raised here
    naming the config key."""
    try:
        return settings(**values)
    except SettingError as err:
        refuse(f"{section}.{err.name}", err.value, err.allowed)


def check_unet(un):
    """Family K: the shape (memreg.unet.network.UNetConfig) and the training and evaluation settings
    (memreg.unet.training.UNetTrainConfig, EvalConfig) are checked by building them as rule
    train_unet does; then what only the workflow asks: a checkpoint within the run, the grid
    model among the trained ones, the squares inside the images."""
    for channels in un["model_channels"]:
        library_settings("unet", UNetConfig, **unet_architecture(channels, un))
    library_settings("unet.train", UNetTrainConfig, **un["train"])
    library_settings("unet.evaluation", EvalConfig, **un["evaluation"])
    tr = un["train"]
    if tr["checkpoint_every"] > tr["images"]:
        refuse("unet.train.checkpoint_every", tr["checkpoint_every"],
               f"at most unet.train.images = {tr['images']}")
    if sorted(un["seeds"]) != sorted(un["datasets"]):
        refuse("unet.seeds", un["seeds"],
               f"a count of seeds for each key of unet.datasets: {sorted(un['datasets'])}")
    for name, squares in un["datasets"].items():
        if len(squares) % tr["batch_size"]:
            refuse("unet.train.batch_size", tr["batch_size"],
                   f"a divisor of every data set's size (unet.datasets.{name} has "
                   f"{len(squares)} images; an epoch is N / batch_size whole batches)")
    grid = un["grid"]
    if grid["dataset"] not in un["datasets"]:
        refuse("unet.grid.dataset", grid["dataset"], f"a key of unet.datasets: {sorted(un['datasets'])}")
    if grid["model_channels"] not in un["model_channels"]:
        refuse("unet.grid.model_channels", grid["model_channels"],
               f"one of unet.model_channels: {un['model_channels']}")
    scale = un["resolution"] / un["squares_resolution"]
    for name, squares in un["datasets"].items():
        try:
            square_images(scale_squares(squares, scale), un["resolution"])
        except ValueError as err:
            refuse(f"unet.datasets.{name}", squares,
                   f"squares [row, col, size] inside {un['squares_resolution']}^2 that stay "
                   f"distinct at unet.resolution = {un['resolution']} ({err})")


def merged_config():
    """config.yaml < the preset < --configfile files < --config, validated as a whole
    (memreg.config); refusals stop the run before any job as one paragraph."""
    base = load_configfile(str(Path(workflow.basedir) / "config.yaml"))
    files = [load_configfile(str(f)) for f in workflow.config_settings.configfiles]
    try:
        cfg = memreg.config.build(base, files, dict(workflow.config_settings.config))
        memreg.config.validate(cfg, load_configfile(str(SCHEMA)))
        check_consistency(cfg)
    except memreg.config.ConfigError as err:
        raise WorkflowError(str(err)) from None
    return cfg


SCHEMA = Path(workflow.current_basedir).parent / "schemas" / "config.schema.yaml"
_merged = merged_config()
config.clear()
config.update(_merged)


# Presets never overwrite each other: the preset that config.yaml itself selects (the run
# without --config preset=...) writes results/, figures/, logs/, paper/ and .snakemake/ in
# the working directory as always; any other preset P writes them under runs/P/ instead.
# Every process of the run (the main one, each local job, --report) parses this file from
# the same start directory and so changes into the same folder (a SLURM job starts there
# already); targets on the command line are paths inside it (results/claims.csv, not
# runs/P/results/claims.csv).
DEFAULT_PRESET = load_configfile(str(Path(workflow.basedir) / "config.yaml"))["preset"]
RUN_ROOT = Path() if config["preset"] == DEFAULT_PRESET else Path("runs") / config["preset"]
# A cluster job (SLURM) starts in the directory its run was submitted from, runs/P itself:
# it is already there and must not descend again.
INSIDE_RUN_ROOT = Path.cwd().parts[-2:] == RUN_ROOT.parts
if RUN_ROOT != Path() and not INSIDE_RUN_ROOT:
    RUN_ROOT.mkdir(parents=True, exist_ok=True)
    os.chdir(RUN_ROOT)

# The software of every rule: the conda environment of the whole workflow (used with
# `--sdm conda`; a plain run uses the environment it is started from).
CONDA_ENV = str(Path(workflow.basedir) / "environment.yml")


def process_params(name):
    """Keyword arguments of memreg.closed_form.process.make_process for the configured process ``name``."""
    return {"name": name, **config["processes"][name]}


# Helpers of the rule files, kept here for `snakemake --lint` (no functions beside rules).


def sweep_files(kind, ext):
    """The per-value files of regularization sweep ``kind`` (tikhonov or consistency)."""
    values = config["regularization"][sweep_key(kind)]
    return [f"results/regularization/{kind}/{float(v)!r}.{ext}" for v in values]


def nn_models(study):
    """The networks of a study: a list of memreg.mlp.model.ModelSpec keyword dicts, each
    with its own seed, memreg.mlp.model.network_seed(neural.seed, study, its position in the
    study's list: c of H, parameterization of I, width of J)."""
    NN = config["neural"]
    base = NN["seed"]
    if study == "tikhonov":
        return [{"seed": network_seed(base, study, k), "parameterization": "nonsingular",
                 "c": float(c)} for k, c in enumerate(NN["tikhonov"]["c"])]
    if study == "early_stopping":
        return [{"seed": network_seed(base, study, k), "parameterization": p, "c": 0.0}
                for k, p in enumerate(NN["early_stopping"]["parameterizations"])]
    k = NN["width"]["widths"].index(int(study.split("_")[1]))
    return [{"seed": network_seed(base, "width", k), "parameterization": "nonsingular",
             "c": 0.0}]


def nn_study(study):
    """Architecture, training settings and networks of ``study`` (tikhonov,
    early_stopping or width_<w>), as plain data for the scripts."""
    NN = config["neural"]
    run = NN["width"] if study.startswith("width_") else NN[study]
    width = int(study.split("_")[1]) if study.startswith("width_") else run["width"]
    every, n = run["snapshot_every"], run["iterations"]
    return {
        # the networks learn the score of the authors' points (rule train_mlp's input)
        "architecture": {"dim": config["data"]["authors_points"]["dim"], "width": width,
                         "n_hidden": NN["n_hidden"], "embedding_dim": NN["embedding_dim"]},
        "train": {"iterations": n, "lr": NN["lr"], "ema_decay": NN["ema_decay"],
                  "ema_update_after_step": NN["ema_update_after_step"],
                  "ema_update_every": NN["ema_update_every"],
                  "t_eps": NN["t_eps"], "save_every": NN["save_every"],
                  "log_every": NN["log_every"],
                  "snapshots": sorted({*range(every, n + 1, every), n})},
        "models": nn_models(study),
    }


def nn_runtime(study):
    """Minutes for the SLURM profile: measured ~2.5 ms per step for width 256 (five
    models), scaled by width^2 and padded twice over."""
    s = nn_study(study)
    width, n = s["architecture"]["width"], s["train"]["iterations"]
    ms = 0.5 + 2.0 * len(s["models"]) * (width / 256) ** 2
    return int(10 + 2 * n * ms / 60000)


def training_priority(minutes):
    """The scheduling priority of a training estimated at ``minutes``: below every other rule
    (priority 0: the closed-form families, figures and tables, a few minutes of work in all,
    run first, so that their results appear early), and among the trainings the longest
    first, so that two cores end together."""
    return minutes - 1_000_000


def unet_seeds(dataset):
    """The training seeds of data set ``dataset``: unet.train.seed + 0, 1, ..., seeds - 1."""
    UN = config["unet"]
    return [UN["train"]["seed"] + k for k in range(UN["seeds"][dataset])]


def unet_runtime(model_channels):
    """Minutes for a cluster profile: the CPU estimate of memreg.unet.scale.cpu_hours (the
    measured 2-thread timings of benchmarks/README.md), doubled for slack; a GPU
    job takes a small part of it."""
    from memreg.unet.scale import cpu_hours

    UN = config["unet"]
    train = UNetTrainConfig.from_config(UN["train"], UN["evaluation"])
    hours = cpu_hours(int(model_channels), UN["resolution"], train)
    return int(10 + 2 * 60 * hours)


# Every figure (figure(), called by the rules of figures.smk only) and every table (table())
# registers itself here once; `rule all` builds them all.
REGISTRY = {"figures": [], "tables": []}


CATEGORIES = {
    "A-E": "1. Empirical-score dynamics (A-E)",
    "F-G": "2. Closed-form regularization (F, F', G)",
    "H-J": "3. Neural-network scores (H, I, J)",
    "K": "4. U-Nets on images (K)",
}


def figure(name, family, caption=None, in_all=True):
    """figures/<name>.pdf and figures/<name>.png, the PNG in the report under ``family`` (a
    key of CATEGORIES) with the caption workflow/report/<caption, default name>.rst; ``name``
    registered for `rule all`, the report and the paper unless ``in_all`` is false."""
    if in_all and name not in REGISTRY["figures"]:
        REGISTRY["figures"].append(name)
    png = report(f"figures/{name}.png", caption=f"../report/{caption or name}.rst",
                 category=CATEGORIES[family], labels={"figure": name})
    return [f"figures/{name}.pdf", png]


def config_slice(*keys):
    """The configuration a figure shows, {key: value} for dotted ``keys`` ("unet.grid")."""
    out = {}
    for key in keys:
        value = config
        for part in key.split("."):
            value = value[part]
        out[key] = value
    return out


def table(path):
    """Register a results table (a CSV under results/) and return its path."""
    if path not in REGISTRY["tables"]:
        REGISTRY["tables"].append(path)
    return path


TABLE_PARTS = {}


def concatenated_table(path, parts):
    """Register table ``path`` as the row-wise concatenation of the CSVs ``parts``
    (made by rule concat_tables in collect.smk)."""
    TABLE_PARTS[path] = list(parts)
    return table(path)


def registered_outputs():
    pdfs = [f"figures/{name}.{ext}" for name in REGISTRY["figures"] for ext in ("pdf", "png")]
    return pdfs + REGISTRY["tables"]


wildcard_constraints:
    process="|".join(PROCESSES),
    dataset="|".join(config["data"]["point_sets"]),
