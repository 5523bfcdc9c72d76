"""Snakemake adapter: compile a copy of paper/main.tex with latexmk, in paper/build/."""

import shutil
import subprocess
import sys
from pathlib import Path

from memreg import joblog

log = joblog.start(snakemake)

latexmk = shutil.which("latexmk")
if latexmk is None:
    raise RuntimeError(
        "latexmk not found: paper/main.pdf needs TeX Live, e.g. on Debian/Ubuntu "
        f"apt-get install --no-install-recommends {snakemake.params.packages}"
    )
build = Path(snakemake.params.build)
build.mkdir(parents=True, exist_ok=True)
for src in (snakemake.input.tex, snakemake.input.bib):
    shutil.copyfile(src, build / Path(src).name)
cmd = [latexmk, "-pdf", "-interaction=nonstopmode", "-halt-on-error", "main.tex"]
proc = subprocess.run(cmd, cwd=build, capture_output=True, text=True, timeout=900)
sys.stderr.write(f"$ cd {build} && {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}\n")
if proc.returncode != 0:
    tex_log = build / "main.log"
    lines = tex_log.read_text(errors="replace").splitlines() if tex_log.exists() else []
    first = next((i for i, line in enumerate(lines) if line.startswith("!")), len(lines))
    error = "\n".join(lines[first : first + 6])
    sys.stderr.write(f"\n--- tail of {tex_log} ---\n" + "\n".join(lines[-60:]) + "\n")
    raise RuntimeError(f"latexmk failed (exit {proc.returncode}); see {log} and {tex_log}\n{error}")
shutil.copyfile(build / "main.pdf", snakemake.output[0])
