"""A workflow job's log file: what the job read and wrote, its messages, and any traceback.

``start(job)`` is the first line of every script in ``workflow/scripts``: from then on the
process's stderr (progress bars, warnings, ``logging``, an uncaught exception's traceback) is
appended to the rule's log file, which opens with the rule's name, inputs and outputs; so a
failed job's log holds its cause (and Snakemake prints a failed job's log: ``show-failed-logs``
in the profiles).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any


def start(job: Any) -> Path:
    """Log the job to ``job.log[0]`` (a Snakemake ``snakemake`` object: rule, input, output,
    log). Returns the log's path."""
    path = Path(job.log[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    stream = path.open("a", buffering=1)  # line-buffered: a killed job keeps what it wrote
    sys.stderr = stream
    logging.basicConfig(
        stream=stream, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", force=True
    )
    log = logging.getLogger("memreg.job")
    log.info("rule %s", job.rule)
    for kind, files in (("input", job.input), ("output", job.output)):
        for name in files:
            log.info("%s %s", kind, name)
    return path
