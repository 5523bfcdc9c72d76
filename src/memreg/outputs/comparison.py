"""The authors' numbers beside ours: each value the authors' notebooks print or plot, with
this run's value and its 95% interval.

The authors' values are package data, ``authors_values.csv`` beside this module, one row
per single value: ``family`` (F-J), ``quantity`` (the column of our result table that
holds the same quantity, e.g. ``fraction_matched``), ``parameter`` (where in that table:
``key=value`` pairs joined by ``;``, e.g. ``c=1e-4;delta=1e-2;iteration=500000``, each key
a column of the table), ``value``, ``approximate`` (``yes`` for a value read from an
embedded plot, ``no`` for a printed one) and ``source`` (the notebook of
``baptistar/DiffusionModelDynamics``, its commit and its cell). docs/settings.md says how
the values were read.

:func:`compare` finds each row in this run's tables (``FAMILY_TABLES``): numbers match
within a relative tolerance of ``REL_TOL`` (never by their text), words exactly. A value
that this run does not compute (a c or an iteration outside its configuration, as in the
smoke preset) is kept with ``ours`` NaN and ``inside`` False.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from . import summary

# The result table (a key of summary.RESULT_TABLES) of each family the authors' values
# belong to.
FAMILY_TABLES = {
    "F": "tikhonov",
    "G": "consistency",
    "H": "nn_tikhonov",
    "I": "early_stopping",
    "J": "width",
}
# The tables rule `comparison` reads, by the key compare() expects.
COMPARED_TABLES = {key: summary.RESULT_TABLES[key] for key in FAMILY_TABLES.values()}
COMPARISON_TABLE = "results/comparison.csv"
COMPARISON_PAGE = "results/comparison.html"
AUTHORS_VALUES = "authors_values.csv"  # package data of memreg.outputs
AUTHORS_COLUMNS = ["family", "quantity", "parameter", "value", "approximate", "source"]
COLUMNS = [
    "family",
    "quantity",
    "parameter",
    "authors",
    "approximate",
    "ours",
    "ci_low",
    "ci_high",
    "difference",
    "inside",
    "source",
]
REL_TOL = 1e-9  # numbers of a parameter match within this relative tolerance
CI_COLUMNS = ("ci_low", "ci_high")  # the 95% interval of a quantity in every compared table


def authors_values_file() -> Path:
    """The path of the package's ``authors_values.csv`` (a workflow input, so that a
    change to it reruns what shows it)."""
    return Path(str(resources.files(__package__) / AUTHORS_VALUES))


def load_authors_values(path: str | Path | None = None) -> pd.DataFrame:
    """The authors' values (default: the package's copy), ``approximate`` as booleans;
    refuses a file without the columns ``AUTHORS_COLUMNS``, with an unknown family or an
    unreadable parameter."""
    source = resources.files(__package__).joinpath(AUTHORS_VALUES) if path is None else Path(path)
    with source.open(encoding="utf-8") as f:
        table = pd.read_csv(f, dtype={"parameter": str, "source": str})
    missing = [c for c in AUTHORS_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"the authors' values lack the columns {missing}")
    unknown = sorted(set(table["family"]) - set(FAMILY_TABLES))
    if unknown:
        raise ValueError(f"the authors' values name unknown families {unknown}")
    flags = table["approximate"].astype(str).str.strip().str.lower()
    if not flags.isin(["yes", "no", "true", "false"]).all():
        raise ValueError("column approximate holds values other than yes/no")
    table["approximate"] = flags.isin(["yes", "true"])
    table["value"] = table["value"].astype(float)
    for spec in table["parameter"]:
        parse_parameter(spec)
    return table[AUTHORS_COLUMNS].reset_index(drop=True)


def parse_parameter(spec: str) -> dict[str, float | str]:
    """``"c=1e-4;delta=1e-2"`` -> ``{"c": 1e-4, "delta": 0.01}``: a value that reads as a
    number becomes a float, any other stays a word."""
    out: dict[str, float | str] = {}
    for part in str(spec).split(";"):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not key or not value or key in out:
            raise ValueError(f"parameter {spec!r}: {part!r} is not a new key=value")
        try:
            out[key] = float(value)
        except ValueError:
            out[key] = value
    return out


def matching_rows(table: pd.DataFrame, params: Mapping[str, float | str]) -> pd.DataFrame:
    """The rows of ``table`` whose columns equal ``params``: numbers within a relative
    ``REL_TOL`` (exactly for 0), words as text."""
    keep = np.ones(len(table), dtype=bool)
    for key, value in params.items():
        if key not in table.columns:
            raise KeyError(
                f"parameter {key!r} is not a column of the table ({list(table.columns)})"
            )
        column = table[key]
        if isinstance(value, float):
            numbers = pd.to_numeric(column, errors="coerce").to_numpy(float)
            keep &= np.isclose(numbers, value, rtol=REL_TOL, atol=0.0)
        else:
            keep &= (column.astype(str) == value).to_numpy()
    return table[keep]


def compare(
    tables: Mapping[str, pd.DataFrame], authors: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per authors' value (``COLUMNS``, in the order of ``authors``, default the
    package's): ``ours`` the same quantity at the same parameters in ``tables`` (keyed as
    ``FAMILY_TABLES``), ``ci_low``/``ci_high`` its 95% interval, ``difference`` ours -
    authors and ``inside`` whether the authors' value lies in [ci_low, ci_high]. A value
    that the tables do not hold gets NaN (and ``inside`` False); one that several rows
    match is refused."""
    authors = load_authors_values() if authors is None else authors
    needed = sorted({FAMILY_TABLES[f] for f in authors["family"]})
    missing = [k for k in needed if k not in tables]
    if missing:
        raise KeyError(f"compare needs the tables {missing}")
    rows = []
    for r in authors.itertuples(index=False):
        table = tables[FAMILY_TABLES[r.family]]
        hits = matching_rows(table, parse_parameter(r.parameter))
        if len(hits) > 1:
            raise ValueError(
                f"family {r.family}, {r.parameter}: {len(hits)} rows of "
                f"{FAMILY_TABLES[r.family]} match; the parameter must name one"
            )
        if r.quantity not in table.columns:
            raise KeyError(f"family {r.family}: no column {r.quantity!r} in the table")
        ours = low = high = math.nan
        if len(hits) == 1:
            hit = hits.iloc[0]
            ours, low, high = (float(hit[c]) for c in (r.quantity, *CI_COLUMNS))
        value = float(r.value)
        rows.append(
            {
                "family": r.family,
                "quantity": r.quantity,
                "parameter": r.parameter,
                "authors": value,
                "approximate": bool(r.approximate),
                "ours": ours,
                "ci_low": low,
                "ci_high": high,
                "difference": ours - value,
                "inside": bool(low <= value <= high),  # False when NaN
                "source": r.source,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def authors_table(family: str, authors: pd.DataFrame | None = None) -> pd.DataFrame:
    """The authors' values of one ``family`` for a figure: one row per value, its
    parameters as columns (``c``, ``delta``, ``iteration``, ...), ``quantity``,
    ``authors`` (the value) and ``approximate``."""
    authors = load_authors_values() if authors is None else authors
    rows = [
        {
            **parse_parameter(r.parameter),
            "quantity": r.quantity,
            "authors": float(r.value),
            "approximate": bool(r.approximate),
        }
        for r in authors[authors["family"] == family].itertuples(index=False)
    ]
    return pd.DataFrame(rows)


def counts(table: pd.DataFrame) -> dict[str, int]:
    """``values`` in a comparison table, how many this run ``computed`` and how many of
    those lie ``inside`` our interval."""
    computed = table["ours"].notna()
    inside = table["inside"].map(summary.truthy)
    return {
        "values": len(table),
        "computed": int(computed.sum()),
        "inside": int((inside & computed).sum()),
    }


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(column: str, value: object) -> str:
    if column == "inside":
        ok = summary.truthy(value)
        return f"<td style='color:{'green' if ok else 'crimson'}'><b>{ok}</b></td>"
    if isinstance(value, float):
        return f"<td>{'' if math.isnan(value) else f'{value:.4g}'}</td>"
    return f"<td>{_escape(str(value))}</td>"


def comparison_html(table: pd.DataFrame) -> str:
    """A figure-free HTML page of a comparison table for the report."""
    n = counts(table)
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(_cell(c, getattr(r, c)) for c in COLUMNS) + "</tr>"
        for r in table.itertuples()
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>The authors' numbers</title>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px;"
        "vertical-align:top}table{border-collapse:collapse}</style></head><body>"
        "<h1>The authors' numbers beside ours</h1>"
        f"<p>{n['values']} values from the authors' notebooks; this run computes "
        f"{n['computed']} of them, and {n['inside']} lie inside our 95% interval. Values "
        "marked approximate were read from the notebooks' plots (to about 0.005); the others "
        "are printed there. A value this run does not compute (another c, tau or "
        "iteration) has no value of ours.</p>"
        f"<table><tr>{head}</tr>{body}</table></body></html>"
    )
