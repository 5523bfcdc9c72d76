"""Shared test settings: one torch thread (the tests' networks are tiny, and two
threads on a loaded 2-core machine only contend); matplotlib's Agg backend, as the
workflow's jobs have it (memreg.outputs.plots chooses none), so that no test needs a display."""

import os

os.environ["MPLBACKEND"] = "Agg"

import torch  # noqa: E402

torch.set_num_threads(1)
