"""The paper's testable claims, checked against the workflow's result tables.

Each check reads the tables of one figure family and returns a ``Claim``: the
statement in words, the quantity measured, the criterion, the measured value
and whether the criterion holds. A claim whose table is missing or empty is
reported as not holding (value "no data"), never dropped. The thresholds are
arguments (config ``claims``), so a reader sees what "holds" means. The measured
numbers come from :mod:`memreg.outputs.summary`, as the manuscript's and the figures' do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from ..closed_form.regularization import SWEEP_PARAMS
from ..unet.scale import run_scale_note, table_scale_label
from . import summary

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
    """What "holds" means for each claim (config ``claims``, no defaults here)."""

    rate_tolerance: float  # |median rate - 1| <= this
    training_point_fraction: float  # trajectories ending on a training point
    sqrt_c_ratio: float  # max / min of median d1 / sqrt(c) over c
    prediction_ratio: float  # measured / predicted median d1 / sqrt(c) within [1/r, r]
    unet_memorized: float  # final fraction memorized of every U-Net
    unet_level: float  # "gets there": first step with fraction >= this
    unet_rank_correlation: float  # Spearman(parameters, steps to unet_level) at most


@dataclass(frozen=True)
class Cited:
    """Which measured numbers are cited, shared with the manuscript (memreg.outputs.paper)."""

    boundary_tol: float  # config boundaries.tol: a limit within this is at its prediction
    nn_delta: float  # config paper.nn_delta: the delta of H, I, J (nearest in the table)


def from_config(config: dict) -> tuple[Thresholds, Cited]:
    """The thresholds and the cited settings from a workflow configuration."""
    cited = Cited(config["boundaries"]["tol"], config["paper"]["nn_delta"])
    return Thresholds(**config["claims"]), cited


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _sweep(tab: pd.DataFrame, param: str) -> tuple[bool, str]:
    """Whether the fraction matched falls in ``param`` (summary.falls), and the pairs
    value: fraction per value."""
    rows = summary.sweep_rows(tab, param)
    pairs = ", ".join(f"{v:g}: {f:.3f}" for v, f in zip(rows[param], rows["fraction_matched"]))
    return summary.falls(tab, param), pairs


def convergence_rate(conv: pd.DataFrame, th: Thresholds, cited: Cited) -> list[Claim]:
    out = []
    for process, rate in summary.median_rates(conv).items():
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


def returns_training_points(conv: pd.DataFrame, th: Thresholds, cited: Cited) -> list[Claim]:
    frac = summary.convergence_by_process(conv).sort_values("process")
    worst = float(frac["fraction"].min())
    value = ", ".join(f"{p}: {f:.3f}" for p, f in zip(frac["process"], frac["fraction"]))
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


def voronoi_faces(bnd: pd.DataFrame, th: Thresholds, cited: Cited) -> list[Claim]:
    n = summary.boundary_counts(bnd, cited.boundary_tol)
    return [
        Claim(
            "voronoi_faces",
            "E",
            "Starts on a Voronoi face stay on it and end at the mean of the equidistant points; "
            "all other starts reach their cell's point",
            "starts whose limit is the predicted one (on face: the equidistant mean; else: the "
            "cell's point)",
            f"all, within {cited.boundary_tol:g}",
            f"{n['right']} of {n['starts']} ({n['face']} on a face)",
            bool(n["right"] == n["starts"] and n["face"] > 0),
        )
    ]


def tikhonov(tik: pd.DataFrame, th: Thresholds, cited: Cited) -> list[Claim]:
    ok, pairs = _sweep(tik, SWEEP_PARAMS["tikhonov"])
    spread, worst = summary.sqrt_c_spread(tik)
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
            f"max / min {spread:.3f}; largest measured / predicted {worst:.3f}",
            bool(spread <= th.sqrt_c_ratio and worst <= th.prediction_ratio),
        ),
    ]


def consistency(con: pd.DataFrame, th: Thresholds, cited: Cited) -> list[Claim]:
    ok, pairs = _sweep(con, SWEEP_PARAMS["consistency"])
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


def neural_tikhonov(tab: pd.DataFrame, th: Thresholds, cited: Cited) -> list[Claim]:
    delta, lo, hi = summary.nn_tikhonov_ends(tab, cited.nn_delta)
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


def early_stopping(tab: pd.DataFrame, th: Thresholds, cited: Cited) -> list[Claim]:
    delta, ends = summary.early_stopping_ends(tab, cited.nn_delta)
    parts = [f"{param}: {first:.3f} -> {last:.3f}" for param, (first, last) in ends.items()]
    return [
        Claim(
            "early_stopping",
            "I",
            "Early stopping memorizes less: memorization grows with training iterations",
            f"fraction matching (delta = {delta:g}) at the first and last snapshot, per "
            "parameterization",
            "first < last for every parameterization",
            "; ".join(parts),
            all(first < last for first, last in ends.values()),
        )
    ]


def width(tab: pd.DataFrame, th: Thresholds, cited: Cited) -> list[Claim]:
    delta, small, large = summary.width_ends(tab, cited.nn_delta)
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


# Kept under their old names for callers of memreg.outputs.claims.
first_steps = summary.first_steps
spearman = summary.spearman


def unet(tab: pd.DataFrame, th: Thresholds, cited: Cited) -> list[Claim]:
    """Family K on the run's own scale (stated in every row): (a) on the smallest data set
    every size ends memorized; (b) there, the steps to reach ``unet_level`` fall with the
    parameter count (Spearman rank correlation at most ``unet_rank_correlation``); (c) the
    largest data set gets there later than the smallest, size by size."""
    scale = run_scale_note(table_scale_label(tab))
    small = summary.unet_cited(tab)
    n_small, n_large = small["n_train"].iloc[0], tab["n_train"].max()
    large = tab[tab["n_train"] == n_large]
    final = summary.unet_final(small)
    ends = ", ".join(f"C{r.model_channels}: {r.fraction_memorized:.2f}" for r in final.itertuples())
    level = th.unet_level
    first, rho = summary.steps_correlation(small, level)
    steps = ", ".join(f"C{c}: {first[c]:g}" for c in first.index)
    first_large = summary.first_steps(large, level)
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


Check = Callable[..., list[Claim]]

# (tables read, check, the claims it writes: (id, family)); an id with "{process}" is
# one claim per process of the table (config convergence.processes when it is missing).
CHECKS: list[tuple[tuple[str, ...], Check, list[tuple[str, str]]]] = [
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
]  # fmt: skip


def evaluate_claims(
    tables: dict[str, pd.DataFrame | None],
    th: Thresholds,
    cited: Cited,
    processes: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per claim (columns ``COLUMNS``) from the tables named as in ``CHECKS``:
    convergence, boundaries, tikhonov, consistency, nn_tikhonov, early_stopping, width,
    unet. A missing or empty table gives its claims as not holding, value "no data";
    a missing convergence table gives one ``rate_<process>`` row per name of
    ``processes`` (config ``convergence.processes``)."""
    rows: list[Claim] = []
    for names, check, ids in CHECKS:
        data = [tables.get(n) for n in names]
        if any(d is None or d.empty for d in data):
            rows += [
                Claim(i, fam, check.__name__.replace("_", " "), "-", "-", "no data", False)
                for pattern, fam in ids
                for i in _ids(pattern, processes)
            ]
            continue
        rows += check(*data, th, cited)
    return pd.DataFrame([asdict(r) for r in rows], columns=COLUMNS)


def _ids(pattern: str, processes: Sequence[str]) -> list[str]:
    """The claim ids of ``pattern``: one per process for ``rate_{process}`` (or
    ``rate_unknown`` when no process is known), else the id itself."""
    if "{process}" not in pattern:
        return [pattern]
    return [pattern.format(process=p) for p in processes] or [pattern.format(process="unknown")]


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
