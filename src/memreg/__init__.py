"""memreg: memorization and regularization in generative diffusion models.

Reproduces Baptista, Dasgupta, Kovachki, Oberai, Stuart, arXiv:2501.15785.

    from memreg import EmpiricalScore, sample_ode
    score = EmpiricalScore(train, c=0.0)
    x = sample_ode(score, n=2000, seed=0)
"""

from .data import authors_points, gaussian_samples, point_set, square_boundary_starts
from .process import PROCESSES, Process, make_process
from .sampling import Trajectory, sample_ode, sample_sde, time_grid
from .score import EmpiricalScore, conditional_score

__all__ = [
    "EmpiricalScore",
    "PROCESSES",
    "Process",
    "Trajectory",
    "authors_points",
    "conditional_score",
    "gaussian_samples",
    "make_process",
    "point_set",
    "sample_ode",
    "sample_sde",
    "square_boundary_starts",
    "time_grid",
]
__version__ = "0.1.0"
