"""Synthetic result tables with the workflow's columns, shared by the outputs tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_tables(rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Small tables with the workflow's columns, rows in shuffled order."""

    def shuffled(df: pd.DataFrame) -> pd.DataFrame:
        return df.sample(frac=1.0, random_state=int(rng.integers(1000))).reset_index(drop=True)

    conv = pd.DataFrame(
        {
            "process": ["ve_talk"] * 3 + ["vp"] * 3,
            "trajectory": [0, 1, 2] * 2,
            "rate": [0.9, 1.0, 5.0, 1.1, 1.2, 1.3],
            "limit_class": ["training_point"] * 2 + ["interior"] + ["training_point"] * 3,
            "limit_index": [0, 1, -1, 0, 1, 2],
            "final_distance": [1e-7] * 6,
            "fit_s_min": [6.0] * 6,
            "fit_s_max": [12.0] * 6,
        }
    )
    bnd = pd.DataFrame(
        {
            "dataset": ["two_points"] * 4,
            "start_x": [0.0, 1.0, 2.0, 0.0],
            "start_y": [1.0, 1.0, 1.0, -1.0],
            "start_on_face": [True, False, False, True],
            "distance_to_predicted": [1e-12, 1e-12, 0.5, 1e-3],
        }
    )

    def sweep(param: str, values: list[float], fracs: list[float]) -> pd.DataFrame:
        return shuffled(
            pd.DataFrame(
                {
                    "process": "ve",
                    param: values,
                    "n_samples": 200,
                    "delta": 0.01,
                    "fraction_matched": fracs,
                    "ci_low": np.array(fracs) - 0.01,
                    "ci_high": np.array(fracs) + 0.01,
                    "fraction_ratio_criterion": fracs,
                    "median_nearest_distance": 0.1,
                }
            )
        )

    tik = sweep("c", [1e-1, 1e-3, 1e-5], [0.0, 0.5, 0.98]).assign(
        median_distance_over_sqrt_c=1.0, predicted_median_distance_over_sqrt_c=1.1
    )
    con = sweep("tau", [1e-2, 10.0], [0.9, 0.1])

    def neural(key: str, values: list, iterations: list[int]) -> pd.DataFrame:
        rows = []
        for m, v in enumerate(values):
            for it in iterations:
                for d in (0.01, 0.1, 0.5):
                    width = v if key == "width" else 64
                    rows.append(
                        {
                            "model": m,
                            "seed": 10,
                            "parameterization": v if key == "parameterization" else "nonsingular",
                            "c": v if key == "c" else 0.0,
                            "width": width,
                            "n_params": width * 10,
                            "iteration": it,
                            "score_error": 0.5,
                            "n_samples": 200,
                            "delta": d,
                            "fraction_matched": round(m * 0.1 + it / 1e4 + d, 6),
                            "ci_low": 0.0,
                            "ci_high": 1.0,
                        }
                    )
        return shuffled(pd.DataFrame(rows))

    unet = shuffled(
        pd.DataFrame(
            {
                "dataset": ["n2"] * 4 + ["n8"] * 2,
                "n_train": [2] * 4 + [8] * 2,
                "model_channels": [4, 4, 8, 8, 4, 8],
                "n_params": [57017, 57017, 222705, 222705, 57017, 222705],
                "resolution": 32,
                "step": [100, 200, 100, 200, 200, 200],
                "fraction_memorized": [0.0, 0.25, 0.5, 1.0, 0.3, 0.4],
                "ci_low": 0.0,
                "ci_high": 1.0,
                "mean_nearest_distance": 0.2,
            }
        )
    )
    # the data set with the fewest images is the one cited, wherever it is in the table
    unet = pd.concat([unet[unet["dataset"] == "n8"], unet[unet["dataset"] == "n2"]])
    claims = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "family": ["D", "E", "K"],
            "claim": ["x_1 <= 2", "50% ok", "y"],
            "quantity": ["q"] * 3,
            "criterion": ["|r - 1| <= 0.05", "a -> b", "c"],
            "value": ["1", "2", "3"],
            "holds": [True, False, True],
        }
    )
    return {
        "convergence": shuffled(conv),
        "boundaries": shuffled(bnd),
        "tikhonov": tik,
        "consistency": con,
        "nn_tikhonov": neural("c", [0.0, 1e-2, 1e-1], [300, 600]),
        "early_stopping": neural("parameterization", ["nonsingular", "singular"], [200, 400]),
        "width": neural("width", [16, 64], [200, 400]),
        "unet": unet,
        "claims": claims,
    }
