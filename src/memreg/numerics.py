"""Floating-point modes for long CPU trainings: flushing subnormal floats to zero.

x86 arithmetic on subnormal (denormal) floats is slow. In a long training, the Adam
moments of units whose gradient has been exactly zero for a long time decay into the
subnormal range, and the optimizer step then costs several times what it does on
normal values. ``flush_subnormals`` runs a block with torch's flush-denormal mode on and
gives the previous mode back afterwards, so that a library user's other code is
untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def subnormals_flushed() -> bool:
    """Whether float arithmetic on the calling thread flushes subnormals to zero.

    torch has no getter of its flush-denormal mode, so this probes it: the smallest
    float32 subnormal, 2**-149 (built from its bits, without arithmetic), times 2 is the
    subnormal 2**-148 when subnormals are kept, and 0 when they are flushed (x86's DAZ
    reads the input as 0, FTZ writes the result as 0; either one is detected). The
    one-element product runs on the calling thread, whose mode torch sets.
    """
    tiny = torch.tensor([1], dtype=torch.int32).view(torch.float32)
    return bool((tiny * 2.0).item() == 0.0)


@contextmanager
def flush_subnormals() -> Iterator[bool]:
    """Run the block with subnormal floats flushed to zero, then restore the previous mode.

    Why: CPU arithmetic on subnormals (|x| < 1.18e-38 in float32) is many times slower
    than on normal floats, and long trainings produce them (Adam moments of units whose
    gradient has long been exactly zero). Flushed, those values read and are written as
    0; results change only at the level of the flushed values, and through what divides
    by them (an Adam step moves a weight by lr * m / (sqrt(v) + eps), at most about
    lr * 1.2e-38 / eps for a subnormal m).

    ``torch.set_flush_denormal(True)`` on entry; on exit (also on an exception) the mode
    found on entry (``subnormals_flushed``) is set again, so blocks nest and a mode that
    was already on stays on. Yields whether flushing is in effect: False where the CPU
    does not support it (``torch.set_flush_denormal`` returns False), and the block then
    runs unchanged.

    The mode belongs to the calling thread (on x86 its MXCSR register). torch's intra-op
    worker threads keep the mode they were created with (a thread inherits its creator's;
    the pool is made at the first parallel operation), so with ``torch.get_num_threads()
    > 1`` only the calling thread's share of a parallel operation is flushed, unless the
    mode was on when the pool was created.
    """
    previous = subnormals_flushed()
    try:
        yield torch.set_flush_denormal(True)
    finally:
        torch.set_flush_denormal(previous)
