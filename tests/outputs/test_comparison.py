"""The authors' numbers beside ours (memreg.outputs.comparison): the package's copy of the
authors' values, and the comparison on small hand-made tables."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memreg.outputs import comparison, summary
from tests.outputs.tables import synthetic_tables

REPO = Path(__file__).resolve().parents[2]
# A notebook of the authors' repository, its commit and its cell, e.g.
# "2DGaussianPoints/VE_SinguarNN.ipynb @ fea501a, cell 9 (execution_count 20)"
SOURCE = re.compile(r"2DGaussianPoints/\w+\.ipynb @ [0-9a-f]{7}\b.*\bcell \d+\b")


# ----------------------------------------------------------------------------- the values


def test_the_authors_values_load_and_every_row_names_its_notebook_commit_and_cell():
    authors = comparison.load_authors_values()
    assert list(authors.columns) == comparison.AUTHORS_COLUMNS
    assert len(authors) > 0
    assert set(authors["family"]) <= set(comparison.FAMILY_TABLES)
    assert not authors.duplicated(["family", "quantity", "parameter"]).any()
    for r in authors.itertuples():
        assert SOURCE.search(r.source), r.source
        # a value read from a plot says so; a printed one is exact
        assert ("read from a plot" in r.source) == r.approximate, r.source
        assert r.approximate or r.source.endswith("printed"), r.source
        assert 0.0 <= r.value <= 1.0 and r.quantity == "fraction_matched"


def test_every_authors_parameter_names_columns_of_its_result_table():
    """The parameters are machine-usable: each key is a column of the table that the
    family's rows are compared with (the synthetic tables have the workflow's columns)."""
    tables = synthetic_tables(np.random.default_rng(0))
    for r in comparison.load_authors_values().itertuples():
        table = tables[comparison.FAMILY_TABLES[r.family]]
        assert set(comparison.parse_parameter(r.parameter)) <= set(table.columns), r.parameter
        assert r.quantity in table.columns and {"ci_low", "ci_high"} <= set(table.columns)


def test_the_authors_values_are_package_data():
    path = comparison.authors_values_file()
    assert path.is_file() and path.parent == Path(comparison.__file__).parent
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert comparison.AUTHORS_VALUES in setuptools["package-data"]["memreg.outputs"]


def test_the_compared_tables_are_the_result_tables_of_families_f_to_j():
    assert comparison.COMPARED_TABLES == {
        "tikhonov": "results/regularization/tikhonov.csv",
        "consistency": "results/regularization/consistency.csv",
        "nn_tikhonov": "results/neural/tikhonov.csv",
        "early_stopping": "results/neural/early_stopping.csv",
        "width": "results/neural/width.csv",
    }
    assert all(summary.RESULT_TABLES[k] == v for k, v in comparison.COMPARED_TABLES.items())


def test_load_refuses_a_bad_file(tmp_path):
    good = comparison.load_authors_values()
    path = tmp_path / "values.csv"
    good.drop(columns="source").to_csv(path, index=False)
    with pytest.raises(ValueError, match="source"):
        comparison.load_authors_values(path)
    good.assign(family="K").to_csv(path, index=False)
    with pytest.raises(ValueError, match="unknown families"):
        comparison.load_authors_values(path)
    good.assign(approximate="maybe").to_csv(path, index=False)
    with pytest.raises(ValueError, match="approximate"):
        comparison.load_authors_values(path)
    good.iloc[:2].to_csv(path, index=False)
    assert comparison.load_authors_values(path)["approximate"].dtype == bool


# ----------------------------------------------------------------------------- parameters


def test_parse_parameter_reads_numbers_as_floats_and_keeps_words():
    assert comparison.parse_parameter("c=1e-4;delta=1e-2") == {"c": 1e-4, "delta": 0.01}
    spec = "parameterization=nonsingular; iteration=20000 ;delta=5e-2"
    assert comparison.parse_parameter(spec) == {
        "parameterization": "nonsingular",
        "iteration": 20000.0,
        "delta": 0.05,
    }
    for bad in ("c", "c=", "=1", "c=1;c=2", "c=1;;d=2"):
        with pytest.raises(ValueError, match="key=value"):
            comparison.parse_parameter(bad)


def test_numbers_match_within_a_relative_tolerance_never_as_text():
    table = pd.DataFrame({"c": [1e-4 * (1 + 1e-12), 1e-3 * (1 + 1e-7), 0.0], "w": list("abc")})
    assert list(comparison.matching_rows(table, {"c": 1e-4}).index) == [0]
    assert comparison.matching_rows(table, {"c": 1e-3}).empty  # 1e-7 apart: another value
    assert list(comparison.matching_rows(table, {"c": 0.0}).index) == [2]
    assert list(comparison.matching_rows(table, {"w": "b"}).index) == [1]
    with pytest.raises(KeyError, match="tau"):
        comparison.matching_rows(table, {"tau": 1.0})


# ----------------------------------------------------------------------------- compare


def hand_made():
    """Family F at two c (one stored as sqrt(1e-9), the authors' 10^-4.5 to 1e-15) and
    family I at one snapshot, with their 95% intervals."""
    tik = pd.DataFrame(
        {
            "process": ["ve", "ve"],
            "c": [np.sqrt(1e-9), 1e-3],
            "delta": [0.01, 0.01],
            "fraction_matched": [0.80, 0.05],
            "ci_low": [0.78, 0.04],
            "ci_high": [0.83, 0.06],
        }
    )
    early = pd.DataFrame(
        {
            "parameterization": ["nonsingular", "singular"],
            "iteration": [20000, 20000],
            "delta": [0.05, 0.05],
            "fraction_matched": [0.10, 0.25],
            "ci_low": [0.08, 0.22],
            "ci_high": [0.12, 0.28],
        }
    )
    authors = pd.DataFrame(
        {
            "family": ["F", "F", "F", "I", "I"],
            "quantity": ["fraction_matched"] * 5,
            "parameter": [
                "process=ve;c=3.1622776601683795e-5;delta=1e-2",  # inside
                "process=ve;c=1e-3;delta=1e-2",  # outside, above
                "process=ve;c=1e-2;delta=1e-2",  # not in this run
                "parameterization=nonsingular;iteration=20000;delta=5e-2",  # outside, below
                "parameterization=singular;iteration=20000;delta=5e-2",  # on the bound
            ],
            "value": [0.804, 0.09, 0.0, 0.05, 0.28],
            "approximate": [True, True, True, False, False],
            "source": [f"s{k}" for k in range(5)],
        }
    )
    return {"tikhonov": tik, "early_stopping": early}, authors


def test_compare_on_hand_made_tables():
    tables, authors = hand_made()
    out = comparison.compare(tables, authors)
    assert list(out.columns) == comparison.COLUMNS
    assert list(out["parameter"]) == list(authors["parameter"])  # every row kept, in order
    assert list(out["source"]) == ["s0", "s1", "s2", "s3", "s4"]
    expected = [
        # ours, ci_low, ci_high, difference, inside
        (0.80, 0.78, 0.83, 0.80 - 0.804, True),
        (0.05, 0.04, 0.06, 0.05 - 0.09, False),
        (math.nan, math.nan, math.nan, math.nan, False),
        (0.10, 0.08, 0.12, 0.10 - 0.05, False),
        (0.25, 0.22, 0.28, 0.25 - 0.28, True),
    ]
    got = out[["ours", "ci_low", "ci_high", "difference"]].to_numpy(float)
    np.testing.assert_allclose(got, [e[:4] for e in expected], rtol=1e-12)
    assert list(out["inside"]) == [e[4] for e in expected]
    assert list(out["authors"]) == [0.804, 0.09, 0.0, 0.05, 0.28]
    assert list(out["approximate"]) == [True, True, True, False, False]
    assert comparison.counts(out) == {"values": 5, "computed": 4, "inside": 2}


def test_compare_refuses_ambiguous_or_missing_tables():
    tables, authors = hand_made()
    twice = pd.concat([tables["tikhonov"]] * 2, ignore_index=True)
    with pytest.raises(ValueError, match="2 rows"):
        comparison.compare({**tables, "tikhonov": twice}, authors)
    with pytest.raises(KeyError, match="early_stopping"):
        comparison.compare({"tikhonov": tables["tikhonov"]}, authors)
    with pytest.raises(KeyError, match="no column"):
        comparison.compare(tables, authors.assign(quantity="fraction_memorized"))


def test_the_package_values_on_the_synthetic_tables_are_all_kept():
    """As in the smoke preset, most of the authors' settings are not in the tables (H and
    I at other iterations): those rows are kept without a value of ours; F at c = 1e-5,
    1e-3, 1e-1 and G at tau = 1e-2, 10 are compared."""
    tables = synthetic_tables(np.random.default_rng(0))
    out = comparison.compare(tables)
    assert len(out) == len(comparison.load_authors_values())
    computed = out[out["ours"].notna()]
    assert list(computed["family"]) == ["F", "F", "F", "G", "G"]
    params = [comparison.parse_parameter(p) for p in computed["parameter"]]
    assert [p.get("c", p.get("tau")) for p in params] == [1e-5, 1e-3, 1e-1, 1e-2, 10.0]
    np.testing.assert_allclose(computed["ours"], [0.98, 0.5, 0.0, 0.9, 0.1])
    assert not out.loc[out["ours"].isna(), "inside"].any()


def test_authors_table_spreads_the_parameters_into_columns():
    _, authors = hand_made()
    table = comparison.authors_table("I", authors)
    assert list(table.columns) == [
        "parameterization",
        "iteration",
        "delta",
        "quantity",
        "authors",
        "approximate",
    ]
    assert list(table["parameterization"]) == ["nonsingular", "singular"]
    assert list(table["iteration"]) == [20000.0, 20000.0] and list(table["authors"]) == [0.05, 0.28]
    assert comparison.authors_table("J", authors).empty
    assert set(comparison.authors_table("H").columns) >= {"c", "delta", "iteration", "authors"}


def test_comparison_html_is_a_page_of_the_table():
    tables, authors = hand_made()
    page = comparison.comparison_html(comparison.compare(tables, authors))
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert "5 values" in page and "computes 4 of them, and 2 lie inside" in page
    assert page.count("<tr>") == 6
    assert page.count("color:green") == 2 and page.count("color:crimson") == 3
    assert "<th>difference</th>" in page
