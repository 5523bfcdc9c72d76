"""The claims table: each check holds on tables that satisfy it and fails on ones that don't."""

from __future__ import annotations

import re
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
from memreg.unet.scale import run_scale_note, table_scale_label

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


IMAGES = [200, 400, 600, 800, 1000]  # the evaluations of every run (batch 2: steps 100-500)


def unet(n2, n8=None):
    """A memorization table from {size C: {seed: fractions at IMAGES}} on N = 2 and, if
    given, on N = 8 (epochs: images / N)."""
    rows = []
    for name, n_train, sizes in (("n2", 2, n2), ("n8", 8, n8 or {})):
        for c, seeds in sizes.items():
            for seed, fracs in seeds.items():
                for images, frac in zip(IMAGES, fracs):
                    rows.append({"dataset": name, "n_train": n_train, "resolution": 32,
                                 "model_channels": c, "n_params": 1000 * c * c, "seed": seed,
                                 "images": images, "epoch": images / n_train,
                                 "step": images // 2, "fraction_memorized": frac})  # fmt: skip
    return pd.DataFrame(rows)


# N = 2, three seeds per size. Mean over the last ceil(0.1 x 5) = 1 evaluation: C4 1.0, 0.95,
# 0.9 (median 0.95), C8 1.0, 1.0, 0.95 (1.0), C16 1.0 x 3. First images with fraction >= 0.5:
# C4 600, 800, 600 (epochs 300, 400, 300; median 300), C8 400, 400, 600 (200), C16 200, 200,
# 400 (100): the medians fall with the size, rho = -1.
GOOD_N2 = {
    4: {0: [0.0, 0.2, 0.6, 0.9, 1.0], 1: [0.0, 0.1, 0.3, 0.7, 0.95], 2: [0.1, 0.2, 0.5, 0.8, 0.9]},
    8: {0: [0.1, 0.6, 0.9, 1.0, 1.0], 1: [0.2, 0.5, 0.8, 1.0, 1.0], 2: [0.0, 0.4, 0.7, 0.9, 0.95]},
    16: {0: [0.6, 0.9, 1.0, 1.0, 1.0], 1: [0.5, 1.0, 1.0, 1.0, 1.0],
         2: [0.3, 0.7, 1.0, 1.0, 1.0]},
}  # fmt: skip
# N = 8, two seeds per size. First images >= 0.5: C4 never, 800 (median inf), C8 600, 800
# (700), C16 400, 400 (400): later than N = 2's 600, 400, 200 at every size.
GOOD_N8 = {
    4: {0: [0.0, 0.0, 0.1, 0.2, 0.4], 1: [0.0, 0.1, 0.2, 0.5, 0.7]},
    8: {0: [0.0, 0.1, 0.5, 0.8, 0.9], 1: [0.0, 0.2, 0.4, 0.6, 0.9]},
    16: {0: [0.1, 0.6, 0.9, 1.0, 1.0], 1: [0.2, 0.5, 0.8, 0.9, 1.0]},
}  # fmt: skip
# C4 on N = 2 ending at 0.8, 0.85, 0.95 (median 0.85 < 0.9), its first epochs unchanged
LOW_C4 = {0: [0.0, 0.2, 0.6, 0.9, 0.8], 1: [0.0, 0.1, 0.3, 0.7, 0.85],
          2: [0.1, 0.2, 0.5, 0.8, 0.95]}  # fmt: skip
# C16 on N = 2 the slowest: first epochs 400, 400, 300 (median 400); medians 300, 200, 400
# against sizes 4, 8, 16 rank 2, 1, 3: rho = 0.5. On N = 8 it then needs to be later than 800
# images: never, 1000 (median inf).
SLOW_C16_N2 = {0: [0.1, 0.2, 0.3, 0.6, 1.0], 1: [0.0, 0.3, 0.4, 0.9, 1.0],
               2: [0.2, 0.3, 0.6, 1.0, 1.0]}  # fmt: skip
SLOW_C16_N8 = {0: [0.0, 0.0, 0.0, 0.2, 0.3], 1: [0.0, 0.0, 0.0, 0.3, 0.6]}
# C16 on N = 8 as fast as on N = 2: first images 200, 200 (median 200) against 200
FAST_C16_N8 = {0: [0.6, 0.9, 1.0, 1.0, 1.0], 1: [0.5, 1.0, 1.0, 1.0, 1.0]}
# C4 never reaching 0.5 on N = 2 (median inf, ranked last: rho stays -1) nor on N = 8
NEVER_C4 = {seed: [0.0, 0.1, 0.2, 0.3, 0.4] for seed in (0, 1, 2)}


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
        ("unet", unet({**GOOD_N2, 4: LOW_C4}, GOOD_N8), "unet_memorizes"),
        (
            "unet",
            unet({**GOOD_N2, 16: SLOW_C16_N2}, {**GOOD_N8, 16: SLOW_C16_N8}),
            "unet_sooner",
        ),
        # two sizes only: no rank correlation to speak of
        ("unet", unet({c: GOOD_N2[c] for c in (4, 8)}, GOOD_N8), "unet_sooner"),
        # never on both at C4: "never" on both is not "later"; C4 ends unmemorized too
        (
            "unet",
            unet({**GOOD_N2, 4: NEVER_C4}, {**GOOD_N8, 4: {0: NEVER_C4[0]}}),
            {"unet_memorizes", "unet_more_data_later"},
        ),
        ("unet", unet(GOOD_N2, {**GOOD_N8, 16: FAST_C16_N8}), "unet_more_data_later"),
        ("unet", unet(GOOD_N2), "unet_more_data_later"),  # no N = 8 run at all
    ],
)
def test_a_claim_that_does_not_hold_is_reported_as_not_holding(name, table, failing):
    result = holds({**good_tables(), name: table})
    failing = {failing} if isinstance(failing, str) else failing
    assert {k for k, v in result.items() if not v} == failing, result


def test_missing_tables_give_not_holding_rows_not_gaps():
    tables = good_tables()
    for empty in (None, unet(GOOD_N2).iloc[:0]):
        tables["unet"] = empty
        tables["width"] = pd.DataFrame()
        out = evaluate_claims(tables, TH, CITED)
        missing = out[out["value"] == "no data"]
        assert set(missing["id"]) == {
            "unet_memorizes", "unet_sooner", "unet_more_data_later", "width"
        }  # fmt: skip
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
    # values that appear nowhere else: each must arrive in its field, none from elsewhere
    config = {
        **CONFIG,
        "boundaries": {**CONFIG["boundaries"], "tol": 3.25e-7},
        "paper": {**CONFIG["paper"], "nn_delta": 0.0625},
        "claims": {**CONFIG["claims"], "unet_level": 0.4375, "n_boot": 777},
    }
    th, cited = from_config(config)
    assert (cited.boundary_tol, cited.nn_delta) == (3.25e-7, 0.0625)
    assert (th.unet_level, th.n_boot) == (0.4375, 777)


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


def unet_claims(tab, **th):
    out = evaluate_claims({**good_tables(), "unet": tab}, Thresholds(**{**CONFIG["claims"], **th}),
                          CITED)  # fmt: skip
    return out.set_index("id").loc[["unet_memorizes", "unet_sooner", "unet_more_data_later"]]


def test_unet_claims_state_the_run_scale_the_seeds_and_their_numbers():
    tab = unet(GOOD_N2, GOOD_N8)
    out = unet_claims(tab)
    note = run_scale_note(table_scale_label(tab))
    assert "32x32" in note and "--config preset=paper" in note
    for claim in out.index:
        assert note in out.loc[claim, "quantity"], claim
        assert "3 (N = 2) / 2 (N = 8)" in out.loc[claim, "quantity"], claim  # seeds per size
        assert out.loc[claim, "holds"], claim
    assert out.loc["unet_memorizes", "value"] == (
        "C4: 0.95 [0.90, 1.00] (3 seeds); C8: 1.00 [0.95, 1.00] (3 seeds); "
        "C16: 1.00 [1.00, 1.00] (3 seeds)"
    )
    assert "last 10% of evaluations" in out.loc["unet_memorizes", "quantity"]
    # resampled medians: C4 300 or 400, C8 200 or 300, C16 100 or 200, never all equal: rho
    # is -1 (no ties) or -sqrt(3)/2 = -0.87 (one tie, in about 38% of the resamples)
    assert out.loc["unet_sooner", "value"] == (
        "median epochs C4: 300, C8: 200, C16: 100; rho = -1.00, "
        "95% bootstrap interval over seeds [-1.00, -0.87]"
    )
    later = "C4: 600 / inf, C8: 400 / 700, C16: 200 / 400"
    assert out.loc["unet_more_data_later", "value"] == later


def test_unet_claims_that_fail_report_their_numbers():
    low = unet_claims(unet({**GOOD_N2, 4: LOW_C4}, GOOD_N8)).loc["unet_memorizes"]
    assert not low["holds"] and low["value"].startswith("C4: 0.85 [0.80, 0.95] (3 seeds); ")
    slow = unet_claims(unet({**GOOD_N2, 16: SLOW_C16_N2}, {**GOOD_N8, 16: SLOW_C16_N8}))
    assert slow.loc["unet_sooner", "value"].startswith(
        "median epochs C4: 300, C8: 200, C16: 400; rho = 0.50, 95% bootstrap interval"
    )
    assert slow.loc["unet_more_data_later", "value"].endswith("C16: 800 / inf")
    fast = unet_claims(unet(GOOD_N2, {**GOOD_N8, 16: FAST_C16_N8})).loc["unet_more_data_later"]
    assert fast["value"].endswith("C16: 200 / 200") and not fast["holds"]
    never = unet_claims(unet({**GOOD_N2, 4: NEVER_C4}, {**GOOD_N8, 4: {0: NEVER_C4[0]}}))
    assert never.loc["unet_more_data_later", "value"].startswith(
        "C4: inf / inf (never on either: not later), C8: 400 / 700"
    )
    assert never.loc["unet_sooner", "value"].startswith("median epochs C4: inf, C8: 200, C16: 100")
    alone = unet_claims(unet(GOOD_N2)).loc["unet_more_data_later"]
    assert alone["value"] == "no data set with more than N = 2 images" and not alone["holds"]


def test_unet_final_window_is_the_configured_share_of_the_evaluations():
    # window 0.5 of 5 evaluations: the last ceil(2.5) = 3. C4's last three: (0.6 + 0.9 + 1.0)
    # / 3 = 0.833, (0.3 + 0.7 + 0.95) / 3 = 0.65, (0.5 + 0.8 + 0.9) / 3 = 0.733
    out = unet_claims(unet(GOOD_N2, GOOD_N8), unet_final_window=0.5).loc["unet_memorizes"]
    assert out["value"].startswith("C4: 0.73 [0.65, 0.83] (3 seeds); ")
    assert "last 50% of evaluations" in out["quantity"] and not out["holds"]


def test_unet_rank_interval_drops_undefined_resamples_and_says_so():
    # every size's seeds first reach 0.5 at epochs 100 and 200 (images 200, 400): median 150
    # each, rho undefined (nan: does not hold); a resample's medians (100, 150 or 200, with
    # chances 1/4, 1/2, 1/4) all tie with chance 2 (1/4)^3 + (1/2)^3 = 5/32
    tied = {c: {0: [0.5, 0.6, 0.9, 1.0, 1.0], 1: [0.1, 0.5, 0.9, 1.0, 1.0]} for c in (4, 8, 16)}
    out = unet_claims(unet(tied, GOOD_N8), n_boot=2000, seed=3).loc["unet_sooner"]
    assert not out["holds"] and "rho = nan" in out["value"]
    dropped = int(re.search(r"\((\d+) of 2000 resamples with undefined rho dropped\)",
                            out["value"])[1])  # fmt: skip
    assert abs(dropped - 2000 * 5 / 32) < 80  # 5 binomial standard deviations (16)
