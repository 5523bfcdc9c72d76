"""memreg: memorization and regularization in generative diffusion models.

Reproduces Baptista, Dasgupta, Kovachki, Oberai, Stuart, arXiv:2501.15785.

    from memreg import EmpiricalScore, sample_ode
    score = EmpiricalScore(train, c=0.0)
    x = sample_ode(score, n=2000, seed=0)

Names are imported lazily (PEP 562), so that ``import memreg.outputs.plots`` or
``memreg.data`` does not pay for importing torch.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "EmpiricalScore": "closed_form.score",
    "conditional_score": "closed_form.score",
    "make_score": "closed_form.score",
    "PROCESSES": "closed_form.process",
    "Process": "closed_form.process",
    "make_process": "closed_form.process",
    "Trajectory": "closed_form.sampling",
    "sample_ode": "closed_form.sampling",
    "sample_sde": "closed_form.sampling",
    "time_grid": "closed_form.sampling",
    "authors_points": "data",
    "gaussian_samples": "data",
    "point_set": "data",
    "square_boundary_starts": "data",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'memreg' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
