"""The repository stands alone: the settings page it cites exists, names only config keys
that exist, and no tracked file points outside the repository for the science."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SETTINGS = REPO / "docs" / "settings.md"
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())


def test_readme_links_the_settings_page():
    assert SETTINGS.exists()
    assert "(docs/settings.md)" in (REPO / "README.md").read_text()


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
