"""The Snakemake workflow profiles (profiles/*) and the rules' resource declarations
that a cluster run relies on. Fast: YAML, rule text and dry runs, no cluster
(ci/slurm_smoke.sh runs the profiles on a real SLURM)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "profiles"
SNAKEMAKE = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))
# A harmless default profile: how a run reports and recovers, never what or how much it runs.
DEFAULT_PROFILE_KEYS = {
    "rerun-incomplete",
    "printshellcmds",
    "show-failed-logs",
    "keep-going",
    "latency-wait",
}


def profile(name: str) -> dict:
    data = yaml.safe_load((PROFILES / name / "config.yaml").read_text())
    assert isinstance(data, dict), name
    return data


def rule_blocks() -> dict[str, str]:
    """Rule name -> the text of its block, for every rule in workflow/rules/*.smk."""
    blocks = {}
    for path in RULE_FILES:
        text = path.read_text()
        starts = list(re.finditer(r"^rule (\w+):", text, flags=re.M))
        for k, match in enumerate(starts):
            end = starts[k + 1].start() if k + 1 < len(starts) else len(text)
            # the block ends at the next top-level statement
            body = re.split(r"\n(?=\S)", text[match.end() : end], maxsplit=1)[0]
            blocks[match.group(1)] = body
    return blocks


def dry_run(cwd: Path, workdir: Path, *args: str) -> str:
    cmd = [SNAKEMAKE, "-n", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{out[-3000:]}"
    return out


def job_resources(out: str, rule: str) -> list[dict[str, str]]:
    """The `resources:` of every job of ``rule`` in a dry run's output."""
    found = []
    for block in re.split(r"\n(?=rule \w+:)", out):
        if block.startswith(f"rule {rule}:"):
            line = re.search(r"^\s+resources: (.*)$", block, flags=re.M).group(1)
            found.append(dict(item.split("=", 1) for item in line.split(", ")))
    assert found, f"no job of rule {rule} in:\n{out[-2000:]}"
    return found


@pytest.mark.parametrize("name", ["default", "slurm", "slurm-ci"])
def test_profile_parses(name):
    assert profile(name)


def test_default_profile_is_harmless():
    assert set(profile("default")) <= DEFAULT_PROFILE_KEYS


def test_every_rule_declares_memory_and_runtime():
    blocks = rule_blocks()
    assert len(blocks) >= 20, sorted(blocks)  # the parser found the rules
    for name, body in blocks.items():
        resources = re.search(r"^    resources:\n((?:        .*\n?)+)", body, flags=re.M)
        assert resources, f"rule {name} declares no resources"
        for key in ("mem_mb", "runtime"):
            assert re.search(rf"^        {key}=", resources.group(1), flags=re.M), (name, key)


def test_slurm_profile():
    slurm = profile("slurm")
    assert slurm["executor"] == "slurm"
    assert slurm["jobs"] > 0 and slurm["latency-wait"] > 0
    defaults = slurm["default-resources"]
    assert isinstance(defaults["mem_mb"], int) and defaults["mem_mb"] > 0
    assert isinstance(defaults["runtime"], int) and defaults["runtime"] > 0  # minutes
    # site-specific: left for the user (commented out), never a made-up value
    assert "slurm_account" not in defaults and "slurm_partition" not in defaults
    # the plugin's GPU request (sbatch --gpus=N), not a gres string in slurm_extra
    assert slurm["set-resources"]["train_unet"]["gpu"] == 1
    # it replaces profiles/default, so it repeats it
    assert profile("default").items() <= slurm.items()


def test_overridden_rules_exist():
    rules = set(rule_blocks())
    for name in ("slurm", "slurm-ci"):
        data = profile(name)
        for key in ("set-resources", "set-threads"):
            assert set(data.get(key) or {}) <= rules, (name, key)


def test_ci_profile_fits_the_test_cluster():
    ci = profile("slurm-ci")
    assert "executor" not in ci  # layered on profiles/slurm, whose executor it tests
    assert ci["default-resources"]["slurm_partition"] == "debug"
    assert ci["slurm-status-command"] == "squeue"  # no slurmdbd, so no sacct
    assert ci["set-resources"]["train_unet"]["gpu"] == 0  # no GPU there
    standup = (REPO / "ci" / "slurm_standup.sh").read_text()
    assert re.search(r"^PartitionName=debug ", standup, flags=re.M)
    min_job_age = int(re.search(r"^MinJobAge=(\d+)", standup, flags=re.M).group(1))
    assert min_job_age >= 3 * ci["slurm-init-seconds-before-status-checks"]


def test_bare_profile_names_resolve_beside_the_snakefile(tmp_path):
    # targets before --config, which takes every KEY=VALUE after it
    smoke = ("results/unet/n2_c4_s0/model.pt", "--config", "preset=smoke")
    # from the repository root, and from elsewhere with -s <repo>/Snakefile
    for cwd in (REPO, tmp_path):
        out = dry_run(cwd, tmp_path / "run", *smoke)
        assert re.search(r"workflow specific profile \S*profiles/default\b", out)
        out = dry_run(cwd, tmp_path / "run", "--workflow-profile", "slurm", *smoke)
        assert re.search(r"workflow specific profile \S*profiles/slurm\b", out)
        (train,) = job_resources(out, "train_unet")
        assert train["gpu"] == "1" and "slurm_partition" not in train
    assert not (tmp_path / "run" / "results").exists()


def test_ci_profile_is_layered_on_the_slurm_profile(tmp_path):
    out = dry_run(
        REPO,
        tmp_path,
        "--profile",
        str(PROFILES / "slurm"),
        "--workflow-profile",
        str(PROFILES / "slurm-ci"),
        "results/unet/n2_c4_s0/model.pt",
        "results/dynamics/convergence.csv",
        "--config",
        "preset=smoke",
    )
    assert "Using profile" in out and "workflow specific profile" in out
    (train,) = job_resources(out, "train_unet")
    assert train["gpu"] == "0" and train["slurm_partition"] == "debug"
    for job in job_resources(out, "convergence"):
        assert job["slurm_partition"] == "debug"
        assert job["mem_mb"] == "1000" and job["runtime"] == "10"  # the rule's own
