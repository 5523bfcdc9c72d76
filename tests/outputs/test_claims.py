"""The claims table: each check holds on tables that satisfy it and fails on ones that don't."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from memreg.outputs.claims import (
    COLUMNS,
    Cited,
    Thresholds,
    claims_html,
    evaluate_claims,
    from_config,
)

CONFIG = yaml.safe_load((Path(__file__).resolve().parents[2] / "config.yaml").read_text())
TH, CITED = from_config(CONFIG)


def convergence(rate_ve=1.0, classes=("training_point",) * 4):
    rows = [{"process": p, "rate": r, "limit_class": c}
            for p, r in (("ve", rate_ve), ("vp", 1.0)) for c in classes]  # fmt: skip
    return pd.DataFrame(rows)


def boundaries(wrong=False):
    return pd.DataFrame({
        "start_on_face": [True, False, False],
        "limit_class": ["voronoi_boundary", "training_point",
                        "voronoi_boundary" if wrong else "training_point"],
        "distance_to_predicted": [0.0, 1e-9, 0.0],
    })  # fmt: skip


def sweep(param, fractions, med=(1.0, 1.1, 0.9)):
    values = [1e-3, 1e-2, 1e-1][: len(fractions)]
    return pd.DataFrame({
        param: values, "fraction_matched": fractions,
        "ci_high": [f + 0.02 for f in fractions],
        "median_distance_over_sqrt_c": list(med)[: len(fractions)],
        "predicted_median_distance_over_sqrt_c": list(med)[: len(fractions)],
    })  # fmt: skip


def neural(column, values, fractions, iteration=None):
    rows = []
    for v, f in zip(values, fractions):
        for delta in (0.01, 0.1, 0.5):
            rows.append({column: v, "delta": delta, "fraction_matched": f,
                         "iteration": iteration if iteration is not None else 100,
                         "c": v if column == "c" else 0.0,
                         "n_params": v if column == "width" else 1})  # fmt: skip
    return pd.DataFrame(rows)


def unet(finals, n8=None):
    """A memorization table: per size C, (step, fraction) on N = 2, and on N = 8 if given."""
    rows = []
    for name, n_train, curves in (("n2", 2, finals), ("n8", 8, n8 or {})):
        for c, steps in curves.items():
            for step, frac in steps:
                rows.append({"dataset": name, "n_train": n_train, "model_channels": c,
                             "n_params": 1000 * c * c, "resolution": 32, "step": step,
                             "fraction_memorized": frac})  # fmt: skip
    return pd.DataFrame(rows)


GOOD_N2 = {4: [(100, 0.2), (200, 0.6), (300, 1.0)], 8: [(100, 0.7), (200, 1.0), (300, 1.0)],
           16: [(100, 0.9), (200, 1.0), (300, 1.0)]}  # fmt: skip
GOOD_N8 = {4: [(100, 0.0), (200, 0.1), (300, 0.2)], 8: [(100, 0.1), (200, 0.6), (300, 0.9)],
           16: [(100, 0.2), (200, 0.8), (300, 1.0)]}  # fmt: skip


def good_tables():
    early = pd.concat([
        neural("parameterization", ["nonsingular", "singular"], [0.1, 0.2], iteration=10),
        neural("parameterization", ["nonsingular", "singular"], [0.5, 0.7], iteration=20),
    ])  # fmt: skip
    return {
        "convergence": convergence(),
        "boundaries": boundaries(),
        "tikhonov": sweep("c", [0.9, 0.5, 0.1]),
        "consistency": sweep("tau", [0.9, 0.9, 0.0]),
        "nn_tikhonov": neural("c", [0.0, 0.1], [0.8, 0.1]),
        "early_stopping": early,
        "width": neural("width", [16, 256], [0.1, 0.9]),
        "unet": unet(GOOD_N2, GOOD_N8),
    }


def holds(tables, **th):
    out = evaluate_claims(tables, Thresholds(**{**CONFIG["claims"], **th}), CITED)
    assert list(out.columns) == COLUMNS
    return dict(zip(out["id"], out["holds"]))


def test_every_claim_holds_on_tables_that_satisfy_it():
    result = holds(good_tables())
    assert set(result) == {
        "rate_ve", "rate_vp", "returns_training_points", "voronoi_faces", "tikhonov_falls",
        "tikhonov_sqrt_c", "consistency_falls", "nn_tikhonov", "early_stopping", "width",
        "unet_memorizes", "unet_sooner", "unet_more_data_later",
    }  # fmt: skip
    assert all(result.values()), result


@pytest.mark.parametrize(
    "name, table, failing",
    [
        ("convergence", convergence(rate_ve=0.8), "rate_ve"),
        (
            "convergence",
            convergence(classes=("training_point", "interior")),
            "returns_training_points",
        ),
        ("boundaries", boundaries(wrong=True), "voronoi_faces"),
        ("tikhonov", sweep("c", [0.5, 0.9, 0.1]), "tikhonov_falls"),
        ("tikhonov", sweep("c", [0.9, 0.5, 0.1], med=(1.0, 3.0, 1.0)), "tikhonov_sqrt_c"),
        ("consistency", sweep("tau", [0.1, 0.5, 0.0]), "consistency_falls"),
        ("nn_tikhonov", neural("c", [0.0, 0.1], [0.1, 0.8]), "nn_tikhonov"),
        ("width", neural("width", [16, 256], [0.9, 0.1]), "width"),
        (
            "unet",
            unet({**GOOD_N2, 4: [(100, 0.2), (200, 0.6), (300, 0.8)]}, GOOD_N8),
            "unet_memorizes",
        ),
        # the largest model is the slowest: rho = -0.5
        (
            "unet",
            unet(
                {**GOOD_N2, 16: [(100, 0.2), (200, 0.3), (300, 1.0)]},
                {**GOOD_N8, 16: [(100, 0.2), (200, 0.3), (300, 0.4)]},
            ),
            "unet_sooner",
        ),
        # two sizes only: no rank correlation to speak of
        ("unet", unet({c: GOOD_N2[c] for c in (4, 8)}, GOOD_N8), "unet_sooner"),
        # the smallest never gets to 0.5 (ranked last, as it should) and ends unmemorized;
        # on N = 8 it never gets there either: "never" on both is not "later"
        (
            "unet",
            unet({**GOOD_N2, 4: [(100, 0.2), (200, 0.3), (300, 0.3)]}, GOOD_N8),
            {"unet_memorizes", "unet_more_data_later"},
        ),
        # N = 8 as fast as N = 2 at C = 16 (100 steps both): not later
        (
            "unet",
            unet(GOOD_N2, {**GOOD_N8, 16: [(100, 0.9), (200, 1.0), (300, 1.0)]}),
            "unet_more_data_later",
        ),
        ("unet", unet(GOOD_N2), "unet_more_data_later"),  # no N = 8 run at all
    ],
)
def test_a_claim_that_does_not_hold_is_reported_as_not_holding(name, table, failing):
    result = holds({**good_tables(), name: table})
    failing = {failing} if isinstance(failing, str) else failing
    assert {k for k, v in result.items() if not v} == failing, result


def test_missing_tables_give_not_holding_rows_not_gaps():
    tables = good_tables()
    tables["unet"] = None
    tables["width"] = pd.DataFrame()
    out = evaluate_claims(tables, TH, CITED)
    missing = out[out["value"] == "no data"]
    assert set(missing["id"]) == {"unet_memorizes", "unet_sooner", "unet_more_data_later", "width"}
    assert not missing["holds"].any()


def test_a_missing_convergence_table_names_each_process_claim():
    tables = {**good_tables(), "convergence": None}
    out = evaluate_claims(tables, TH, CITED, processes=["ve_talk", "vp"])
    missing = out[out["value"] == "no data"]
    assert set(missing["id"]) == {"rate_ve_talk", "rate_vp", "returns_training_points"}
    assert not any("{" in i for i in out["id"])
    unnamed = evaluate_claims(tables, TH, CITED)
    assert "rate_unknown" in set(unnamed["id"]) and not any("{" in i for i in unnamed["id"])


def test_thresholds_have_no_defaults_and_cited_settings_come_from_config():
    with pytest.raises(TypeError):
        Thresholds()  # type: ignore[call-arg]
    assert CITED == Cited(CONFIG["boundaries"]["tol"], CONFIG["paper"]["nn_delta"])


def test_boundary_claim_uses_the_boundary_tolerance():
    tables = good_tables()  # one off-face start 1e-9 from its prediction
    assert holds(tables)["voronoi_faces"]
    strict = evaluate_claims(tables, TH, Cited(1e-10, CITED.nn_delta)).set_index("id")
    assert not strict.loc["voronoi_faces", "holds"]
    assert strict.loc["voronoi_faces", "criterion"] == "all, within 1e-10"


def test_neural_claims_cite_the_configured_delta():
    # fractions differ by delta: at 0.5 the largest c memorizes more, at 0.01 less
    rows = []
    by_c = {0.0: {0.01: 0.8, 0.1: 0.8, 0.5: 0.1}, 0.1: {0.01: 0.1, 0.1: 0.1, 0.5: 0.9}}
    for c, by_delta in by_c.items():
        for d, f in by_delta.items():
            rows.append({"c": c, "delta": d, "fraction_matched": f, "iteration": 100})
    tables = {**good_tables(), "nn_tikhonov": pd.DataFrame(rows)}
    at = {}
    for d in (0.1, 0.4):
        out = evaluate_claims(tables, TH, Cited(CITED.boundary_tol, d)).set_index("id")
        at[d] = out.loc["nn_tikhonov"]
    assert at[0.1]["holds"] and "delta = 0.1)" in at[0.1]["quantity"]
    assert not at[0.4]["holds"] and "delta = 0.5)" in at[0.4]["quantity"]


def test_html_page_lists_every_claim():
    out = evaluate_claims(good_tables(), TH, CITED)
    page = claims_html(out)
    assert page.count("<tr>") == len(out) + 1
    assert f"{len(out)} of {len(out)} claims hold" in page


def test_unet_claims_state_the_run_scale_and_the_steps_per_size():
    out = evaluate_claims(good_tables(), TH, CITED).set_index("id")
    for claim in ("unet_memorizes", "unet_sooner", "unet_more_data_later"):
        assert "32x32, 300 steps, model_channels 4-16" in out.loc[claim, "quantity"]
        assert "--config preset=paper" in out.loc[claim, "quantity"]
    assert out.loc["unet_sooner", "value"] == "C4: 200, C8: 100, C16: 100; rho = -0.87"
    later = "C4: 200 / inf, C8: 100 / 200, C16: 100 / 200"
    assert out.loc["unet_more_data_later", "value"] == later
