# Configuration (layers merged and validated before any job starts, memreg.config) and
# the registry of figures and tables that `rule all` builds.

import os
import re
from pathlib import Path

from snakemake.common.configfile import load_configfile
from snakemake.exceptions import WorkflowError

import memreg.config
import memreg.mlp.study
from memreg.closed_form.process import PROCESSES
from memreg.closed_form.regularization import sweep_key
import memreg.unet.scale


def merged_config():
    """config.yaml < the preset < --configfile files < --config, validated as a whole
    (memreg.config); refusals stop the run before any job as one paragraph."""
    base = load_configfile(str(Path(workflow.basedir) / "config.yaml"))
    files = [load_configfile(str(f)) for f in workflow.config_settings.configfiles]
    try:
        cfg = memreg.config.build(base, files, dict(workflow.config_settings.config))
        memreg.config.validate(cfg, load_configfile(str(SCHEMA)))
        memreg.config.check_relations(cfg)
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


def nn_study(study):
    """Architecture, training settings and networks of ``study`` (tikhonov, early_stopping
    or width_<w>), as plain data for the scripts (memreg.mlp.study.settings)."""
    return memreg.mlp.study.settings(config, study)


def nn_runtime(study):
    """Minutes for a cluster profile (memreg.mlp.study.runtime_minutes)."""
    return memreg.mlp.study.runtime_minutes(config, study)


def unet_architecture(model_channels):
    """Keyword arguments of memreg.unet.network.UNetConfig (memreg.config.unet_architecture)."""
    return memreg.config.unet_architecture(config["unet"], model_channels)


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
    """Minutes for a cluster profile (memreg.unet.scale.runtime_minutes)."""
    return memreg.unet.scale.runtime_minutes(config["unet"], model_channels)


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
