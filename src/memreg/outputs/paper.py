"""The manuscript's generated parts: LaTeX tables and the macros its prose cites.

``paper/main.tex`` types no number: each value it cites is a macro of
``paper/generated/values.tex`` (from :func:`values_macros`) and each numeric table
is a ``tabular`` from :func:`latex_table`, both made from the workflow's result
tables. Values are picked by the minimum or maximum of a swept parameter (never
by a hard-coded value), so the smoke preset's shorter sweeps work as well. Every
number that a claim or a figure also cites comes from :mod:`memreg.outputs.summary`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from ..closed_form.regularization import SWEEP_PARAMS
from ..metrics import GU_RATIO, ratio_text
from ..unet.scale import PAPER_SCALE_COMMAND, table_scale_label
from . import summary
from .comparison import parse_parameter

# The result tables values_macros reads, by the key it expects in ``tables``.
VALUE_TABLES = {**summary.RESULT_TABLES, "claims": summary.CLAIMS_TABLE}

# The generated tables (paper/generated/tables/<name>.tex), as made by tables_tex.
TABLE_NAMES = [
    "convergence",
    "boundaries",
    "tikhonov",
    "consistency",
    "nn_tikhonov",
    "unet",
    "claims",
    "comparison",
]

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL_RE = re.compile("|".join(re.escape(k) for k in _SPECIAL))

Format = str | Callable[[object], str] | None


def escape(text: object) -> str:
    """``text`` as LaTeX text: the ten special characters made literal."""
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group()], str(text))


def verbatim(text: object) -> str:
    """``text`` (a command line) in typewriter type, every hyphen kept a hyphen (LaTeX sets
    ``--`` as an en dash)."""
    return r"\texttt{" + re.sub(r"-(?=-)", "-{}", escape(text)) + "}"


def sci(x: float, digits: int = 2) -> str:
    """``x`` in math mode: ``$0$``, ``$10^{-3}$``, ``$3.2\\times10^{-4}$``, or plain
    (``$0.5$``, ``$10$``) for 0.01 <= |x| < 1000."""
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return "$0$" if x == 0 else ("$\\infty$" if x > 0 else ("$-\\infty$" if x < 0 else "--"))
    if 1e-2 <= abs(x) < 1e3:
        return f"${x:.{digits + 1}g}$"
    exp = math.floor(math.log10(abs(x)))
    mant = round(x / 10**exp, digits - 1)
    if abs(mant) >= 10:
        mant, exp = mant / 10, exp + 1
    if mant in (1.0, -1.0):
        return f"${'-' if mant < 0 else ''}10^{{{exp}}}$"
    return f"${mant:.{digits - 1}f}\\times10^{{{exp}}}$"


def sci_macro(x: float, digits: int = 2) -> str:
    """``sci(x)`` as ``\\ensuremath{...}``, usable in text and in math alike."""
    text = sci(x, digits)
    return f"\\ensuremath{{{text[1:-1]}}}" if text.startswith("$") else text


def fixed(digits: int) -> Callable[[object], str]:
    """A format writing a number with ``digits`` decimals (``--`` for NaN)."""

    def fmt(x: object) -> str:
        x = float(x)  # type: ignore[arg-type]
        return "--" if math.isnan(x) else f"{x:.{digits}f}"

    return fmt


def integer(x: object) -> str:
    """An integer with thousands separators as LaTeX wants them (``55{,}725{,}825``)."""
    return f"{int(x):,}".replace(",", "{,}")  # type: ignore[call-overload]


def yes_no(x: object) -> str:
    return "yes" if summary.truthy(x) else "\\textbf{no}"


def _cell(value: object, fmt: Format) -> str:
    if callable(fmt):
        return fmt(value)
    if fmt is None:
        return escape(value)
    return escape(format(value, fmt))


def latex_table(
    df: pd.DataFrame,
    columns: Sequence[str],
    headers: Sequence[str] | None = None,
    formats: Mapping[str, Format] | None = None,
    caption: str | None = None,
    label: str | None = None,
    colspec: str | None = None,
) -> str:
    """A booktabs ``tabular`` of ``df[columns]``.

    ``headers`` are LaTeX (not escaped; default: the escaped column names).
    ``formats`` maps a column to a ``format()`` spec (its result escaped), to a
    callable returning LaTeX, or to None (``str`` escaped, the default).
    ``colspec`` defaults to ``l`` for text columns and ``r`` for numeric ones.
    With a ``caption`` (LaTeX) the tabular is wrapped in a centred ``table`` float.
    """
    columns = list(columns)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"columns {missing} not in table (has {list(df.columns)})")
    headers = [escape(c) for c in columns] if headers is None else list(headers)
    if len(headers) != len(columns):
        raise ValueError(f"{len(headers)} headers for {len(columns)} columns")
    formats = dict(formats or {})
    if colspec is None:
        colspec = "".join(
            "r"
            if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
            else "l"
            for c in columns
        )
    lines = [f"\\begin{{tabular}}{{{colspec}}}", "\\toprule", " & ".join(headers) + " \\\\"]
    lines.append("\\midrule")
    for _, row in df.iterrows():
        lines.append(" & ".join(_cell(row[c], formats.get(c)) for c in columns) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    body = "\n".join(lines)
    if caption is None:
        return body + "\n"
    out = ["\\begin{table}[htbp]", "\\centering", f"\\caption{{{caption}}}"]
    if label:
        out.append(f"\\label{{{label}}}")
    return "\n".join([*out, body, "\\end{table}"]) + "\n"


# ----------------------------------------------------------------------------- values


def macro_name(*parts: str) -> str:
    """A LaTeX macro name (letters only) from ``parts``: ``("rate", "ve_talk")`` ->
    ``RateVeTalk``. Digits are refused rather than silently dropped."""
    words = [w for p in parts for w in re.split(r"[^A-Za-z0-9]+", str(p)) if w]
    name = "".join(w[0].upper() + w[1:] for w in words)
    if not re.fullmatch(r"[A-Za-z]+", name):
        raise ValueError(f"macro name {name!r} from {parts!r} is not letters only")
    return name


def _fraction(x: float) -> str:
    return fixed(3)(x)


def _sweep_ends(tab: pd.DataFrame, param: str, prefix: str, symbol: str) -> dict[str, str]:
    rows = summary.sweep_rows(tab, param)
    lo, hi = summary.sweep_ends(tab, param)
    return {
        f"{prefix}{symbol}Min": sci_macro(lo[param]),
        f"{prefix}{symbol}Max": sci_macro(hi[param]),
        f"{prefix}Frac{symbol}Min": _fraction(lo["fraction_matched"]),
        f"{prefix}Frac{symbol}Max": _fraction(hi["fraction_matched"]),
        f"{prefix}Count": str(len(rows)),
        f"{prefix}Samples": integer(rows["n_samples"].iloc[0]),
        f"{prefix}Delta": sci_macro(rows["delta"].iloc[0]),
    }


def convergence_values(conv: pd.DataFrame) -> dict[str, str]:
    """D: median fitted rate per process (``Rate<Process>``, over trajectories that
    reach a training point) and how many trajectories reach one."""
    out: dict[str, str] = {}
    for process, rate in summary.median_rates(conv).items():
        out[macro_name("rate", process)] = fixed(3)(rate)
    per_process = summary.convergence_by_process(conv)
    out["ConvTrajectories"] = str(len(conv))
    out["ConvPerProcess"] = str(int(per_process["n"].max()))
    out["ConvReached"] = str(int(per_process["reached"].sum()))
    out["ConvFitLow"] = fixed(1)(conv["fit_s_min"].iloc[0])
    out["ConvFitHigh"] = fixed(1)(conv["fit_s_max"].iloc[0])
    return out


def boundary_values(bnd: pd.DataFrame, tol: float) -> dict[str, str]:
    """E: starts in all, on a Voronoi face, and how many of each kind end at the
    predicted limit (within ``tol``)."""
    n = summary.boundary_counts(bnd, tol)
    return {
        "BoundaryStarts": str(n["starts"]),
        "BoundaryFaceStarts": str(n["face"]),
        "BoundaryFaceAtPredicted": str(n["face_at"]),
        "BoundaryOffFaceStarts": str(n["off"]),
        "BoundaryOffFaceAtPredicted": str(n["off_at"]),
        "BoundaryTol": sci_macro(tol),
    }


def neural_values(
    nn: pd.DataFrame, early: pd.DataFrame, wid: pd.DataFrame, delta: float
) -> dict[str, str]:
    """H, I, J at the table's delta nearest to ``delta`` (``summary.cited_delta``)."""
    d, lo, hi = summary.nn_tikhonov_ends(nn, delta)
    out = {
        "NNDelta": sci_macro(d),
        "NNIterations": integer(nn["iteration"].max()),
        "NNSamples": integer(nn["n_samples"].iloc[0]),
        "NNCMin": sci_macro(lo["c"]),
        "NNCMax": sci_macro(hi["c"]),
        "NNFracCMin": _fraction(lo["fraction_matched"]),
        "NNFracCMax": _fraction(hi["fraction_matched"]),
    }
    d, ends = summary.early_stopping_ends(early, delta)
    rows = early[early["delta"] == d]
    out["EarlyFirstIter"] = integer(rows["iteration"].min())
    out["EarlyLastIter"] = integer(rows["iteration"].max())
    for param, (first, last_frac) in ends.items():
        out[macro_name("early", param, "first")] = _fraction(first)
        out[macro_name("early", param, "last")] = _fraction(last_frac)
    _, small, large = summary.width_ends(wid, delta)
    out.update(
        {
            "WidthIter": integer(wid["iteration"].max()),
            "WidthMin": str(int(small["width"])),
            "WidthMax": str(int(large["width"])),
            "WidthFracMin": _fraction(small["fraction_matched"]),
            "WidthFracMax": _fraction(large["fraction_matched"]),
        }
    )
    return out


def _count(x: float) -> str:
    """An epoch count: thousands separators, up to three decimals, "never" for inf."""
    x = float(x)
    if math.isinf(x):
        return "never"
    return f"{x:,.3f}".rstrip("0").rstrip(".").replace(",", "{,}")


def unet_seeds(unet: pd.DataFrame) -> str:
    """The seeds per model size of each data set, e.g. ``3 seeds on $N = 2$ and 1 on
    $N = 8$`` (a range ``2--3`` where its sizes differ)."""
    counts = summary.unet_seed_counts(unet)
    parts = [
        f"{lo if lo == hi else f'{lo}--{hi}'} on $N = {n}$"
        for n, lo, hi in counts[["n_train", "min", "max"]].itertuples(index=False)
    ]
    noun = "seed" if counts["max"].iloc[0] == 1 else "seeds"
    parts[0] = parts[0].replace(" on ", f" {noun} on ", 1)
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def unet_values(unet: pd.DataFrame, window: float, level: float) -> dict[str, str]:
    """K, the cited data set (``summary.unet_cited``: fewest training images): per model
    size the median over seeds of the mean fraction memorized over each run's final
    ``window`` share of evaluations (config ``claims.unet_final_window``), its training
    length (epochs, optimizer steps, images), the seeds, the run's scale and the
    ``level`` of "reaching memorization" (config ``claims.unet_level``)."""
    rows = summary.unet_cited(unet)
    final = summary.median_over_seeds(summary.unet_final_mean(rows, window))
    listed = ", ".join(
        f"{_fraction(r.median)} ({integer(r.n_params)} parameters)" for r in final.itertuples()
    )
    return {
        "UnetDataset": escape(rows["dataset"].iloc[0]),
        "UnetNTrain": str(int(rows["n_train"].iloc[0])),
        "UnetSteps": integer(rows["step"].max()),
        "UnetEpochs": _count(rows["epoch"].max()),
        "UnetImages": integer(rows["images"].max()),
        "UnetSeeds": unet_seeds(unet),
        "UnetSizes": str(int(unet["model_channels"].nunique())),
        "UnetParamsMin": integer(final["n_params"].iloc[0]),
        "UnetParamsMax": integer(final["n_params"].iloc[-1]),
        "UnetFinalMin": _fraction(final["median"].iloc[0]),
        "UnetFinalMax": _fraction(final["median"].iloc[-1]),
        "UnetFinalList": listed,
        "UnetWindow": f"{100 * window:g}\\%",
        "UnetLevel": f"{level:g}",
        "UnetScale": escape(table_scale_label(unet)),
        "UnetResolution": str(int(unet["resolution"].iloc[0])),
        "UnetPaperScaleCommand": verbatim(PAPER_SCALE_COMMAND),
    }


def claims_values(claims: pd.DataFrame) -> dict[str, str]:
    total, holding = summary.claims_holding(claims)
    return {"ClaimsTotal": str(total), "ClaimsHolding": str(holding)}


def constant_values() -> dict[str, str]:
    """Constants of the library the prose cites: the ratio of Gu et al. (``GuRatio``)."""
    return {"GuRatio": ratio_text(GU_RATIO)}


def values_dict(
    tables: Mapping[str, pd.DataFrame],
    boundary_tol: float,
    delta: float,
    unet_window: float,
    unet_level: float,
) -> dict[str, str]:
    """Macro name -> LaTeX value for every value the prose cites, from the tables
    keyed as in ``VALUE_TABLES`` (all required): ``boundary_tol`` is config
    ``boundaries.tol``, ``delta`` config ``paper.nn_delta``, ``unet_window`` and
    ``unet_level`` config ``claims.unet_final_window`` and ``claims.unet_level``."""
    missing = [k for k in VALUE_TABLES if k not in tables]
    if missing:
        raise KeyError(f"values_macros needs the tables {missing} ({VALUE_TABLES})")
    empty = [k for k in VALUE_TABLES if tables[k].empty]
    if empty:
        raise ValueError(f"tables {empty} are empty")
    out = convergence_values(tables["convergence"])
    out.update(boundary_values(tables["boundaries"], boundary_tol))
    out.update(_sweep_ends(tables["tikhonov"], SWEEP_PARAMS["tikhonov"], "Tikhonov", "C"))
    out.update(
        _sweep_ends(tables["consistency"], SWEEP_PARAMS["consistency"], "Consistency", "Tau")
    )
    out.update(
        neural_values(tables["nn_tikhonov"], tables["early_stopping"], tables["width"], delta)
    )
    out.update(unet_values(tables["unet"], unet_window, unet_level))
    out.update(claims_values(tables["claims"]))
    out.update(constant_values())
    for name in out:
        if not re.fullmatch(r"[A-Za-z]+", name):
            raise ValueError(f"macro name {name!r} is not letters only")
    return out


def values_macros(
    tables: Mapping[str, pd.DataFrame],
    boundary_tol: float,
    delta: float,
    unet_window: float,
    unet_level: float,
) -> str:
    """``\\newcommand`` lines (one per value, sorted by name) for ``values_dict``."""
    values = values_dict(tables, boundary_tol, delta, unet_window, unet_level)
    lines = ["% Generated by memreg.outputs.paper.values_macros from results/; do not edit."]
    lines += [f"\\newcommand{{\\{k}}}{{{v}}}" for k, v in sorted(values.items())]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- tables


def _interval(df: pd.DataFrame) -> pd.Series:
    return df["ci_low"].map(fixed(3)) + "--" + df["ci_high"].map(fixed(3))


def convergence_table(conv: pd.DataFrame) -> str:
    """D: per process, trajectories, how many reach a training point, fitted rates."""
    return latex_table(
        summary.convergence_by_process(conv),
        ["process", "n", "reached", "median", "min", "max"],
        ["process", "trajectories", "at a training point", "median rate", "min", "max"],
        {
            "process": lambda p: f"\\texttt{{{escape(p)}}}",
            **{k: fixed(4) for k in ("median", "min", "max")},
        },
    )


def boundaries_table(bnd: pd.DataFrame, tol: float) -> str:
    """E: per data set, starts on and off a Voronoi face and how many end at the
    predicted limit within ``tol``."""
    rows = [
        {"dataset": name, **summary.boundary_counts(r, tol)}
        for name, r in bnd.groupby("dataset", sort=False)
    ]
    return latex_table(
        pd.DataFrame(rows),
        ["dataset", "starts", "face", "face_at", "off", "off_at", "worst"],
        [
            "data set",
            "starts",
            "on a face",
            "at prediction",
            "off faces",
            "at prediction",
            "max distance",
        ],
        {"dataset": lambda p: f"\\texttt{{{escape(p)}}}", "worst": sci},
    )


def regularization_table(tab: pd.DataFrame, param: str) -> str:
    """F (``param`` = c) or G (tau): fraction matched per value, its interval, the
    ratio criterion, the median nearest distance (and, for c, d1/sqrt(c))."""
    tab = summary.sweep_rows(tab, param).assign(interval=lambda d: _interval(d))
    symbol = {"c": "$c$", "tau": "$\\tau$"}.get(param, escape(param))
    cols = [
        param,
        "fraction_matched",
        "interval",
        "fraction_ratio_criterion",
        "median_nearest_distance",
    ]
    heads = [
        symbol,
        "matched",
        "95\\% interval",
        f"$d_1/d_2<{ratio_text(GU_RATIO)}$",
        "median $d_1$",
    ]
    fmts: dict[str, Format] = {
        param: sci,
        "fraction_matched": fixed(3),
        "fraction_ratio_criterion": fixed(3),
        "median_nearest_distance": sci,
    }
    if "median_distance_over_sqrt_c" in tab.columns:
        cols += ["median_distance_over_sqrt_c", "predicted_median_distance_over_sqrt_c"]
        heads += ["median $d_1/\\sqrt{c}$", "predicted"]
        fmts.update({c: fixed(3) for c in cols[-2:]})
    return latex_table(tab, cols, heads, fmts, colspec="r" * len(cols))


def neural_tikhonov_table(nn: pd.DataFrame) -> str:
    """H: at the last iteration, fraction matched per c (rows) and delta (columns),
    with the relative score error."""
    last = nn[nn["iteration"] == nn["iteration"].max()]
    wide = last.pivot_table(index="c", columns="delta", values="fraction_matched").sort_index()
    err = last.groupby("c")["score_error"].first()
    deltas = list(wide.columns)
    frame = wide.reset_index()
    frame.columns = ["c", *[f"d{i}" for i in range(len(deltas))]]
    frame["score_error"] = frame["c"].map(err)
    cols = ["c", *[f"d{i}" for i in range(len(deltas))], "score_error"]
    heads = ["$c$", *[f"$\\delta={sci(d)[1:-1]}$" for d in deltas], "score error"]
    fmts: dict[str, Format] = {c: fixed(3) for c in cols[1:]}
    fmts["c"] = sci
    return latex_table(frame, cols, heads, fmts, colspec="r" * len(cols))


def unet_table(unet: pd.DataFrame, window: float, level: float) -> str:
    """K: per data set and model size, the seeds and, over them, the median (and the
    min--max) of each run's mean fraction memorized over its final ``window`` share of
    evaluations, the median first epoch with fraction >= ``level`` ("never": half or
    more of the seeds never get there) and the median of the authors' distance (mean
    over samples of the smallest summed squared pixel difference to a training image)
    at the last evaluation."""
    final = summary.median_over_seeds(summary.unet_final_mean(unet, window))
    first = summary.median_over_seeds(summary.first_reaching(unet, level, "epoch"))
    dist = summary.median_over_seeds(summary.last_evaluation(unet, "sq_distance_mean"))
    frame = final.merge(
        first[[*summary.UNET_SIZE, "median"]].rename(columns={"median": "epochs"}),
        on=summary.UNET_SIZE,
    ).merge(
        dist[[*summary.UNET_SIZE, "median"]].rename(columns={"median": "distance"}),
        on=summary.UNET_SIZE,
    )
    frame["range"] = frame["min"].map(fixed(2)) + "--" + frame["max"].map(fixed(2))
    return latex_table(
        frame,
        ["dataset", "n_train", "n_params", "seeds", "median", "range", "epochs", "distance"],
        [
            "data set",
            "$N$",
            "parameters",
            "seeds",
            "memorized",
            "min--max",
            f"epochs to {level:g}",
            "squared distance",
        ],
        {
            "dataset": lambda p: f"\\texttt{{{escape(p)}}}",
            "n_params": integer,
            "median": fixed(2),
            "epochs": _count,
            "distance": sci,
        },
    )


_RELATIONS = [("<=", r"$\leq$"), (">=", r"$\geq$"), ("->", r"$\to$"), (" ~ ", r" $\sim$ ")]


def plain_math(text: object) -> str:
    """Escaped ``text`` with ``<=``, ``>=``, ``->`` and `` ~ `` typeset as relations."""
    out = str(text)
    marks = {}
    for i, (ascii_rel, tex) in enumerate(_RELATIONS):
        mark = f"RELATIONMARK{chr(65 + i)}"
        out, marks[mark] = out.replace(ascii_rel, mark), tex
    out = escape(out)
    for mark, tex in marks.items():
        out = out.replace(mark, tex)
    return out


def claims_table(claims: pd.DataFrame) -> str:
    """The claims: family, statement, criterion, measured value, whether it holds."""
    return latex_table(
        claims,
        ["family", "claim", "criterion", "value", "holds"],
        ["", "claim", "criterion", "measured", "holds"],
        {"holds": yes_no, "claim": plain_math, "criterion": plain_math, "value": plain_math},
        colspec=(
            "@{}l>{\\raggedright\\arraybackslash}p{0.33\\linewidth}"
            ">{\\raggedright\\arraybackslash}p{0.2\\linewidth}"
            ">{\\raggedright\\arraybackslash}p{0.27\\linewidth}l@{}"
        ),
    )


# ----------------------------------------------------------------------------- comparison

# Rows per float of the comparison table: each family is a float of its own, split into
# floats of at most this many rows so that each fits a page.
COMPARISON_ROWS = 40
_PARAMETER_SYMBOLS = {"c": "c", "tau": "\\tau", "delta": "\\delta"}


def parameter_tex(spec: str) -> str:
    """A parameter of the authors' values (``memreg.outputs.comparison.parse_parameter``)
    in LaTeX: ``process=ve;c=1e-4;delta=1e-2`` -> ``\\texttt{ve}, $c=10^{-4}$,
    $\\delta=0.01$``; an iteration as ``500{,}000 it.``."""
    parts = []
    for key, value in parse_parameter(spec).items():
        if key in _PARAMETER_SYMBOLS and isinstance(value, float):
            parts.append(f"${_PARAMETER_SYMBOLS[key]}={sci(value)[1:-1]}$")
        elif key == "iteration" and isinstance(value, float):
            parts.append(f"{integer(value)} it.")
        elif key == "process":
            parts.append(f"\\texttt{{{escape(value)}}}")
        elif key == "parameterization":
            parts.append(escape(value))
        else:
            parts.append(
                escape(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
            )
    return ", ".join(parts)


def _comparison_frame(comp: pd.DataFrame) -> pd.DataFrame:
    def authors(r) -> str:
        return ("$\\approx$" if summary.truthy(r.approximate) else "") + fixed(3)(r.authors)

    def ours(r) -> str:
        if math.isnan(float(r.ours)):
            return "--"
        return f"{fixed(3)(r.ours)} [{fixed(3)(r.ci_low)}, {fixed(3)(r.ci_high)}]"

    def inside(r) -> str:
        return "--" if math.isnan(float(r.ours)) else yes_no(r.inside)

    return comp.assign(
        family_tex=comp["family"].map(escape),
        quantity_tex=comp["quantity"].map(escape),
        parameter_tex=comp["parameter"].map(parameter_tex),
        authors_tex=[authors(r) for r in comp.itertuples()],
        ours_tex=[ours(r) for r in comp.itertuples()],
        inside_tex=[inside(r) for r in comp.itertuples()],
    )


def comparison_table(comp: pd.DataFrame) -> str:
    """The authors' numbers beside ours (a table of ``memreg.outputs.comparison.compare``):
    family, quantity, parameter, the authors' value (``$\\approx$``: read from their
    plot), ours with its 95\\% interval and whether the authors' value lies inside it
    (``--``: not computed by this run). One ``table`` float per family, split every
    ``COMPARISON_ROWS`` rows, each with its caption and label ``tab:authors-<family>``."""
    frame = _comparison_frame(comp)
    columns = [f"{c}_tex" for c in ("family", "quantity", "parameter", "authors", "ours", "inside")]
    heads = ["", "quantity", "parameter", "authors", "ours [95\\% interval]", "inside"]
    fmts: dict[str, Format] = {c: str for c in columns}
    floats = []
    for family, rows in frame.groupby("family", sort=False):
        parts = [rows.iloc[k : k + COMPARISON_ROWS] for k in range(0, len(rows), COMPARISON_ROWS)]
        for k, part in enumerate(parts):
            suffix = f", part {k + 1} of {len(parts)}" if len(parts) > 1 else ""
            label = f"tab:authors-{family}" + (f"-{k + 1}" if len(parts) > 1 else "")
            caption = (
                f"The authors' numbers beside this run's, family {escape(family)}{suffix}: "
                "the authors' value ($\\approx$: read from their plot), ours with its "
                "bootstrap 95\\% interval, and whether the authors' value lies inside it "
                "(--: a setting this run does not compute)."
            )
            body = latex_table(part, columns, heads, fmts, colspec="lllrll").rstrip("\n")
            head = ["\\begin{table}[htbp]", "\\centering", "\\small", f"\\caption{{{caption}}}"]
            floats.append("\n".join([*head, f"\\label{{{label}}}", body, "\\end{table}"]) + "\n")
    return "\n".join(floats)


def tables_tex(
    tables: Mapping[str, pd.DataFrame],
    boundary_tol: float,
    unet_window: float,
    unet_level: float,
) -> dict[str, str]:
    """File stem (``TABLE_NAMES``) -> LaTeX of every generated table, from the tables
    keyed as in ``VALUE_TABLES`` and the ``comparison`` table
    (``memreg.outputs.comparison.COMPARISON_TABLE``; the arguments as for ``values_dict``).
    Each is a ``tabular`` except ``comparison``, whose floats carry their own captions."""
    return {
        "convergence": convergence_table(tables["convergence"]),
        "boundaries": boundaries_table(tables["boundaries"], boundary_tol),
        "tikhonov": regularization_table(tables["tikhonov"], SWEEP_PARAMS["tikhonov"]),
        "consistency": regularization_table(tables["consistency"], SWEEP_PARAMS["consistency"]),
        "nn_tikhonov": neural_tikhonov_table(tables["nn_tikhonov"]),
        "unet": unet_table(tables["unet"], unet_window, unet_level),
        "claims": claims_table(tables["claims"]),
        "comparison": comparison_table(tables["comparison"]),
    }
