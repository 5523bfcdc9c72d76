"""The paper's testable claims, checked against the workflow's result tables.

Each check reads the tables of one figure family and returns a ``Claim``: the
statement in words, the quantity measured, the criterion, the measured value
and whether the criterion holds. A claim whose table is missing or empty is
reported as not holding (value "no data"), never dropped. The thresholds are
arguments (config ``claims``), so a reader sees what "holds" means. The measured
numbers come from :mod:`memreg.outputs.summary`, as the manuscript's and the figures' do.
"""

from __future__ import annotations

import math
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
    unet_memorized: float  # per size, median over seeds of the final-window mean fraction
    unet_final_window: float  # share of a run's evaluations in its final window
    unet_level: float  # "gets there": first evaluation with fraction >= this
    unet_rank_correlation: float  # Spearman(parameters, median epochs to unet_level) at most
    n_boot: int  # bootstrap resamples (over seeds) of the interval of that rho
    seed: int  # their numpy default_rng seed


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


def _count(x: float) -> str:
    """An epoch or image count: thousands separators, "inf" for never."""
    if math.isinf(x):
        return "inf"
    return f"{int(x):,}" if x == int(x) else f"{x:,.3f}".rstrip("0")


def _unet_memorizes(small: pd.DataFrame, th: Thresholds, note: str) -> Claim:
    final = summary.median_over_seeds(summary.unet_final_mean(small, th.unet_final_window))
    value = "; ".join(
        f"C{r.model_channels}: {r.median:.2f} [{r.min:.2f}, {r.max:.2f}] ({r.seeds} seeds)"
        for r in final.itertuples()
    )
    return Claim(
        "unet_memorizes",
        "K",
        f"Every U-Net trained on N = {small['n_train'].iloc[0]} images ends in memorization",
        "per size, the median over seeds of each run's mean fraction of samples equal to a "
        f"training image over its last {100 * th.unet_final_window:g}% of evaluations (at least "
        f"one); [min, max] over seeds ({note})",
        f"every median >= {th.unet_memorized:g}",
        value,
        bool((final["median"] >= th.unet_memorized).all()),
    )


def _unet_sooner(small: pd.DataFrame, th: Thresholds, note: str) -> Claim:
    per_run = summary.first_reaching(small, th.unet_level, "epoch")
    first = summary.median_over_seeds(per_run)
    rho = summary.rank_correlation(first)
    low, high, dropped = summary.rank_correlation_interval(per_run, th.n_boot, th.seed)
    medians = ", ".join(f"C{r.model_channels}: {_count(r.median)}" for r in first.itertuples())
    value = (
        f"median epochs {medians}; rho = {rho:.2f}, {100 * summary.INTERVAL_LEVEL:g}% bootstrap "
        f"interval over seeds [{low:.2f}, {high:.2f}]"
    )
    if dropped:
        value += f" ({dropped} of {th.n_boot} resamples with undefined rho dropped)"
    return Claim(
        "unet_sooner",
        "K",
        f"Larger U-Nets memorize sooner (N = {small['n_train'].iloc[0]})",
        f"per size, the median over seeds of the first epoch with fraction >= "
        f"{th.unet_level:g} (inf: never), and Spearman's rank correlation rho of those "
        f"medians with the parameter count; its interval resamples seeds within each size, "
        f"{th.n_boot} times ({note})",
        f"rho <= {th.unet_rank_correlation:g} (the point estimate; at least 3 sizes)",
        value,
        bool(rho <= th.unet_rank_correlation),
    )


def _unet_more_data_later(
    small: pd.DataFrame, large: pd.DataFrame, th: Thresholds, note: str
) -> Claim:
    n_small, n_large = small["n_train"].iloc[0], large["n_train"].iloc[0]
    first = {
        n: summary.median_over_seeds(summary.first_reaching(r, th.unet_level, "images")).set_index(
            "model_channels"
        )["median"]
        for n, r in ((n_small, small), (n_large, large))
    }
    shared = [c for c in first[n_small].index if c in first[n_large].index]
    pairs = []
    for c in shared:
        a, b = first[n_small][c], first[n_large][c]
        never = " (never on either: not later)" if math.isinf(a) and math.isinf(b) else ""
        pairs.append(f"C{c}: {_count(a)} / {_count(b)}{never}")
    if n_large == n_small:
        value = f"no data set with more than N = {n_small} images"
    else:
        value = ", ".join(pairs) if shared else "no size trained on both"
    later = [first[n_large][c] > first[n_small][c] for c in shared]  # inf > inf is False
    return Claim(
        "unet_more_data_later",
        "K",
        f"More training images delay memorization (N = {n_large} against N = {n_small})",
        f"per size, the median over seeds of the first images seen with fraction >= "
        f"{th.unet_level:g}, N = {n_small} / N = {n_large} (inf: never); images, not epochs: "
        f"at equal images both had the same learning-rate and EMA schedule ({note})",
        f"later on N = {n_large} for every size trained on both (never is later than a "
        "count; never on both is not)",
        value,
        bool(shared and n_large > n_small and all(later)),
    )


def unet(tab: pd.DataFrame, th: Thresholds, cited: Cited) -> list[Claim]:
    """Family K from the seeds, on the run's own scale (``table_scale_label``, stated in
    every row: resolution, images, sizes and seeds per size): (a) on the smallest data
    set every size memorizes (median over seeds of the final-window mean fraction at
    least ``unet_memorized``); (b) there, the
    median epochs to ``unet_level`` fall with the parameter count (Spearman's rho at most
    ``unet_rank_correlation``, with a bootstrap interval over seeds); (c) the largest data
    set gets there later, in images seen, size by size."""
    note = run_scale_note(table_scale_label(tab))
    small = summary.unet_cited(tab)
    large = tab[tab["n_train"] == tab["n_train"].max()]
    return [
        _unet_memorizes(small, th, note),
        _unet_sooner(small, th, note),
        _unet_more_data_later(small, large, th, note),
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
