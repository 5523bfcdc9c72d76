"""The repository stands alone: the settings page it cites exists, names only config keys
that exist, and no tracked file points outside the repository for the science."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SETTINGS = REPO / "docs" / "settings.md"
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())


def test_readme_links_the_settings_page():
    assert SETTINGS.exists()
    assert "(docs/settings.md)" in (REPO / "README.md").read_text()


def test_every_relative_link_of_the_docs_names_a_file_of_the_repository():
    pages = [REPO / "README.md", REPO / "benchmarks" / "README.md", *(REPO / "docs").glob("*.md")]
    links = 0
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name}: ({target}) does not exist"
            links += 1
    assert links >= 3, links


def test_every_config_key_named_on_the_settings_page_exists():
    # `section.key...` in backquotes whose first part is a section of config.yaml
    keys = [k for k in re.findall(r"`([a-z_0-9]+(?:\.[a-z_0-9]+)+)`", SETTINGS.read_text())
            if k.split(".")[0] in CONFIG]  # fmt: skip
    assert len(keys) > 20, keys
    for key in keys:
        node = CONFIG
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"{key}: no such config key"
            node = node[part]


@pytest.mark.skipif(
    shutil.which("git") is None or not (REPO / ".git").exists(), reason="not a git checkout"
)
def test_no_tracked_file_cites_a_file_outside_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()  # fmt: skip
    outside = ("../" + "shared", "shared" + "/", "PAPER" + ".md")  # split: this file passes too
    for name in files:
        if name.startswith(".ci/"):
            continue
        path = REPO / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_text(errors="ignore")
        assert not any(word in text for word in outside), name


def provenance_tables() -> dict[str, list[list[str]]]:
    """Families A-J of the settings page: heading letters -> the rows (setting, value,
    config key, source) of the table under "### <letters>: ..." in the section "Families
    A-J: every setting and its source"."""
    text = SETTINGS.read_text()
    section = text.split("## Families A-J: every setting and its source", 1)[1]
    section = section.split("\n## ", 1)[0]
    tables = {}
    for block in re.split(r"^### ", section, flags=re.M)[1:]:
        letters = block.split(":", 1)[0]
        lines = [line for line in block.splitlines() if line.startswith("|")]
        assert lines[0] == "| setting | value | config key | source |", letters
        rows = [re.split(r"(?<!\\)\|", line)[1:-1] for line in lines[2:]]
        tables[letters] = [[cell.strip() for cell in row] for row in rows]
    return tables


def test_every_family_a_to_j_has_a_table_of_its_settings_and_their_sources():
    tables = provenance_tables()
    covered = {f for letters in tables for f in re.findall(r"\b[A-J]\b", letters)}
    assert covered == set("ABCDEFGHIJ"), sorted(tables)
    for letters, rows in tables.items():
        assert len(rows) >= 3, letters
        for row in rows:
            assert len(row) == 4 and row[0] and row[3], (letters, row)
            # a notebook named as the source of a value names its cell
            if ".ipynb" in row[3] and row[1]:
                assert re.search(r"\bcells? \d+", row[3]), (letters, row)


NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def numbers_written(cell: str) -> list[float]:
    """The numbers a table cell writes: thousands separators read (500,000), and
    logspace(a, b, n) expanded to its n values."""
    cell = re.sub(r"(?<=\d),(?=\d{3}\b)", "", cell)
    out = [float(x) for x in re.findall(NUMBER, cell)]
    for a, b, n in re.findall(rf"logspace\(({NUMBER}), ({NUMBER}), (\d+)\)", cell):
        out += list(np.logspace(float(a), float(b), int(n)))
    return out


def test_each_value_in_the_tables_is_the_value_of_its_config_key():
    """Every number of a config key named in a row of the A-J tables (a scalar, or each entry
    of a list) is written in that row's value, unless the value refers to another row
    ("as F")."""
    checked = 0
    for letters, rows in provenance_tables().items():
        for _, value, keys, _ in rows:
            if value.startswith("as "):
                continue
            for key in re.findall(r"`([a-z_0-9]+(?:\.[a-z_0-9]+)+)`", keys):
                node = CONFIG
                for part in key.split("."):
                    node = node[part]
                entries = node if isinstance(node, list) else [node]
                if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           for v in entries):  # fmt: skip
                    continue
                written = numbers_written(value)
                for v in entries:
                    assert any(np.isclose(v, w, rtol=1e-9, atol=0) for w in written), (
                        f"{letters}: {key} = {v} is not in the value {value!r}"
                    )
                checked += 1
    assert checked >= 50, checked


def test_h_follows_the_notebook_where_it_does_and_marks_where_it_does_not():
    """H's EMA schedule and seeds follow the notebook (issue 23) and say where from; its
    training times and the sampler's integrator differ, and say so."""
    (h,) = [rows for letters, rows in provenance_tables().items() if letters.startswith("H")]
    source = {row[0]: row[3] for row in h}
    ema = source["EMA of the weights"]
    assert not ema.startswith("differs") and "ema-pytorch" in ema and "cell 6" in ema
    assert not source["seeds"].startswith("differs") and "cell 6" in source["seeds"]
    assert "differs" in source["sampler"] and "T1=0." in source["sampler"]
    assert source["training times"].startswith("differs")
