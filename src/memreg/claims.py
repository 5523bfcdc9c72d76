"""The paper's testable claims, checked against the workflow's result tables.

Each check reads the tables of one figure family and returns a ``Claim``: the
statement in words, the quantity measured, the criterion, the measured value
and whether the criterion holds. A claim whose table is missing or empty is
reported as not holding (value "no data"), never dropped. The thresholds are
arguments (config ``claims``), so a reader sees what "holds" means.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .unet_scale import run_scale_note, table_scale_label

COLUMNS = ["id", "family", "claim", "quantity", "criterion", "value", "holds"]


@dataclass(frozen=True)
class Claim:
    id: str
    family: str
    claim: str
    quantity: str
    criterion: str
    value: str
    holds: bool


@dataclass(frozen=True)
class Thresholds:
    """What "holds" means for each claim (config ``claims``)."""

    rate_tolerance: float = 0.05  # |median rate - 1| <= this
    training_point_fraction: float = 0.95  # trajectories ending on a training point
    boundary_tolerance: float = 1e-6  # |limit - predicted limit| for the Voronoi-face claim
    sqrt_c_ratio: float = 2.0  # max / min of median d1 / sqrt(c) over c
    prediction_ratio: float = 1.25  # measured / predicted median d1 / sqrt(c) within [1/r, r]
    unet_memorized: float = 0.9  # final fraction memorized of every U-Net
    unet_level: float = 0.5  # "gets there": first step with fraction >= this
    unet_rank_correlation: float = -0.8  # Spearman(parameters, steps to unet_level) at most


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _mid_delta(table: pd.DataFrame) -> float:
    """The middle one of a table's deltas (upper middle for an even count)."""
    deltas = sorted(table["delta"].unique())
    return float(deltas[len(deltas) // 2])


def _falls(table: pd.DataFrame, param: str) -> tuple[bool, str]:
    """Fraction matched non-increasing in ``param`` within the bootstrap intervals:
    each fraction at most the upper bound of the one at the next smaller value."""
    rows = table.sort_values(param)
    frac, high = rows["fraction_matched"].to_numpy(), rows["ci_high"].to_numpy()
    ok = bool(np.all(frac[1:] <= high[:-1]))
    pairs = ", ".join(f"{v:g}: {f:.3f}" for v, f in zip(rows[param], frac))
    return ok, pairs


def convergence_rate(conv: pd.DataFrame, th: Thresholds) -> list[Claim]:
    out = []
    for process, rows in conv.groupby("process", sort=False):
        hit = rows[rows["limit_class"] == "training_point"]
        rate = float(hit["rate"].median()) if len(hit) else float("nan")
        out.append(
            Claim(
                f"rate_{process}",
                "D",
                f"The empirical-score ODE converges to a training point at rate 1 in s ({process})",
                "median fitted rate r in |y(s) - x*| ~ K exp(-r s) over trajectories that reach "
                "a training point",
                f"|r - 1| <= {th.rate_tolerance:g}",
                _fmt(rate),
                bool(abs(rate - 1) <= th.rate_tolerance),
            )
        )
    return out


def returns_training_points(conv: pd.DataFrame, th: Thresholds) -> list[Claim]:
    frac = conv.groupby("process")["limit_class"].apply(lambda c: (c == "training_point").mean())
    worst = float(frac.min())
    value = ", ".join(f"{p}: {f:.3f}" for p, f in frac.items())
    return [
        Claim(
            "returns_training_points",
            "D",
            "Sampling with the unregularized empirical score returns the training points",
            "fraction of random starts whose limit is a training point, per process",
            f"every fraction >= {th.training_point_fraction:g}",
            value,
            bool(worst >= th.training_point_fraction),
        )
    ]


def voronoi_faces(bnd: pd.DataFrame, th: Thresholds) -> list[Claim]:
    on_face = bnd["start_on_face"].astype(bool)
    expected = np.where(on_face, "voronoi_boundary", "training_point")
    right = (bnd["limit_class"].to_numpy() == expected) & (
        bnd["distance_to_predicted"].to_numpy() <= th.boundary_tolerance
    )
    return [
        Claim(
            "voronoi_faces",
            "E",
            "Starts on a Voronoi face stay on it and end at the mean of the equidistant points; "
            "all other starts reach their cell's point",
            "starts whose limit is the predicted one (on face: the equidistant mean; else: the "
            "cell's point)",
            f"all, within {th.boundary_tolerance:g}",
            f"{int(right.sum())} of {len(right)} ({int(on_face.sum())} on a face)",
            bool(right.all() and on_face.any()),
        )
    ]


def tikhonov(tik: pd.DataFrame, th: Thresholds) -> list[Claim]:
    ok, pairs = _falls(tik, "c")
    med = tik["median_distance_over_sqrt_c"].to_numpy()
    pred = tik["predicted_median_distance_over_sqrt_c"].to_numpy()
    spread = float(med.max() / med.min())
    worst = float(np.max(np.abs(np.log(med / pred))))
    return [
        Claim(
            "tikhonov_falls",
            "F",
            "The fraction of Tikhonov samples matching the data falls as c grows",
            "fraction within delta of a training point, per c",
            "each fraction <= the upper 95% bound at the next smaller c",
            pairs,
            ok,
        ),
        Claim(
            "tikhonov_sqrt_c",
            "F",
            "Tikhonov samples end at distance ~ sqrt(c) from the data, as the locked "
            "contraction predicts",
            "median d1 / sqrt(c) over c: max / min, and the largest ratio to its prediction",
            f"max / min <= {th.sqrt_c_ratio:g} and measured / predicted within "
            f"[1/{th.prediction_ratio:g}, {th.prediction_ratio:g}]",
            f"max / min {spread:.3f}; largest measured / predicted {np.exp(worst):.3f}",
            bool(spread <= th.sqrt_c_ratio and np.exp(worst) <= th.prediction_ratio),
        ),
    ]


def consistency(con: pd.DataFrame, th: Thresholds) -> list[Claim]:
    ok, pairs = _falls(con, "tau")
    return [
        Claim(
            "consistency_falls",
            "G",
            "The fraction of asymptotic-consistency samples matching the data falls as tau grows",
            "fraction within delta of a training point, per tau",
            "each fraction <= the upper 95% bound at the next smaller tau",
            pairs,
            ok,
        )
    ]


def neural_tikhonov(tab: pd.DataFrame, th: Thresholds) -> list[Claim]:
    delta = _mid_delta(tab)
    last = tab[(tab["iteration"] == tab["iteration"].max()) & (tab["delta"] == delta)]
    lo, hi = last.loc[last["c"].idxmin()], last.loc[last["c"].idxmax()]
    return [
        Claim(
            "nn_tikhonov",
            "H",
            "A larger Tikhonov penalty makes the learned score memorize less",
            f"fraction matching (delta = {delta:g}) at the last iteration, smallest vs largest c",
            "smaller at the largest c",
            f"c = {lo['c']:g}: {lo['fraction_matched']:.3f}; c = {hi['c']:g}: "
            f"{hi['fraction_matched']:.3f}",
            bool(hi["fraction_matched"] < lo["fraction_matched"]),
        )
    ]


def early_stopping(tab: pd.DataFrame, th: Thresholds) -> list[Claim]:
    delta = _mid_delta(tab)
    rows = tab[tab["delta"] == delta]
    parts, ok = [], True
    for param, r in rows.groupby("parameterization", sort=False):
        r = r.sort_values("iteration")
        first, last = r["fraction_matched"].iloc[0], r["fraction_matched"].iloc[-1]
        ok &= bool(first < last)
        parts.append(f"{param}: {first:.3f} -> {last:.3f}")
    return [
        Claim(
            "early_stopping",
            "I",
            "Early stopping memorizes less: memorization grows with training iterations",
            f"fraction matching (delta = {delta:g}) at the first and last snapshot, per "
            "parameterization",
            "first < last for every parameterization",
            "; ".join(parts),
            ok,
        )
    ]


def width(tab: pd.DataFrame, th: Thresholds) -> list[Claim]:
    delta = _mid_delta(tab)
    last = tab[(tab["iteration"] == tab["iteration"].max()) & (tab["delta"] == delta)]
    last = last.sort_values("n_params")
    small, large = last.iloc[0], last.iloc[-1]
    return [
        Claim(
            "width",
            "J",
            "Smaller networks memorize less",
            f"fraction matching (delta = {delta:g}) at the last iteration, smallest vs largest "
            "width",
            "smaller for the smallest width",
            f"width {small['width']}: {small['fraction_matched']:.3f}; width {large['width']}: "
            f"{large['fraction_matched']:.3f}",
            bool(small["fraction_matched"] < large["fraction_matched"]),
        )
    ]


def first_steps(rows: pd.DataFrame, level: float) -> pd.Series:
    """Per model size (index: model_channels), the first evaluation step whose fraction
    memorized is at least ``level``; inf for a size that never gets there."""
    return rows.groupby("model_channels").apply(
        lambda r: float(r.loc[r["fraction_memorized"] >= level, "step"].min())
        if (r["fraction_memorized"] >= level).any() else float("inf"),
        include_groups=False,
    )


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties; inf ranks last); nan when
    either side is constant or has fewer than three points."""
    if len(x) < 3:
        return float("nan")
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def unet(tab: pd.DataFrame, th: Thresholds) -> list[Claim]:
    """Family K on the run's own scale (stated in every row): (a) on the smallest data set
    every size ends memorized; (b) there, the steps to reach ``unet_level`` fall with the
    parameter count (Spearman rank correlation at most ``unet_rank_correlation``); (c) the
    largest data set gets there later than the smallest, size by size."""
    scale = run_scale_note(table_scale_label(tab))
    n_small, n_large = tab["n_train"].min(), tab["n_train"].max()
    small, large = tab[tab["n_train"] == n_small], tab[tab["n_train"] == n_large]
    final = small.sort_values("step").groupby("model_channels").tail(1).sort_values("n_params")
    ends = ", ".join(f"C{r.model_channels}: {r.fraction_memorized:.2f}" for r in final.itertuples())
    level = th.unet_level
    first = first_steps(small, level)
    params = small.groupby("model_channels")["n_params"].first()
    rho = spearman(params.loc[first.index].to_numpy(), first.to_numpy())
    steps = ", ".join(f"C{c}: {first[c]:g}" for c in first.index)
    first_large = first_steps(large, level)
    shared = [c for c in first.index if c in first_large.index]
    later = [first_large[c] > first[c] for c in shared]
    pairs = ", ".join(f"C{c}: {first[c]:g} / {first_large[c]:g}" for c in shared)
    return [
        Claim(
            "unet_memorizes",
            "K",
            f"Every U-Net trained on N = {n_small} images ends in memorization",
            f"final fraction of samples equal to a training image, per size ({scale})",
            f"every final fraction >= {th.unet_memorized:g}",
            ends,
            bool((final["fraction_memorized"] >= th.unet_memorized).all()),
        ),
        Claim(
            "unet_sooner",
            "K",
            f"Larger U-Nets memorize sooner (N = {n_small})",
            f"first evaluation step with fraction >= {level:g} per size (inf: never), and "
            f"Spearman's rank correlation rho of those steps with the parameter count ({scale})",
            f"rho <= {th.unet_rank_correlation:g} (at least 3 sizes)",
            f"{steps}; rho = {rho:.2f}",
            bool(rho <= th.unet_rank_correlation),
        ),
        Claim(
            "unet_more_data_later",
            "K",
            f"More training images delay memorization (N = {n_large} against N = {n_small})",
            f"first evaluation step with fraction >= {level:g}, N = {n_small} / N = {n_large}, "
            f"per size (inf: never; {scale})",
            f"later on N = {n_large} for every size (never counts as later)",
            pairs if shared else "no size trained on both",
            bool(shared and n_large > n_small and all(later)),
        ),
    ]


CHECKS: list[tuple[tuple[str, ...], Callable[..., list[Claim]], list[tuple[str, str]]]] = [
    (("convergence",), convergence_rate, [("rate_{process}", "D")]),
    (("convergence",), returns_training_points, [("returns_training_points", "D")]),
    (("boundaries",), voronoi_faces, [("voronoi_faces", "E")]),
    (("tikhonov",), tikhonov, [("tikhonov_falls", "F"), ("tikhonov_sqrt_c", "F")]),
    (("consistency",), consistency, [("consistency_falls", "G")]),
    (("nn_tikhonov",), neural_tikhonov, [("nn_tikhonov", "H")]),
    (("early_stopping",), early_stopping, [("early_stopping", "I")]),
    (("width",), width, [("width", "J")]),
    (("unet",), unet, [("unet_memorizes", "K"), ("unet_sooner", "K"),
                       ("unet_more_data_later", "K")]),
]


def evaluate_claims(tables: dict[str, pd.DataFrame | None], th: Thresholds) -> pd.DataFrame:
    """One row per claim (columns ``COLUMNS``) from the tables named as in ``CHECKS``:
    convergence, boundaries, tikhonov, consistency, nn_tikhonov, early_stopping, width,
    unet. A missing or empty table gives its claims as not holding, value "no data"."""
    rows: list[Claim] = []
    for names, check, ids in CHECKS:
        data = [tables.get(n) for n in names]
        if any(d is None or d.empty for d in data):
            rows += [
                Claim(i, fam, check.__name__.replace("_", " "), "-", "-", "no data", False)
                for i, fam in ids
            ]
            continue
        rows += check(*data, th)
    return pd.DataFrame([asdict(r) for r in rows], columns=COLUMNS)


def claims_html(table: pd.DataFrame) -> str:
    """A figure-free HTML page of the claims table for the report."""
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td style='color:{'green' if r.holds else 'crimson'}'><b>{r.holds}</b></td>"
            if c == "holds"
            else f"<td>{_escape(str(getattr(r, c)))}</td>"
            for c in COLUMNS
        )
        + "</tr>"
        for r in table.itertuples()
    )
    n, ok = len(table), int(table["holds"].sum())
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Claims</title>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px;"
        "vertical-align:top}table{border-collapse:collapse}</style></head><body>"
        f"<h1>What the reproduction confirms</h1><p>{ok} of {n} claims hold on this run.</p>"
        f"<table><tr>{head}</tr>{body}</table></body></html>"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
