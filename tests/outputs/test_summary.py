"""The summary layer (memreg.outputs.summary): its functions on hand-made tables, and the claims,
the manuscript's values and tables and the figure annotations citing the same numbers."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from memreg import metrics
from memreg.outputs import claims, paper, plots, summary
from tests.outputs.tables import synthetic_tables

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
TH, CITED = claims.from_config(CONFIG)


# ----------------------------------------------------------------------------- unit


def conv_table() -> pd.DataFrame:
    """ve: two of three reach a training point (rates 0.9, 1.1; the interior one 7.0);
    vp: none does."""
    return pd.DataFrame(
        {
            "process": ["ve", "vp", "ve", "ve", "vp"],
            "rate": [0.9, 2.0, 7.0, 1.1, 3.0],
            "limit_class": [
                "training_point",
                "interior",
                "interior",
                "training_point",
                "voronoi_boundary",
            ],
        }
    )


def test_convergence_by_process_counts_and_rates_over_training_points_only():
    table = summary.convergence_by_process(conv_table())
    assert list(table["process"]) == ["ve", "vp"]  # table order
    ve, vp = table.iloc[0], table.iloc[1]
    assert (ve["n"], ve["reached"], ve["fraction"]) == (3, 2, pytest.approx(2 / 3))
    assert (ve["median"], ve["min"], ve["max"]) == (pytest.approx(1.0), 0.9, 1.1)
    assert (vp["n"], vp["reached"], vp["fraction"]) == (2, 0, 0.0)
    assert math.isnan(vp["median"]) and math.isnan(vp["max"])
    rates = summary.median_rates(conv_table())
    assert rates["ve"] == pytest.approx(1.0) and math.isnan(rates["vp"])


def test_boundary_counts_by_hand():
    bnd = pd.DataFrame(
        {
            "start_on_face": ["True", "False", True, False, "false"],  # as read back or not
            "limit_class": [
                "voronoi_boundary",
                "training_point",
                "training_point",
                "training_point",
                "interior",
            ],
            "distance_to_predicted": [0.0, 1e-7, 1e-9, 1e-3, 0.0],
        }
    )
    n = summary.boundary_counts(bnd, 1e-6)
    assert n == {
        "starts": 5,
        "face": 2,
        "face_at": 2,
        "off": 3,
        "off_at": 2,
        "right": 2,
        "worst": 1e-3,
    }
    assert summary.boundary_counts(bnd, 1e-2)["off_at"] == 3
    np.testing.assert_array_equal(summary.on_face(bnd), [True, False, True, False, False])


def test_sweep_ends_and_falls_whatever_the_row_order():
    tab = pd.DataFrame(
        {"c": [1e-3, 1e-1, 1e-2], "fraction_matched": [0.9, 0.1, 0.52], "ci_high": [0.95, 0.2, 0.6]}
    )
    lo, hi = summary.sweep_ends(tab, "c")
    assert (lo["c"], lo["fraction_matched"], hi["c"], hi["fraction_matched"]) == (
        1e-3,
        0.9,
        1e-1,
        0.1,
    )
    assert list(summary.sweep_rows(tab, "c")["c"]) == [1e-3, 1e-2, 1e-1]
    assert summary.falls(tab, "c")
    # 0.7 at c = 1e-1 exceeds the upper bound 0.6 at c = 1e-2: does not fall
    assert not summary.falls(tab.assign(fraction_matched=[0.9, 0.7, 0.52]), "c")


def test_sqrt_c_spread():
    tik = pd.DataFrame(
        {
            "median_distance_over_sqrt_c": [1.0, 2.0, 1.5],
            "predicted_median_distance_over_sqrt_c": [1.0, 1.6, 2.0],
        }
    )
    spread, worst = summary.sqrt_c_spread(tik)
    assert spread == pytest.approx(2.0) and worst == pytest.approx(2.0 / 1.5)


@pytest.mark.parametrize(
    "target, expected", [(0.1, 0.1), (0.2, 0.1), (0.3, 0.5), (0.001, 0.01), (7.0, 0.5)]
)
def test_cited_delta_is_the_nearest_on_a_log_scale(target, expected):
    assert summary.cited_delta([0.5, 0.01, 0.1, 0.05, 0.1], target) == expected


def nn_table() -> pd.DataFrame:
    rows = []
    for it in (10, 20):
        for d in (0.01, 0.1):
            for c, width, n_params, param in (
                (0.1, 64, 640, "singular"),
                (0.0, 16, 160, "nonsingular"),
            ):
                rows.append(
                    {
                        "iteration": it,
                        "delta": d,
                        "c": c,
                        "width": width,
                        "n_params": n_params,
                        "parameterization": param,
                        "fraction_matched": it / 100 + d + c,
                    }
                )
    return pd.DataFrame(rows)


def test_neural_ends_at_the_last_iteration_and_the_cited_delta():
    delta, lo, hi = summary.nn_tikhonov_ends(nn_table(), 0.2)
    assert delta == 0.1 and (lo["c"], hi["c"]) == (0.0, 0.1)
    assert (lo["fraction_matched"], hi["fraction_matched"]) == pytest.approx((0.3, 0.4))
    delta, small, large = summary.width_ends(nn_table(), 0.005)
    assert delta == 0.01 and (small["width"], large["width"]) == (16, 64)
    assert (small["fraction_matched"], large["fraction_matched"]) == pytest.approx((0.21, 0.31))
    delta, ends = summary.early_stopping_ends(nn_table(), 0.1)
    assert list(ends) == ["singular", "nonsingular"]  # table order
    assert ends["singular"] == pytest.approx((0.3, 0.4))
    assert ends["nonsingular"] == pytest.approx((0.2, 0.3))


def unet_runs(runs: dict) -> pd.DataFrame:
    """A memorization table from {(dataset, N, C, seed): fractions at images 200, 400, ...},
    its rows in reverse order (the functions must sort by images)."""
    rows = []
    for (name, n_train, c, seed), fracs in runs.items():
        for k, frac in enumerate(fracs):
            images = 200 * (k + 1)
            rows.append({"dataset": name, "n_train": n_train, "model_channels": c,
                         "n_params": 10 * c * c, "seed": seed, "images": images,
                         "epoch": images / n_train, "fraction_memorized": frac,
                         "sq_distance_mean": 100.0 * c + seed + k})  # fmt: skip
    return pd.DataFrame(rows[::-1])


@pytest.mark.parametrize(
    "n, window, k", [(20, 0.1, 2), (5, 0.1, 1), (3, 0.01, 1), (30, 0.1, 3), (100, 0.07, 7),
                     (10, 1.0, 10), (7, 0.5, 4)],
)  # fmt: skip
def test_window_size_is_the_ceiling_of_the_share_and_at_least_one(n, window, k):
    # 0.07 x 100 is 7.000000000000001 in floating point: its ceiling would be 8
    assert summary.window_size(n, window) == k


def test_unet_final_mean_averages_the_last_window_by_images_seen():
    # 20 evaluations, window 0.1: the last 2, (0.6 + 1.0) / 2 = 0.8 (not the last one, 1.0,
    # nor the last three, 0.633); a second seed of 10 evaluations: the last one, 0.4
    tab = unet_runs({("n2", 2, 4, 0): [0.0] * 17 + [0.3, 0.6, 1.0],
                     ("n2", 2, 4, 1): [0.0] * 9 + [0.4]})  # fmt: skip
    out = summary.unet_final_mean(tab, 0.1)
    assert list(out.columns) == [*summary.UNET_RUN, "value"]
    assert list(out["seed"]) == [0, 1] and out["value"].tolist() == pytest.approx([0.8, 0.4])
    assert summary.unet_final_mean(tab, 0.15)["value"].tolist() == pytest.approx(
        [1.9 / 3, 0.2]  # ceil(3) = 3 and ceil(1.5) = 2 evaluations
    )


def test_first_reaching_and_last_evaluation_per_run():
    tab = unet_runs({("n8", 8, 4, 0): [0.1, 0.6, 0.4, 0.9], ("n8", 8, 4, 1): [0.1, 0.2, 0.3, 0.4],
                     ("n8", 8, 8, 0): [0.5, 0.7, 0.7, 0.7]})  # fmt: skip
    # the first evaluation at or above 0.5: images 400 (epoch 50), never, images 200 (epoch 25)
    assert summary.first_reaching(tab, 0.5, "images")["value"].tolist() == [400, math.inf, 200]
    assert summary.first_reaching(tab, 0.5, "epoch")["value"].tolist() == [50, math.inf, 25]
    # at 0.4 the second seed gets there at its last evaluation, 800 images
    assert summary.first_reaching(tab, 0.4, "images")["value"].tolist() == [400, 800, 200]
    # sq_distance_mean at the last of 4 evaluations: 100 C + seed + 3
    assert summary.last_evaluation(tab, "sq_distance_mean")["value"].tolist() == [403, 404, 803]


def test_median_over_seeds_by_hand():
    per_run = pd.DataFrame({
        "dataset": ["n8"] * 2 + ["n2"] * 6, "n_train": [8] * 2 + [2] * 6,
        "model_channels": [4, 4, 8, 8, 8, 8, 4, 4], "n_params": [160, 160] + [640] * 4 + [160] * 2,
        "seed": [0, 1, 0, 1, 2, 3, 0, 1],
        "value": [100.0, math.inf, 0.2, 0.9, 0.5, 0.7, math.inf, math.inf],
    })  # fmt: skip
    out = summary.median_over_seeds(per_run)
    assert list(zip(out["dataset"], out["model_channels"])) == [("n2", 4), ("n2", 8), ("n8", 4)]
    # four seeds: the mean of the middle two, (0.5 + 0.7) / 2
    four = out.loc[1, ["median", "min", "max", "seeds"]].tolist()
    assert four == pytest.approx([0.6, 0.2, 0.9, 4])
    # two seeds, one of them never: inf; both never: inf
    assert out.loc[2, "median"] == math.inf and out.loc[2, "min"] == 100.0
    assert out.loc[0, "median"] == math.inf and out.loc[0, "seeds"] == 2


def test_seed_counts_and_bands():
    tab = unet_runs({("n8", 8, 4, 0): [0.0, 0.2], ("n2", 2, 4, 0): [0.1, 0.5],
                     ("n2", 2, 4, 1): [0.3, 0.6], ("n2", 2, 4, 2): [0.2, 1.0],
                     ("n2", 2, 8, 5): [0.9, 1.0]})  # fmt: skip
    counts = summary.unet_seed_counts(tab)
    assert counts.values.tolist() == [["n2", 2, 1, 3], ["n8", 8, 1, 1]]
    bands = summary.unet_seed_bands(tab, "fraction_memorized")
    first = bands.iloc[:2]  # n2, C4 at 200 and 400 images (epochs 100, 200)
    assert first["epoch"].tolist() == [100, 200] and first["seeds"].tolist() == [3, 3]
    assert first["median"].tolist() == [0.2, 0.6] and first["min"].tolist() == [0.1, 0.5]
    assert first["max"].tolist() == [0.3, 1.0]
    assert bands["dataset"].tolist() == ["n2"] * 4 + ["n8"] * 2


def test_rank_correlation_and_its_interval_over_seeds():
    # sizes 4, 8, 16 (parameters 160, 640, 2560); first epochs per seed: C4 300, 400, 300,
    # C8 200, 200, 300, C16 100, 100, 200. Medians 300, 200, 100: rho = -1. Resampled medians:
    # C4 300 or 400, C8 200 or 300, C16 100 or 200, never all equal: rho is -1 or, with one
    # tie (C4 = C8 = 300 or C8 = C16 = 200, in about 38% of the resamples), -sqrt(3)/2
    values = {4: [300, 400, 300], 8: [200, 200, 300], 16: [100, 100, 200]}
    per_run = pd.DataFrame([
        {"dataset": "n2", "n_train": 2, "model_channels": c, "n_params": 10 * c * c,
         "seed": s, "value": float(v)}
        for c, vs in values.items() for s, v in enumerate(vs)
    ])  # fmt: skip
    rho = summary.rank_correlation(summary.median_over_seeds(per_run))
    assert rho == pytest.approx(-1.0)
    low, high, dropped = summary.rank_correlation_interval(per_run, 2000, 0)
    assert (low, high, dropped) == (pytest.approx(-1.0), pytest.approx(-math.sqrt(3) / 2), 0)
    assert low <= rho <= high
    assert summary.rank_correlation_interval(per_run, 2000, 0) == (low, high, dropped)
    # one seed per size (seed 1: 400, 200, 100): every resample is the table itself
    single = per_run[per_run["seed"] == 1]
    assert summary.rank_correlation_interval(single, 50, 7) == (
        pytest.approx(-1.0),
        pytest.approx(-1.0),
        0,
    )
    # all sizes equal on every seed: every rho undefined
    flat = per_run.assign(value=1.0)
    low, high, dropped = summary.rank_correlation_interval(flat, 100, 0)
    assert math.isnan(low) and math.isnan(high) and dropped == 100


def test_spearman_by_hand():
    assert summary.spearman(np.array([1, 2, 3]), np.array([3.0, 2.0, 1.0])) == pytest.approx(-1)
    assert summary.spearman(np.array([1, 2, 3]), np.array([1.0, 2.0, math.inf])) == pytest.approx(1)
    assert math.isnan(summary.spearman(np.array([1, 2]), np.array([2.0, 1.0])))
    assert math.isnan(summary.spearman(np.array([1, 2, 3]), np.array([1.0, 1.0, 1.0])))


def test_claims_holding_reads_csv_booleans():
    tab = pd.DataFrame({"holds": [True, "False", "True", False]})
    assert summary.claims_holding(tab) == (4, 2)


@pytest.mark.parametrize(
    "ratio, text", [(metrics.GU_RATIO, "1/3"), (0.5, "1/2"), (1.0, "1"), (0.123456, "0.123456")]
)
def test_ratio_text(ratio, text):
    assert metrics.ratio_text(ratio) == text


def test_result_tables_are_the_paths_the_rules_write(tmp_path):
    """A dry run (smoke preset, empty directory) finds a rule for every table that the
    claims and the manuscript read."""
    assert set(paper.VALUE_TABLES) == {*summary.RESULT_TABLES, "claims"}
    assert {n for names, _, _ in claims.CHECKS for n in names} == set(summary.RESULT_TABLES)
    targets = [*summary.RESULT_TABLES.values(), summary.CLAIMS_TABLE]
    cmd = [
        SNAKEMAKE,
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(tmp_path),
        "-n",
        "--cores",
        "1",
        *targets,
        "--config",
        "preset=smoke",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


# ----------------------------------------------------------------------------- consumers


def shared_tables() -> dict[str, pd.DataFrame]:
    """test_paper's synthetic tables, with the columns the claims read as well."""
    tables = synthetic_tables(np.random.default_rng(3))
    bnd = tables["boundaries"]
    tables["boundaries"] = bnd.assign(
        limit_class=np.where(bnd["start_on_face"], "voronoi_boundary", "training_point"),
        limit_x=0.0,
        limit_y=bnd["start_y"],
    )
    return tables


def consumers(tables, monkeypatch):
    """(claims by id, paper values, paper tables, figure titles by figure name) from the
    same tables; the figures are drawn but not written."""
    monkeypatch.setattr(plots, "save", lambda fig, *args, **kwargs: figs.append(fig))
    figs: list = []
    out = claims.evaluate_claims(tables, TH, CITED).set_index("id")
    values = paper.values_dict(
        tables, CITED.boundary_tol, CITED.nn_delta, TH.unet_final_window, TH.unet_level
    )
    texts = paper.tables_tex(tables, CITED.boundary_tol, TH.unet_final_window, TH.unet_level)
    conv = tables["convergence"]
    s = np.linspace(0.0, 16.0, 81)
    curves = {
        p: {"s": s, "distance": np.exp(-s)[:, None] * np.ones((1, 3))}
        for p in dict.fromkeys(conv["process"])
    }
    plots.convergence_s(curves, conv, "unused")
    bnd = tables["boundaries"]
    train = np.array([[1.0, 0.0], [-1.0, 0.0]])
    cases = {
        name: {"table": r, "y": np.zeros((2, len(r), 2)), "train": train}
        for name, r in bnd.groupby("dataset", sort=False)
    }
    plots.voronoi_boundaries(cases, "unused")
    titles = {
        "convergence_s": [ax.get_title() for ax in figs[0].axes],
        "voronoi_boundaries": [ax.get_title() for ax in figs[1].axes],
    }
    return out, values, texts, titles


def test_claims_paper_and_figures_cite_the_same_numbers(monkeypatch):
    tables = shared_tables()
    out, values, texts, titles = consumers(tables, monkeypatch)
    # D: the median rate over trajectories that reach a training point
    per_process = summary.convergence_by_process(tables["convergence"])
    assert len(per_process) == 2
    for row, title in zip(per_process.itertuples(), titles["convergence_s"]):
        assert out.loc[f"rate_{row.process}", "value"] == f"{row.median:.4g}"
        assert values[paper.macro_name("rate", row.process)] == f"{row.median:.3f}"
        assert title.endswith(f"median fitted rate {row.median:.3f}")
        assert f"& {row.n} & {row.reached} & {row.median:.4f} &" in texts["convergence"]
        assert f"{row.process}: {row.fraction:.3f}" in out.loc["returns_training_points", "value"]
    assert values["ConvReached"] == str(per_process["reached"].sum())
    # E: starts, starts on a face, the tolerance
    n = summary.boundary_counts(tables["boundaries"], CITED.boundary_tol)
    assert (
        out.loc["voronoi_faces", "value"]
        == f"{n['right']} of {n['starts']} ({n['face']} on a face)"
    )
    assert (values["BoundaryStarts"], values["BoundaryFaceStarts"]) == (
        str(n["starts"]),
        str(n["face"]),
    )
    assert (values["BoundaryFaceAtPredicted"], values["BoundaryOffFaceAtPredicted"]) == (
        str(n["face_at"]),
        str(n["off_at"]),
    )
    assert out.loc["voronoi_faces", "criterion"] == f"all, within {CITED.boundary_tol:g}"
    assert values["BoundaryTol"] == paper.sci_macro(CITED.boundary_tol)
    faces = sum(int(re.search(r": (\d+)/", t).group(1)) for t in titles["voronoi_boundaries"])
    assert faces == n["face"]
    # F, G: the fractions at the ends of the sweeps
    for name, symbol in (("tikhonov", "C"), ("consistency", "Tau")):
        param = claims.SWEEP_PARAMS[name]
        lo, hi = summary.sweep_ends(tables[name], param)
        prefix = name.capitalize()
        assert values[f"{prefix}Frac{symbol}Min"] == f"{lo['fraction_matched']:.3f}"
        assert values[f"{prefix}Frac{symbol}Max"] == f"{hi['fraction_matched']:.3f}"
        pairs = out.loc[f"{name}_falls", "value"]
        assert pairs.startswith(f"{lo[param]:g}: {lo['fraction_matched']:.3f}")
        assert pairs.endswith(f"{hi[param]:g}: {hi['fraction_matched']:.3f}")
    # H: smallest and largest c at the cited delta
    delta, lo, hi = summary.nn_tikhonov_ends(tables["nn_tikhonov"], CITED.nn_delta)
    assert values["NNDelta"] == paper.sci_macro(delta)
    assert f"(delta = {delta:g})" in out.loc["nn_tikhonov", "quantity"]
    assert (values["NNFracCMin"], values["NNFracCMax"]) == (
        f"{lo['fraction_matched']:.3f}",
        f"{hi['fraction_matched']:.3f}",
    )
    assert out.loc["nn_tikhonov", "value"] == (
        f"c = {lo['c']:g}: {lo['fraction_matched']:.3f}; "
        f"c = {hi['c']:g}: {hi['fraction_matched']:.3f}"
    )
    # I: first and last snapshot per parameterization
    delta, ends = summary.early_stopping_ends(tables["early_stopping"], CITED.nn_delta)
    assert f"(delta = {delta:g})" in out.loc["early_stopping", "quantity"]
    for param, (first, last) in ends.items():
        assert values[paper.macro_name("early", param, "first")] == f"{first:.3f}"
        assert values[paper.macro_name("early", param, "last")] == f"{last:.3f}"
        assert f"{param}: {first:.3f} -> {last:.3f}" in out.loc["early_stopping", "value"]
    # J: smallest and largest network
    delta, small, large = summary.width_ends(tables["width"], CITED.nn_delta)
    assert f"(delta = {delta:g})" in out.loc["width", "quantity"]
    assert (values["WidthFracMin"], values["WidthFracMax"]) == (
        f"{small['fraction_matched']:.3f}",
        f"{large['fraction_matched']:.3f}",
    )
    assert out.loc["width", "value"] == (
        f"width {small['width']}: {small['fraction_matched']:.3f}; "
        f"width {large['width']}: {large['fraction_matched']:.3f}"
    )
    # K: the cited data set and, per size, the median over seeds of the final-window mean
    cited = summary.unet_cited(tables["unet"])
    final = summary.median_over_seeds(summary.unet_final_mean(cited, TH.unet_final_window))
    assert values["UnetDataset"] == cited["dataset"].iloc[0]
    assert values["UnetNTrain"] == str(cited["n_train"].iloc[0])
    assert f"N = {cited['n_train'].iloc[0]} images" in out.loc["unet_memorizes", "claim"]
    for r in final.itertuples():
        assert (
            f"C{r.model_channels}: {r.median:.2f} [{r.min:.2f}, {r.max:.2f}] ({r.seeds} seeds)"
            in out.loc["unet_memorizes", "value"]
        )
        assert f"{r.median:.3f} ({paper.integer(r.n_params)} parameters)" in values["UnetFinalList"]
        assert f"{paper.integer(r.n_params)} & {r.seeds} & {r.median:.2f} &" in texts["unet"]
    first = summary.median_over_seeds(summary.first_reaching(cited, TH.unet_level, "epoch"))
    for r in first.itertuples():
        assert f"C{r.model_channels}: {r.median:g}" in out.loc["unet_sooner", "value"]
    # the claims table and its count in the manuscript
    total, holding = summary.claims_holding(tables["claims"])
    assert (values["ClaimsTotal"], values["ClaimsHolding"]) == (str(total), str(holding))
    # the ratio of Gu et al.: plot label, table header and manuscript macro
    ratio = metrics.ratio_text(metrics.GU_RATIO)
    assert values["GuRatio"] == ratio and f"$d_1/d_2<{ratio}$" in texts["tikhonov"]


SENTINEL_RATES = {"median": 0.7777777, "fraction": 0.4321, "reached": 11}


def test_every_consumer_takes_its_numbers_from_the_summary_layer(monkeypatch):
    """Replace summary functions by ones returning marked numbers: the claims, the
    manuscript and the figures must all show the marks (none recomputes them)."""
    tables = shared_tables()
    real = summary.convergence_by_process

    def marked_rates(conv):
        return real(conv).assign(**SENTINEL_RATES)

    def marked_counts(bnd, tol):
        return {
            "starts": 97,
            "face": 41,
            "face_at": 40,
            "off": 56,
            "off_at": 55,
            "right": 95,
            "worst": 0.5,
        }

    monkeypatch.setattr(summary, "convergence_by_process", marked_rates)
    monkeypatch.setattr(summary, "boundary_counts", marked_counts)
    monkeypatch.setattr(summary, "on_face", lambda bnd: np.ones(len(bnd), bool))
    monkeypatch.setattr(summary, "cited_delta", lambda deltas, target: 0.5)
    monkeypatch.setattr(summary, "unet_cited", lambda tab: tab[tab["dataset"] == "n8"])
    final_mean = summary.unet_final_mean

    def marked_final(rows, window):
        return final_mean(rows, window).assign(value=0.4321)

    monkeypatch.setattr(summary, "unet_final_mean", marked_final)
    out, values, texts, titles = consumers(tables, monkeypatch)
    for process in dict.fromkeys(tables["convergence"]["process"]):
        assert out.loc[f"rate_{process}", "value"] == "0.7778"
        assert values[paper.macro_name("rate", process)] == "0.778"
        assert f"{process}: 0.432" in out.loc["returns_training_points", "value"]
    assert all(t.endswith("median fitted rate 0.778") for t in titles["convergence_s"])
    assert "& 11 & 0.7778 &" in texts["convergence"] and values["ConvReached"] == "22"
    assert out.loc["voronoi_faces", "value"] == "95 of 97 (41 on a face)"
    assert (values["BoundaryStarts"], values["BoundaryFaceAtPredicted"]) == ("97", "40")
    assert "& 97 & 41 & 40 & 56 & 55 &" in texts["boundaries"]
    n_starts = [len(r) for _, r in tables["boundaries"].groupby("dataset", sort=False)]
    assert [int(re.search(r": (\d+)/", t).group(1)) for t in titles["voronoi_boundaries"]] == (
        n_starts
    )
    for claim in ("nn_tikhonov", "early_stopping", "width"):
        assert "(delta = 0.5)" in out.loc[claim, "quantity"]
    assert values["NNDelta"] == paper.sci_macro(0.5)
    assert values["UnetDataset"] == "n8" and values["UnetNTrain"] == "8"
    assert "N = 8 images" in out.loc["unet_memorizes", "claim"]
    assert out.loc["unet_memorizes", "value"].startswith("C4: 0.43 [0.43, 0.43] (2 seeds); ")
    assert values["UnetFinalMin"] == values["UnetFinalMax"] == "0.432"
    assert texts["unet"].count("& 0.43 & 0.43--0.43 &") == 4
