"""Synthetic result tables with the workflow's columns, shared by the outputs tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memreg.outputs.comparison import compare

# Authors' values (the columns of memreg.outputs.comparison's authors_values.csv) for the
# synthetic tables: F at c = 1e-3 inside our interval, at c = 1e-5 outside it, at c = 1e-4
# not computed; I at one snapshot of the singular network.
SYNTHETIC_AUTHORS = pd.DataFrame(
    {
        "family": ["F", "F", "F", "I"],
        "quantity": ["fraction_matched"] * 4,
        "parameter": [
            "process=ve;c=1e-3;delta=1e-2",
            "process=ve;c=1e-5;delta=1e-2",
            "process=ve;c=1e-4;delta=1e-2",
            "parameterization=singular;iteration=400;delta=1e-1",
        ],
        "value": [0.505, 0.9, 0.4, 0.3],
        "approximate": [True, True, True, False],
        "source": ["a.ipynb @ 0000000, cell 1; read from a plot"] * 3
        + ["b.ipynb @ 0000000, cell 2; printed"],
    }
)


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

    # family K: per data set, size and seed, the fraction memorized at images 200, 400, 600,
    # 800 (batch 2: steps 100-400; epochs images / N) and the authors' distance at the last
    # evaluation (earlier ones 4, 3, 2 times it); 3 seeds per size on n2, 2 and 1 on n8
    unet_runs = {
        ("n2", 2): {
            4: {0: ([0.0, 0.2, 0.6, 0.9], 2.0), 1: ([0.0, 0.5, 0.8, 1.0], 1.0),
                2: ([0.1, 0.3, 0.5, 0.8], 3.0)},
            8: {0: ([0.5, 1.0, 1.0, 1.0], 0.5), 1: ([0.2, 0.9, 1.0, 1.0], 0.25),
                2: ([0.6, 0.9, 0.95, 0.95], 1.0)},
        },
        ("n8", 8): {
            4: {0: ([0.0, 0.0, 0.1, 0.3], 8.0), 1: ([0.0, 0.1, 0.2, 0.6], 4.0)},
            8: {0: ([0.1, 0.6, 0.7, 0.7], 3.0)},
        },
    }  # fmt: skip
    n_params = {4: 57017, 8: 222705}
    rows = []
    for (name, n_train), sizes in unet_runs.items():
        for c, seeds in sizes.items():
            for seed, (fracs, last_distance) in seeds.items():
                for k, frac in enumerate(fracs):
                    images = 200 * (k + 1)
                    distance = last_distance * (len(fracs) - k)
                    rows.append(
                        {
                            "dataset": name,
                            "n_train": n_train,
                            "resolution": 32,
                            "model_channels": c,
                            "n_params": n_params[c],
                            "seed": seed,
                            "images": images,
                            "epoch": images / n_train,
                            "step": images // 2,
                            "fraction_memorized": frac,
                            "ci_low": 0.0,
                            "ci_high": 1.0,
                            "mean_nearest_distance": 0.2,
                            "sq_distance_mean": distance,
                            "sq_distance_max": 2 * distance,
                        }
                    )
    unet = shuffled(pd.DataFrame(rows))
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
    # drawn in this order (each shuffle draws from rng)
    nn_tikhonov = neural("c", [0.0, 1e-2, 1e-1], [300, 600])
    early = neural("parameterization", ["nonsingular", "singular"], [200, 400])
    width = neural("width", [16, 64], [200, 400])
    return {
        "convergence": shuffled(conv),
        "boundaries": shuffled(bnd),
        "tikhonov": tik,
        "consistency": con,
        "nn_tikhonov": nn_tikhonov,
        "early_stopping": early,
        "width": width,
        "unet": unet,
        "claims": claims,
        "comparison": compare({"tikhonov": tik, "early_stopping": early}, SYNTHETIC_AUTHORS),
    }
