"""Shared test settings: one torch thread (the tests' networks are tiny, and two
threads on a loaded 2-core machine only contend)."""

import torch

torch.set_num_threads(1)
