"""The numbers the outputs cite, each computed once from the workflow's result tables.

A claim (:mod:`memreg.outputs.claims`), a macro or table of the manuscript
(:mod:`memreg.outputs.paper`) and a figure annotation (:mod:`memreg.outputs.plots`) that
cite the same quantity call the same function of this module, so the claims table, the manuscript
and the figures cannot disagree. Each function takes result tables (pandas frames
with the columns the workflow writes) and returns numbers, rows or small frames;
formatting is the consumers' business.

Two settings choose what is cited and are shared by every consumer: the boundary
tolerance (config ``boundaries.tol``, also the tolerance of the study itself) and the
delta of the neural-network fractions (config ``paper.nn_delta``, the nearest delta
of the table, :func:`cited_delta`). Family K's numbers are over seeds: per run (data set,
model size, seed) a value, per model size its median over seeds; the final window and
the level of "reaching memorization" are config ``claims.unet_final_window`` and
``claims.unet_level``, for the claims and the manuscript alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..metrics import TRAINING_POINT, VORONOI_BOUNDARY

# The result tables that claims and the manuscript read, by the key they are read
# under (memreg.outputs.claims.CHECKS, memreg.outputs.paper.VALUE_TABLES); the rules that write them
# name the same paths (tests/outputs/test_summary.py checks).
RESULT_TABLES = {
    "convergence": "results/dynamics/convergence.csv",
    "boundaries": "results/dynamics/boundaries.csv",
    "tikhonov": "results/regularization/tikhonov.csv",
    "consistency": "results/regularization/consistency.csv",
    "nn_tikhonov": "results/neural/tikhonov.csv",
    "early_stopping": "results/neural/early_stopping.csv",
    "width": "results/neural/width.csv",
    "unet": "results/unet/memorization.csv",
}
CLAIMS_TABLE = "results/claims.csv"


def truthy(x: object) -> bool:
    """A boolean cell as written to CSV or read back (``True``, ``"true"``, ``1``)."""
    if isinstance(x, str):
        return x.strip().lower() in ("true", "1", "yes")
    return bool(x)


# ----------------------------------------------------------------------------- D


def reaches_training_point(conv: pd.DataFrame) -> pd.Series:
    """Family D: per trajectory (row), whether its limit is a training point
    (``limit_class`` ``training_point``)."""
    return conv["limit_class"] == TRAINING_POINT


def convergence_by_process(conv: pd.DataFrame) -> pd.DataFrame:
    """Family D, one row per process in table order: ``n`` trajectories, how many
    ``reached`` a training point, their ``fraction``, and the ``median``, ``min`` and
    ``max`` of the fitted rates over the trajectories that reach a training point (NaN
    when none does). The ``median`` is "the median convergence rate" that claims
    ``rate_<process>``, the macros ``Rate<Process>``, the convergence table and the
    titles of figure ``convergence_s`` cite."""
    rows = []
    for process, r in conv.groupby("process", sort=False):
        hit = r[reaches_training_point(r)]
        rates = hit["rate"] if len(hit) else pd.Series([math.nan])
        rows.append(
            {
                "process": process,
                "n": len(r),
                "reached": len(hit),
                "fraction": len(hit) / len(r),
                "median": float(rates.median()),
                "min": float(rates.min()),
                "max": float(rates.max()),
            }
        )
    columns = ["process", "n", "reached", "fraction", "median", "min", "max"]
    return pd.DataFrame(rows, columns=columns)


def median_rates(conv: pd.DataFrame) -> dict[str, float]:
    """Family D: process -> median fitted rate over the trajectories that reach a
    training point (NaN when none does); the ``median`` of
    :func:`convergence_by_process`."""
    table = convergence_by_process(conv)
    return dict(zip(table["process"], table["median"]))


# ----------------------------------------------------------------------------- E


def on_face(bnd: pd.DataFrame) -> np.ndarray:
    """Family E: per start (row), whether it lies on a Voronoi face."""
    return bnd["start_on_face"].map(truthy).to_numpy(bool)


def boundary_counts(bnd: pd.DataFrame, tol: float) -> dict[str, float]:
    """Family E: ``starts``; ``face`` starts on a Voronoi face and ``face_at`` of them
    ending within ``tol`` of the predicted limit (the mean of the equidistant points);
    ``off`` and ``off_at`` the same for the other starts (predicted limit: their cell's
    point); ``right`` the starts whose limit is of the predicted class (on a face:
    ``voronoi_boundary``, else ``training_point``) and within ``tol``; ``worst`` the
    largest distance to the prediction."""
    face = on_face(bnd)
    at = bnd["distance_to_predicted"].to_numpy(float) <= tol
    expected = np.where(face, VORONOI_BOUNDARY, TRAINING_POINT)
    right = (bnd["limit_class"].to_numpy() == expected) & at if "limit_class" in bnd else at
    return {
        "starts": len(bnd),
        "face": int(face.sum()),
        "face_at": int((face & at).sum()),
        "off": int((~face).sum()),
        "off_at": int((~face & at).sum()),
        "right": int(right.sum()),
        "worst": float(bnd["distance_to_predicted"].max()),
    }


# ----------------------------------------------------------------------------- F, G


def sweep_rows(tab: pd.DataFrame, param: str) -> pd.DataFrame:
    """Families F, G: the rows of a sweep by increasing ``param`` (c or tau)."""
    return tab.sort_values(param)


def sweep_ends(tab: pd.DataFrame, param: str) -> tuple[pd.Series, pd.Series]:
    """Families F, G: the rows at the smallest and the largest ``param``."""
    rows = sweep_rows(tab, param)
    return rows.iloc[0], rows.iloc[-1]


def falls(tab: pd.DataFrame, param: str) -> bool:
    """Families F, G: the fraction matched is non-increasing in ``param`` within the
    bootstrap intervals: each fraction at most the upper bound (``ci_high``) of the one
    at the next smaller value."""
    rows = sweep_rows(tab, param)
    frac, high = rows["fraction_matched"].to_numpy(), rows["ci_high"].to_numpy()
    return bool(np.all(frac[1:] <= high[:-1]))


def sqrt_c_spread(tik: pd.DataFrame) -> tuple[float, float]:
    """Family F: (max / min over c of the median d1 / sqrt(c), the largest ratio of
    measured to predicted median d1 / sqrt(c) or its inverse)."""
    med = tik["median_distance_over_sqrt_c"].to_numpy()
    pred = tik["predicted_median_distance_over_sqrt_c"].to_numpy()
    worst = float(np.max(np.abs(np.log(med / pred))))
    return float(med.max() / med.min()), float(np.exp(worst))


# ----------------------------------------------------------------------------- H, I, J


def cited_delta(deltas: Iterable[float], target: float) -> float:
    """Families H, I, J: the delta whose fractions are cited, the one of ``deltas``
    nearest to ``target`` (config ``paper.nn_delta``) on a log scale."""
    vals = np.asarray(sorted(set(float(v) for v in deltas)))
    return float(vals[np.argmin(np.abs(np.log(vals) - math.log(target)))])


def _last_at(tab: pd.DataFrame, delta: float) -> pd.DataFrame:
    return tab[(tab["delta"] == delta) & (tab["iteration"] == tab["iteration"].max())]


def nn_tikhonov_ends(nn: pd.DataFrame, target: float) -> tuple[float, pd.Series, pd.Series]:
    """Family H: (delta, row at the smallest c, row at the largest c), at the last
    iteration and the cited delta (:func:`cited_delta`)."""
    delta = cited_delta(nn["delta"], target)
    last = _last_at(nn, delta).sort_values("c")
    return delta, last.iloc[0], last.iloc[-1]


def early_stopping_ends(
    early: pd.DataFrame, target: float
) -> tuple[float, dict[str, tuple[float, float]]]:
    """Family I: (delta, parameterization -> (fraction matched at the first snapshot, at
    the last)) at the cited delta, parameterizations in table order."""
    delta = cited_delta(early["delta"], target)
    rows = early[early["delta"] == delta]
    out = {}
    for param, r in rows.groupby("parameterization", sort=False):
        r = r.sort_values("iteration")
        out[param] = (float(r["fraction_matched"].iloc[0]), float(r["fraction_matched"].iloc[-1]))
    return delta, out


def width_ends(wid: pd.DataFrame, target: float) -> tuple[float, pd.Series, pd.Series]:
    """Family J: (delta, row of the smallest network, row of the largest) by parameter
    count, at the last iteration and the cited delta."""
    delta = cited_delta(wid["delta"], target)
    last = _last_at(wid, delta).sort_values("n_params")
    return delta, last.iloc[0], last.iloc[-1]


# ----------------------------------------------------------------------------- K

# The columns that name one training run of family K (a data set, a model size, a seed),
# and one model size of a data set (its runs differ by seed only).
UNET_RUN = ["dataset", "n_train", "model_channels", "n_params", "seed"]
UNET_SIZE = UNET_RUN[:-1]
# The coverage of the bootstrap intervals over seeds (as metrics.bootstrap_fraction's).
INTERVAL_LEVEL = 0.95
# A run's final window is ceil(window x evaluations) after rounding the product to this
# many decimals, so that 0.07 x 100 is 7 and not 8 by floating-point error.
_WINDOW_DECIMALS = 9


def unet_cited(unet: pd.DataFrame) -> pd.DataFrame:
    """Family K: the rows of the cited data set, the one with the fewest training
    images."""
    return unet[unet["n_train"] == unet["n_train"].min()]


def unet_seed_counts(unet: pd.DataFrame) -> pd.DataFrame:
    """Family K, one row per data set by increasing ``n_train``: ``dataset``,
    ``n_train`` and the ``min`` and ``max`` over its model sizes of the number of seeds
    (runs) of a size."""
    per_size = unet.groupby(UNET_SIZE)["seed"].nunique().rename("seeds").reset_index()
    out = per_size.groupby(["dataset", "n_train"])["seeds"].agg(["min", "max"]).reset_index()
    return out.sort_values("n_train").reset_index(drop=True)


def _runs(rows: pd.DataFrame):
    """(key, rows by increasing images seen) of every run (``UNET_RUN``) of ``rows``."""
    return rows.sort_values("images", kind="stable").groupby(UNET_RUN, sort=True)


def _per_run(values: list[tuple[tuple, float]]) -> pd.DataFrame:
    rows = [{**dict(zip(UNET_RUN, key)), "value": value} for key, value in values]
    return pd.DataFrame(rows, columns=[*UNET_RUN, "value"])


def window_size(n_evaluations: int, window: float) -> int:
    """Family K: how many of a run's ``n_evaluations`` form its final window,
    k = max(1, ceil(window x n_evaluations)) (e.g. 2 of 20 at window 0.1)."""
    return max(1, math.ceil(round(window * n_evaluations, _WINDOW_DECIMALS)))


def unet_final_mean(rows: pd.DataFrame, window: float) -> pd.DataFrame:
    """Family K, one row per run (``UNET_RUN``): ``value`` = (1/k) sum of the fraction
    memorized over the run's last k evaluations by images seen, k = :func:`window_size`
    (config ``claims.unet_final_window``)."""
    values = []
    for key, r in _runs(rows):
        k = window_size(len(r), window)
        values.append((key, float(r["fraction_memorized"].iloc[-k:].mean())))
    return _per_run(values)


def first_reaching(rows: pd.DataFrame, level: float, axis: str) -> pd.DataFrame:
    """Family K, one row per run: ``value`` = the ``axis`` ("epoch" or "images") of the
    run's first evaluation with fraction memorized >= ``level``; inf when none is."""
    values = []
    for key, r in _runs(rows):
        reached = r.loc[r["fraction_memorized"] >= level, axis]
        values.append((key, float(reached.iloc[0]) if len(reached) else math.inf))
    return _per_run(values)


def last_evaluation(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Family K, one row per run: ``value`` = ``column`` at its last evaluation (the
    most images seen)."""
    return _per_run([(key, float(r[column].iloc[-1])) for key, r in _runs(rows)])


def median_over_seeds(per_run: pd.DataFrame) -> pd.DataFrame:
    """Family K, one row per model size (``UNET_SIZE``) by data set (``n_train``) and
    increasing parameter count: the ``median``, ``min`` and ``max`` over its runs of the
    per-run ``value`` (:func:`unet_final_mean`, :func:`first_reaching`,
    :func:`last_evaluation`) and the number of ``seeds``. With an even number of seeds
    the median is the mean of the middle two; an inf among them gives inf."""
    stats = per_run.groupby(UNET_SIZE)["value"].agg(["median", "min", "max", "count"])
    out = stats.rename(columns={"count": "seeds"}).reset_index()
    return out.sort_values(["n_train", "n_params"]).reset_index(drop=True)


def unet_seed_bands(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Family K, one row per model size and evaluation (``images``; its ``epoch``): the
    ``median``, ``min`` and ``max`` over seeds of ``column`` at that evaluation and the
    number of ``seeds`` evaluated there, by data set, parameter count and images."""
    keys = [*UNET_SIZE, "images"]
    grouped = rows.groupby(keys)
    stats = grouped[column].agg(["median", "min", "max", "count"])
    out = stats.rename(columns={"count": "seeds"}).join(grouped["epoch"].first()).reset_index()
    return out.sort_values(["n_train", "n_params", "images"]).reset_index(drop=True)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties; inf ranks last); nan when
    either side is constant or has fewer than three points."""
    if len(x) < 3:
        return float("nan")
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def rank_correlation(medians: pd.DataFrame) -> float:
    """Family K: Spearman's rho of the per-size ``median`` (:func:`median_over_seeds`,
    one data set) with the parameter count."""
    return spearman(medians["n_params"].to_numpy(), medians["median"].to_numpy(float))


def rank_correlation_interval(
    per_run: pd.DataFrame, n_boot: int, seed: int, level: float = INTERVAL_LEVEL
) -> tuple[float, float, int]:
    """Family K: percentile-bootstrap interval (coverage ``level``) over seeds of
    :func:`rank_correlation`, for the per-run values of one data set. Each of ``n_boot``
    resamples (``numpy.random.default_rng(seed)``) draws, within every model size, as
    many runs as it has, with replacement, and takes rho of the resampled medians.
    Returns (low, high, resamples dropped because their rho is nan, e.g. all medians
    equal); (nan, nan, n_boot) when every rho is nan."""
    rng = np.random.default_rng(seed)
    sizes = per_run.groupby(UNET_SIZE)
    params = np.array([key[UNET_SIZE.index("n_params")] for key, _ in sizes], dtype=float)
    medians = np.column_stack(
        [
            np.median(v[rng.integers(0, len(v), size=(n_boot, len(v)))], axis=1)
            for v in (r["value"].to_numpy(float) for _, r in sizes)
        ]
    )
    rhos = np.array([spearman(params, m) for m in medians])
    kept = rhos[~np.isnan(rhos)]
    if not len(kept):
        return math.nan, math.nan, n_boot
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(kept, [tail, 100.0 - tail])
    return float(low), float(high), n_boot - len(kept)


# ----------------------------------------------------------------------------- claims


def claims_holding(claims: pd.DataFrame) -> tuple[int, int]:
    """(claims in all, claims that hold) of a claims table."""
    return len(claims), int(claims["holds"].map(truthy).sum())
