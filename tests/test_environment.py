"""environment.yml and pyproject.toml name the same runtime dependencies, with
compatible version ranges, so the conda environment and pip install never drift."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}  # pip name -> conda-forge name where they differ


def parse(spec: str) -> tuple[str, str]:
    """("name", "range") of a requirement such as "numpy>=1.24" or "snakemake[reports]>=9"."""
    spec = spec.split("#")[0].strip()
    match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", spec)
    assert match, spec
    return match.group(1).lower(), match.group(3).replace(" ", "")


def lower_bound(rng: str) -> tuple[int, ...] | None:
    found = re.search(r">=([0-9.]+)", rng)
    return tuple(int(p) for p in found.group(1).split(".")) if found else None


def conda_dependencies() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = [d for d in env["dependencies"] if isinstance(d, str)]
    return dict(parse(d.replace("=", "==", 1) if re.match(r"^[\w-]+=[^=]", d) else d)
                for d in deps)  # fmt: skip


def test_every_runtime_dependency_is_in_the_conda_environment():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    conda = conda_dependencies()
    for requirement in project["dependencies"]:
        name, rng = parse(requirement)
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in conda, f"{name} ({requirement}) missing from environment.yml"
        pip_low, conda_low = lower_bound(rng), lower_bound(conda[conda_name])
        if pip_low is not None:
            assert conda_low is not None and conda_low >= pip_low, (
                f"environment.yml has {conda_name}{conda[conda_name]}, pyproject {requirement}"
            )
    if "reports" in " ".join(project["dependencies"]):
        assert "pygments" in conda  # what snakemake[reports] adds


def test_environment_has_python_311_and_installs_this_package():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert "-e ." in pip
