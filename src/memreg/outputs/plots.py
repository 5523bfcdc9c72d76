"""One function per figure, one shared style. Functions take arrays and tables
produced by the studies and never recompute science (Voronoi cells are drawn
from ``metrics.voronoi_polygons``).

Every figure is written twice, ``<stem>.pdf`` (for the paper) and ``<stem>.png``, and each
file says in its metadata what made it: the Snakemake rule, the workflow script, the
function of this module and the configuration slice (:func:`provenance`; the workflow's
figure scripts draw inside :func:`made_by`). A reader holding a figure finds its code with
:func:`read_provenance` (``pdfinfo`` shows the PDF's Title, Subject and Keywords too).

The backend is not chosen here: the workflow sets ``MPLBACKEND=Agg`` for its jobs (Snakefile)
and so do the tests (tests/conftest.py); an interactive session keeps its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..metrics import GU_RATIO, ratio_text, voronoi_polygons
from . import summary

COLUMN_WIDTH = 3.4  # inches, one column of a two-column paper
PAGE_WIDTH = 7.0
STYLE = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,
}
DATA_STYLE = {"color": "black", "marker": "x", "s": 18, "linewidths": 1.0, "zorder": 5}
# The authors' values (memreg.outputs.comparison.authors_table) drawn on our curves.
AUTHORS_STYLE = {"color": "black", "marker": "x", "s": 16, "linewidths": 0.9, "zorder": 6}
AUTHORS_LABEL = "authors"
PROCESS_LABELS = {"ve_talk": r"VE, $\sigma^2 = t^2$", "ve": r"VE, $g = 10^{2t}$", "vp": "VP"}


def figure(n_panels: int = 1, width: float = PAGE_WIDTH, height: float = 2.4):
    """A row of ``n_panels`` axes in the house style."""
    plt.rcParams.update(STYLE)
    fig, axes = plt.subplots(1, n_panels, figsize=(width, height), squeeze=False)
    return fig, axes[0]


PROVENANCE_KEYS = ("rule", "script", "function", "config")
_MADE_BY: ContextVar[dict[str, str] | None] = ContextVar("made_by", default=None)


def provenance(
    rule: str, script: str | Path, function: Callable | str, config: Mapping[str, Any]
) -> dict[str, str]:
    """What made a figure, as four strings (a PNG's text keys hold them as they are): the
    Snakemake ``rule``; the ``script``, from its ``workflow/`` folder on (its file name if it
    has none), so that the record does not depend on where the repository lies; the plotting
    ``function`` as module.name; the ``config`` slice the rule hands the figure, as JSON with
    sorted keys."""
    parts = Path(script).parts
    script = "/".join(parts[parts.index("workflow") :]) if "workflow" in parts else parts[-1]
    if callable(function):
        function = f"{function.__module__}.{function.__qualname__}"
    text = json.dumps(config, sort_keys=True, ensure_ascii=True, default=str)
    return {"rule": str(rule), "script": script, "function": function, "config": text}


@contextmanager
def made_by(
    rule: str, script: str | Path, function: Callable | str, config: Mapping[str, Any]
) -> Iterator[dict[str, str]]:
    """Within the block, every figure :func:`save` writes records this :func:`provenance`."""
    token = _MADE_BY.set(provenance(rule, script, function, config))
    try:
        yield _MADE_BY.get()
    finally:
        _MADE_BY.reset(token)


def savefig_metadata(record: Mapping[str, str] | None, fmt: str, name: str) -> dict[str, Any]:
    """``savefig(metadata=...)`` for ``fmt`` "pdf" or "png" of figure ``name``. PDF: Title is
    the figure, Subject names rule, script and function, Keywords is the whole record as
    JSON (its config an object), and no CreationDate, so that the same figure gives the same
    bytes each time. PNG: Title and one text key per field of the record."""
    if fmt == "pdf":
        meta: dict[str, Any] = {"Title": name, "CreationDate": None}
        if record:
            meta["Subject"] = (
                f"rule {record['rule']}, script {record['script']}, function {record['function']}"
            )
            whole = {**record, "config": json.loads(record["config"])}
            meta["Keywords"] = json.dumps(whole, sort_keys=True, ensure_ascii=True)
        return meta
    return {"Title": name, **(record or {})}


def save(fig, path: str | Path, record: Mapping[str, str] | None = None) -> None:
    """Write ``fig`` to <stem>.pdf and <stem>.png, where ``path`` is either file or the stem,
    with ``record`` (default: that of the enclosing :func:`made_by`) in their metadata."""
    stem = Path(path).with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    record = _MADE_BY.get() if record is None else record
    for fmt in ("pdf", "png"):
        fig.savefig(stem.with_suffix(f".{fmt}"), metadata=savefig_metadata(record, fmt, stem.name))
    plt.close(fig)


def read_provenance(path: str | Path) -> dict[str, Any]:
    """The record :func:`save` wrote into a figure (PDF or PNG), its config parsed back
    from JSON; empty if the file has none."""
    path = Path(path)
    if path.suffix == ".png":
        from PIL import Image

        with Image.open(path) as image:
            text = dict(image.text)
        record = {key: text[key] for key in PROVENANCE_KEYS if key in text}
        if "config" in record:
            record["config"] = json.loads(record["config"])
        return record
    match = re.search(rb"/Keywords \(((?:\\.|[^\\)])*)\)", path.read_bytes())
    if match is None:
        return {}
    escapes = {b"n": b"\n", b"r": b"\r"}
    raw = re.sub(rb"\\(.)", lambda m: escapes.get(m[1], m[1]), match[1], flags=re.S)
    return json.loads(raw.decode("ascii"))


def draw_voronoi(ax, train: np.ndarray, bbox: Sequence[float], points: bool = True) -> None:
    """Voronoi cells of 2-D ``train`` clipped to bbox, and the points themselves."""
    for cell in voronoi_polygons(train, tuple(bbox)):
        if len(cell):
            closed = np.vstack([cell, cell[:1]])
            ax.plot(closed[:, 0], closed[:, 1], color="0.6", lw=0.6, zorder=1)
    if points:
        ax.scatter(train[:, 0], train[:, 1], **DATA_STYLE)
    ax.set_xlim(bbox[0], bbox[1])
    ax.set_ylim(bbox[2], bbox[3])
    ax.set_aspect("equal")


def bbox_around(points: np.ndarray, margin: float = 0.5) -> tuple[float, float, float, float]:
    lo, hi = points.min(axis=0) - margin, points.max(axis=0) + margin
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def data_voronoi(train: np.ndarray, path: str | Path) -> None:
    """Family A: the training points with their Voronoi tessellation."""
    fig, (ax,) = figure(1, COLUMN_WIDTH, COLUMN_WIDTH)
    draw_voronoi(ax, train, bbox_around(train))
    ax.set_title(f"Training data (N = {len(train)}) and Voronoi cells")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    save(fig, path)


def dynamics(arrays: dict[str, np.ndarray], process: str, path: str | Path) -> None:
    """Families B/C: trajectories over the Voronoi diagram, w_n(t) of one trajectory,
    and |x(t) - x*| against t with the 2 sigma(t) reference."""
    t, x, train = arrays["t"], arrays["x"], arrays["train"]
    fig, (a0, a1, a2) = figure(3, PAGE_WIDTH, 2.5)
    draw_voronoi(a0, train, bbox_around(np.vstack([train, x[-1]]), 0.8))
    for j in range(x.shape[1]):
        a0.plot(x[:, j, 0], x[:, j, 1], lw=0.6, alpha=0.8)
    a0.set_title(f"{PROCESS_LABELS.get(process, process)}: {x.shape[1]} trajectories")
    a0.set_xlabel("$x_1$")
    a0.set_ylabel("$x_2$")
    k = int(arrays["weights_trajectory"])
    weights = arrays["weights"]
    for n in range(weights.shape[1]):
        a1.plot(t, weights[:, n], lw=0.8)
    a1.set_xscale("log")
    a1.invert_xaxis()
    a1.set_xlabel("$t$")
    a1.set_ylabel("$w_n(x(t), t)$")
    a1.set_title(f"weights along trajectory {k}")
    for j in range(x.shape[1]):
        a2.loglog(t, arrays["distance"][:, j], lw=0.5, color="C0", alpha=0.5)
    a2.loglog(t, 2 * arrays["sigma"], "k--", lw=1.0, label=r"$2\sigma(t)$")
    a2.invert_xaxis()
    a2.set_xlabel("$t$")
    a2.set_ylabel(r"$|x(t) - x^*|$")
    a2.legend(loc="lower left")
    a2.set_title(r"distance to the limit $x^*$")
    fig.tight_layout()
    save(fig, path)


def convergence_s(curves: dict[str, dict[str, np.ndarray]], table: pd.DataFrame, path) -> None:
    """Family D: |y(s) - x*| against s per process, with a K e^{-s} reference and the median
    fitted rate (``summary.median_rates``, as the claims and the manuscript cite it)."""
    rates = summary.median_rates(table)
    fig, axes = figure(len(curves), PAGE_WIDTH, 2.4)
    for ax, (process, arr) in zip(axes, curves.items()):
        s, dist = arr["s"], arr["distance"]
        for j in range(dist.shape[1]):
            ax.semilogy(s, dist[:, j], lw=0.6, alpha=0.8)
        rows = table[table["process"] == process]
        w0, w1 = float(rows["fit_s_min"].iloc[0]), float(rows["fit_s_max"].iloc[0])
        anchor = np.exp(np.median(np.log(dist[np.searchsorted(s, w0)] + 1e-300)) + w0)
        ax.semilogy(s, anchor * np.exp(-s), "k--", lw=1.0, label=r"$\propto e^{-s}$")
        ax.axvspan(w0, w1, color="0.9", zorder=0)
        rate = rates[process]
        ax.set_title(f"{PROCESS_LABELS.get(process, process)}\nmedian fitted rate {rate:.3f}")
        ax.set_xlabel("$s$")
        ax.set_ylim(max(dist[dist > 0].min(), 1e-16), 10 * dist.max())
    axes[0].set_ylabel(r"$|y(s) - x^*|$")
    axes[0].legend(loc="lower left")
    fig.tight_layout()
    save(fig, path)


def voronoi_boundaries(cases: dict[str, dict], path: str | Path) -> None:
    """Family E: paths y(s) from starts on a square; starts on a Voronoi face end on it
    (red), all others at their cell's point (blue)."""
    fig, axes = figure(len(cases), PAGE_WIDTH * len(cases) / 3, PAGE_WIDTH / 3 + 0.3)
    for ax, (name, case) in zip(axes, cases.items()):
        table, y, train = case["table"], case["y"], case["train"]
        half = float(np.abs(table[["start_x", "start_y"]].to_numpy()).max())
        draw_voronoi(ax, train, (-half, half, -half, half))
        face = summary.on_face(table)
        for j in range(y.shape[1]):
            ax.plot(y[:, j, 0], y[:, j, 1], lw=0.5, color="C3" if face[j] else "C0", alpha=0.7)
        ax.scatter(table["start_x"], table["start_y"], s=4, c=np.where(face, "C3", "C0"))
        ax.scatter(
            table.loc[face, "limit_x"],
            table.loc[face, "limit_y"],
            s=30,
            facecolors="none",
            edgecolors="C3",
            zorder=6,
            label="limits of face starts",
        )
        ax.set_title(f"{name.replace('_', ' ')}: {int(face.sum())}/{len(face)} starts on a face")
        ax.legend(loc="lower center", fontsize=6)
    fig.tight_layout()
    save(fig, path)


def sample_panels(
    panels: list[tuple[str, np.ndarray]],
    train: np.ndarray,
    title: str,
    path: str | Path,
    n_cols: int = 5,
) -> None:
    """Families F/G: small multiples of samples over the Voronoi diagram, one panel per value."""
    n_rows = -(-len(panels) // n_cols)
    plt.rcParams.update(STYLE)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(PAGE_WIDTH, 1.45 * n_rows + 0.3), squeeze=False
    )
    bbox = bbox_around(train, 0.8)
    for ax, (label, samples) in zip(axes.flat, panels):
        draw_voronoi(ax, train, bbox)
        ax.scatter(samples[:, 0], samples[:, 1], s=3, color="C3", alpha=0.7, zorder=4)
        ax.set_title(label)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    save(fig, path)


def memorization_curve(table: pd.DataFrame, param: str, label: str, path: str | Path) -> None:
    """Families F/G: fraction of samples matching the data against the regularization
    parameter (log axis), with bootstrap 95% intervals, and the ratio criterion."""
    table = table.sort_values(param)
    fig, (ax,) = figure(1, COLUMN_WIDTH, 2.4)
    x, frac = table[param].to_numpy(), table["fraction_matched"].to_numpy()
    err = np.vstack([frac - table["ci_low"], table["ci_high"] - frac])
    delta = float(table["delta"].iloc[0])
    ax.errorbar(
        x,
        frac,
        yerr=err,
        marker="o",
        ms=3,
        capsize=2,
        label=rf"$d_1 < \delta = {delta:g}$ (95% CI)",
    )
    ax.plot(
        x,
        table["fraction_ratio_criterion"],
        marker="s",
        ms=3,
        ls="--",
        label=rf"$d_1 / d_2 < {ratio_text(GU_RATIO)}$ (Gu et al.)",
    )
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(label)
    ax.set_ylabel("fraction matching the data")
    ax.legend(loc="best")
    n = int(table["n_samples"].iloc[0])
    ax.set_title(f"{PROCESS_LABELS.get(table['process'].iloc[0], '')}, {n} samples per value")
    save(fig, path)


def score_vs_time(table: pd.DataFrame, path: str | Path) -> None:
    """Family F': |s_c(x*, t)| against t (log-log) for each c, with the t -> 0 limit
    |x* - x_i| / c of the regularized scores (dotted)."""
    fig, (ax,) = figure(1, COLUMN_WIDTH, 2.4)
    for k, (c, rows) in enumerate(table.groupby("c")):
        color = f"C{k}"
        ax.loglog(
            rows["t"],
            rows["score_norm"],
            color=color,
            label="$c = 0$" if c == 0 else f"$c = {c:g}$",
        )
        if c > 0:
            ax.axhline(float(rows["limit"].iloc[0]), color=color, ls=":", lw=0.8)
    ax.invert_xaxis()
    ax.set_xlabel("$t$")
    ax.set_ylabel(r"$|s_c(x^*, t)|$")
    ax.set_title(r"score at a fixed $x^*$; dotted: $|x^* - x_i| / c$")
    ax.legend(loc="upper left")
    save(fig, path)


def _delta_colors(deltas) -> dict[float, str]:
    return {d: f"C{k}" for k, d in enumerate(sorted(deltas))}


def _close(values, value: float) -> np.ndarray:
    """Where the numbers ``values`` equal ``value`` to a relative 1e-9 (as the
    comparison with the authors' values matches parameters)."""
    return np.isclose(np.asarray(values, dtype=float), float(value), rtol=1e-9, atol=0.0)


def authors_on_curves(
    authors: pd.DataFrame | None, curves: pd.DataFrame, keys: Sequence[str]
) -> pd.DataFrame:
    """The rows of ``authors`` (``comparison.authors_table``: parameter columns and the
    value ``authors``) that lie on a point of ``curves`` (our table): every column of
    ``keys`` equal to that of some row of ``curves`` (numbers to a relative 1e-9)."""
    if authors is None or authors.empty or not set(keys) <= set(authors.columns):
        return pd.DataFrame(columns=[*keys, "authors"])
    keep = []
    for _, a in authors.iterrows():
        hit = np.ones(len(curves), dtype=bool)
        for key in keys:
            if isinstance(a[key], str):
                hit &= (curves[key].astype(str) == a[key]).to_numpy()
            else:
                hit &= _close(curves[key], a[key])
        keep.append(bool(hit.any()))
    return authors[np.array(keep, dtype=bool)]


def _draw_authors(ax, x, y) -> None:
    if len(x):
        ax.scatter(x, y, label=AUTHORS_LABEL, **AUTHORS_STYLE)


def nn_memorization(
    table: pd.DataFrame, path: str | Path, authors: pd.DataFrame | None = None
) -> None:
    """Family H: fraction of samples matching the data against the Tikhonov c of the
    training loss (final iteration), one curve per delta, with bootstrap 95% intervals;
    the ``authors``' values (``comparison.authors_table("H")``) at the same c, delta and
    iteration as black crosses."""
    final = table[table["iteration"] == table["iteration"].max()]
    c_values = sorted(final["c"].unique())
    fig, (ax,) = figure(1, COLUMN_WIDTH, 2.4)
    pos = np.arange(len(c_values))
    for delta, color in _delta_colors(final["delta"].unique()).items():
        rows = final[final["delta"] == delta].set_index("c").loc[c_values]
        frac = rows["fraction_matched"].to_numpy()
        err = np.vstack([frac - rows["ci_low"], rows["ci_high"] - frac])
        ax.errorbar(
            pos,
            frac,
            yerr=err,
            marker="o",
            ms=3,
            capsize=2,
            color=color,
            label=rf"$\delta = {delta:g}$",
        )
    theirs = authors_on_curves(authors, final, ["c", "delta", "iteration"])
    x = [int(np.argmax(_close(c_values, c))) for c in theirs["c"]]
    _draw_authors(ax, x, theirs["authors"])
    ax.set_xticks(pos, [f"{c:g}" for c in c_values])
    ax.set_xlabel("Tikhonov constant $c$ of the training loss")
    ax.set_ylabel("fraction matching the data")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(f"MLP scores after {int(final['iteration'].iloc[0]):,} iterations")
    ax.legend(loc="best")
    save(fig, path)


def nn_score_vs_time(table: pd.DataFrame, path: str | Path) -> None:
    """Family H: |learned score| (solid, per c) and |closed-form score| (black dashed)
    against t at a perturbed training point."""
    fig, (ax,) = figure(1, COLUMN_WIDTH, 2.4)
    for k, (c, rows) in enumerate(table.groupby("c")):
        ax.loglog(rows["t"], rows["learned_norm"], color=f"C{k}", label=f"learned, $c = {c:g}$")
    first = table[table["model"] == table["model"].min()]
    ax.loglog(first["t"], first["closed_form_norm"], "k--", label="closed form")
    ax.invert_xaxis()
    ax.set_xlabel("$t$")
    ax.set_ylabel(r"$|s(x^*, t)|$")
    ax.set_title("score at a perturbed training point")
    ax.legend(loc="upper left", fontsize=6)
    save(fig, path)


def nn_early_stopping(
    table: pd.DataFrame, path: str | Path, authors: pd.DataFrame | None = None
) -> None:
    """Family I: fraction matching against training iterations, per delta (colour) and
    parameterization (solid: nonsingular, dashed: singular); the ``authors``' values
    (``comparison.authors_table("I")``) at the same parameterization, delta and iteration
    as black crosses."""
    fig, (ax,) = figure(1, COLUMN_WIDTH, 2.5)
    styles = {"nonsingular": "-", "singular": "--"}
    colors = _delta_colors(table["delta"].unique())
    for delta, color in colors.items():
        for param, rows in table[table["delta"] == delta].groupby("parameterization"):
            rows = rows.sort_values("iteration")
            ax.plot(rows["iteration"], rows["fraction_matched"], styles.get(param, ":"),
                    color=color, marker="o", ms=2)  # fmt: skip
    theirs = authors_on_curves(authors, table, ["parameterization", "delta", "iteration"])
    _draw_authors(ax, theirs["iteration"], theirs["authors"])
    ax.set_xlabel("training iterations")
    ax.set_ylabel("fraction matching the data")
    ax.set_ylim(-0.03, 1.03)
    # one key for colour (delta) and one for line style (parameterization), beside the axes
    # so that no entry covers a curve
    handles = [Line2D([], [], color=c, label=rf"$\delta = {d:g}$") for d, c in colors.items()]
    handles += [Line2D([], [], color="black", ls=styles.get(p, ":"), label=p)
                for p in sorted(table["parameterization"].unique())]  # fmt: skip
    if len(theirs):
        handles.append(Line2D([], [], ls="", label=AUTHORS_LABEL, **_marker(AUTHORS_STYLE)))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=6,
              frameon=False)  # fmt: skip
    ax.set_title("early stopping and parameterization")
    save(fig, path)


def _marker(style: Mapping[str, Any]) -> dict[str, Any]:
    """A scatter style as Line2D keywords, for a legend entry."""
    return {"color": style["color"], "marker": style["marker"], "mew": style["linewidths"],
            "ms": style["s"] ** 0.5}  # fmt: skip


def nn_width(table: pd.DataFrame, path: str | Path) -> None:
    """Family J: fraction matching against iterations, one curve per width, one panel per
    delta; last panel: against the parameter count at the final iteration."""
    deltas = sorted(table["delta"].unique())
    fig, axes = figure(len(deltas) + 1, PAGE_WIDTH, 2.2)
    widths = sorted(table["width"].unique())
    for ax, delta in zip(axes, deltas):
        for k, width in enumerate(widths):
            rows = table[(table["delta"] == delta) & (table["width"] == width)]
            rows = rows.sort_values("iteration")
            ax.plot(
                rows["iteration"],
                rows["fraction_matched"],
                marker="o",
                ms=2,
                color=plt.cm.viridis(k / max(len(widths) - 1, 1)),
                label=f"width {width}",
            )
        ax.set_title(rf"$\delta = {delta:g}$")
        ax.set_xlabel("iterations")
        ax.set_ylim(-0.03, 1.03)
    axes[0].set_ylabel("fraction matching")
    axes[0].legend(loc="best", fontsize=5)
    final = table[table["iteration"] == table["iteration"].max()]
    for delta, color in _delta_colors(deltas).items():
        rows = final[final["delta"] == delta].sort_values("n_params")
        axes[-1].semilogx(
            rows["n_params"],
            rows["fraction_matched"],
            marker="o",
            ms=3,
            color=color,
            label=rf"$\delta = {delta:g}$",
        )
    axes[-1].set_xlabel("parameters")
    axes[-1].set_ylim(-0.03, 1.03)
    axes[-1].set_title("final iteration")
    axes[-1].legend(loc="best", fontsize=5)
    fig.tight_layout()
    save(fig, path)


def _image_axes(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_linewidth(0.3)


def unet_training_images(sets: dict[str, np.ndarray], path: str | Path, scale: str) -> None:
    """Family K: the training images (N, H, W) of each data set, one row per set; ``scale``
    (the run's image size) printed above them."""
    plt.rcParams.update(STYLE)
    cols = max(len(images) for images in sets.values())
    fig, axes = plt.subplots(
        len(sets), cols, figsize=(PAGE_WIDTH, 0.95 * len(sets) + 0.2), squeeze=False
    )
    for row, (name, images) in zip(axes, sets.items()):
        for k, ax in enumerate(row):
            ax.axis("off")
            if k < len(images):
                ax.axis("on")
                ax.imshow(images[k], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                _image_axes(ax)
        row[0].set_title(f"{name}: N = {len(images)}", loc="left")
    fig.suptitle(scale, fontsize=6, y=1.04)
    save(fig, path)


def unet_samples_vs_steps(
    epochs: np.ndarray, samples: np.ndarray, train: np.ndarray, rows: int, title: str, path
) -> None:
    """Family K: fixed-noise samples (S, G, H, W) at ``rows`` of the S evaluations, labelled
    by their ``epochs`` (evenly spaced, the last included), one column per noise seed, the
    training images in the last column."""
    plt.rcParams.update(STYLE)
    picks = np.unique(np.linspace(0, len(epochs) - 1, min(rows, len(epochs))).round().astype(int))
    n_cols = samples.shape[1] + 1
    size = PAGE_WIDTH / n_cols
    fig, axes = plt.subplots(
        len(picks), n_cols, figsize=(PAGE_WIDTH, size * len(picks) + 0.3), squeeze=False
    )
    for r, idx in enumerate(picks):
        for c in range(samples.shape[1]):
            axes[r, c].imshow(samples[idx, c], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            _image_axes(axes[r, c])
        axes[r, 0].set_ylabel(f"{int(epochs[idx]):,}", rotation=0, ha="right", va="center")
        ax = axes[r, -1]
        ax.axis("off")
        if r < len(train):
            ax.axis("on")
            ax.imshow(train[r], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            _image_axes(ax)
    axes[0, -1].set_title("data", fontsize=6)
    fig.suptitle(f"samples from fixed noise against training epochs (rows); {title}", y=1.0)
    save(fig, path)


def _seeds_label(lo: int, hi: int) -> str:
    return f"{lo} seed{'' if hi == 1 else 's'}" if lo == hi else f"{lo}-{hi} seeds"


def _seed_band(ax, band: pd.DataFrame, color, label: str | None) -> None:
    """The median over seeds against epochs as a line, the min-max band around it."""
    ax.plot(band["epoch"], band["median"], marker="o", ms=2, color=color, label=label)
    ax.fill_between(band["epoch"], band["min"], band["max"], color=color, alpha=0.2, lw=0)


def unet_memorization(table: pd.DataFrame, path: str | Path, scale: str) -> None:
    """Family K, one column per data set (by increasing N): top, the fraction of samples
    equal to a training image against epochs (images seen / N), per model size the median
    over seeds at each evaluation with the band between the smallest and largest seed
    (``summary.unet_seed_bands``); bottom, the same for the authors' distance, the mean
    over samples of the smallest summed squared pixel difference to a training image
    (log axis). ``scale`` (the run's scale) printed above the panels."""
    counts = summary.unet_seed_counts(table)
    plt.rcParams.update(STYLE)
    fig, axes = plt.subplots(
        2,
        len(counts),
        figsize=(PAGE_WIDTH if len(counts) > 1 else COLUMN_WIDTH, 4.6),
        squeeze=False,
    )
    sizes = sorted(table["model_channels"].unique())
    colors = {c: plt.cm.viridis(k / max(len(sizes) - 1, 1)) for k, c in enumerate(sizes)}
    for col, data in zip(axes.T, counts.itertuples()):
        rows = table[table["dataset"] == data.dataset]
        frac = summary.unet_seed_bands(rows, "fraction_memorized")
        dist = summary.unet_seed_bands(rows, "sq_distance_mean")
        for (c, n_params), band in frac.groupby(["model_channels", "n_params"], sort=False):
            _seed_band(col[0], band, colors[c], f"{int(n_params):,} params")
            _seed_band(col[1], dist[dist["model_channels"] == c], colors[c], None)
        col[0].set_title(f"N = {data.n_train} ({data.dataset}), {_seeds_label(data.min, data.max)}")
        col[0].set_ylim(-0.03, 1.03)
        col[0].legend(loc="best", fontsize=5.5)
        col[1].set_yscale("log")
        for ax in col:
            ax.set_xlabel("epochs")
    axes[0, 0].set_ylabel("fraction memorized\n(median over seeds, min-max)")
    axes[1, 0].set_ylabel("mean squared distance to\nthe nearest training image")
    fig.suptitle(scale, fontsize=6)
    fig.tight_layout()
    save(fig, path)
