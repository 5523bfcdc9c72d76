"""The workflow's settings (memreg.config): precedence of the layers, nested keys from the
command line, restated values that change nothing, validation after every merge, short
refusals. Snakemake's own parser turns the command line into the ``--config`` mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from snakemake.cli import parse_config

from memreg import config as mc

REPO = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((REPO / "config.yaml").read_text())
SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())


def build(files=(), cli=()):
    """The merged, validated settings for --configfile ``files`` and --config ``cli``
    (the strings as typed after --config)."""
    cfg = mc.build(BASE, list(files), parse_config(list(cli)))
    mc.validate(cfg, SCHEMA)
    return cfg


def refusal(files=(), cli=()) -> str:
    with pytest.raises(mc.ConfigError) as info:
        build(files, cli)
    return str(info.value)


@pytest.mark.parametrize("preset", list(BASE["presets"]))
def test_every_preset_of_config_yaml_is_valid(preset):
    cfg = build(cli=[f"preset={preset}"])
    assert cfg["preset"] == preset


def test_precedence_config_preset_configfile_config():
    smoke = BASE["presets"]["smoke"]["dynamics"]["n_steps"]
    assert smoke != BASE["dynamics"]["n_steps"]
    assert build(cli=["preset=smoke"])["dynamics"]["n_steps"] == smoke
    # issue 14, 1: the user's file beats the preset, whichever layer names the preset
    file = {"dynamics": {"n_steps": 50}}
    assert build([file], ["preset=smoke"])["dynamics"]["n_steps"] == 50
    assert build([{**file, "preset": "smoke"}])["dynamics"]["n_steps"] == 50
    # ... and keys the user does not set keep the preset's value
    assert (
        build([file], ["preset=smoke"])["dynamics"]["n_trajectories"]
        == (BASE["presets"]["smoke"]["dynamics"]["n_trajectories"])
    )
    # --config beats --configfile; a later file beats an earlier one
    assert build([file], ["dynamics__n_steps=60"])["dynamics"]["n_steps"] == 60
    assert build([file, {"dynamics": {"n_steps": 70}}])["dynamics"]["n_steps"] == 70


@pytest.mark.parametrize(
    "cli",
    [
        ["regularization={n_samples: 100}"],  # issue 14, 2: the YAML form, merged into the section
        ["regularization__n_samples=100"],  # sections joined by __
    ],
)
def test_nested_keys_from_the_command_line(cli):
    cfg = build(cli=cli)
    assert cfg["regularization"]["n_samples"] == 100
    assert cfg["regularization"]["n_boot"] == BASE["regularization"]["n_boot"]  # merged, kept


def test_command_line_values_are_typed():
    cfg = build(
        cli=[
            "regularization={t_min: 1e-5, tikhonov_c: [1e-1, 1e-2]}",
            "unet__train__lr=2e-3",
            "convergence__method=exponential",
        ]
    )
    assert cfg["regularization"]["t_min"] == 1e-5
    assert cfg["regularization"]["tikhonov_c"] == [0.1, 0.01]
    assert cfg["unet"]["train"]["lr"] == 2e-3 and cfg["convergence"]["method"] == "exponential"


@pytest.mark.parametrize(
    "files, cli",
    [
        # issue 14, 3: a restated value (here in the opposite key order, ints for floats)
        ([{"unet": {"train": {"seed": 0}}}], []),
        ([{"dynamics": {"t_min": 1e-6, "seed": 2}}], []),
        ([{"neural": {"tikhonov": {"score_vs_time": {"n_t": 100, "point": 0}}}}], []),
        ([{"processes": {"ve": {"base": 10, "T": 1}}, "convergence": {"s_max": 20}}], []),
        ([], ["regularization={t_min: 1e-6, n_samples: 1000.0}", "unet__train__lr=0.001"]),
    ],
)
def test_restating_a_value_changes_nothing(files, cli):
    assert repr(build(files, cli)) == repr(build())


def test_restating_everything_in_reverse_order_changes_nothing():
    def reverse(node):
        if isinstance(node, dict):
            return {k: reverse(node[k]) for k in reversed(list(node))}
        return node

    for preset in BASE["presets"]:
        effective = build(cli=[f"preset={preset}"])
        assert repr(build([reverse(effective)])) == repr(effective), preset


def test_values_are_validated_after_the_preset_is_merged():
    # issue 14, 1: invalid values passed once a preset was merged on top
    for cli in (
        ["preset=smoke", "regularization__n_samples=0"],
        ["preset=smoke", "convergence={n_steps: -5}"],
        ["preset=smoke", "unet={model_channels: []}"],
    ):
        message = refusal(cli=cli)
        key = cli[1].split("=")[0].replace("__", ".").replace("={", ".")
        assert key.split(".")[0] in message, message
    # a preset of the user's own with an invalid value
    mine = {"presets": {"mine": {"dynamics": {"n_steps": -5}}}, "preset": "mine"}
    assert "'dynamics.n_steps' = -5" in refusal([mine])


def test_a_users_own_preset_works():
    mine = {"presets": {"mine": {"dynamics": {"n_steps": 7}}}}
    assert build([mine], ["preset=mine"])["dynamics"]["n_steps"] == 7
    assert "a key of presets: " in refusal(cli=["preset=huge"])
    assert "mine" in refusal([mine], ["preset=huge"])


@pytest.mark.parametrize(
    "files, cli, expected",
    [
        (
            [{"boundaries": {"unknown_key": 1}}],
            [],
            "config key 'boundaries.unknown_key' is unknown; "
            "the keys allowed under boundaries are: "
            "datasets, process, half_width, per_side, s_max, n_steps, tol",
        ),
        (
            [],
            ["regularisation__n_samples=1"],
            "config key 'regularisation' is unknown; "
            "the keys allowed at the top level are: preset,",
        ),
        (
            [{"neural": {"tikhonov": {"widht": 3}}}],
            [],
            "'neural.tikhonov.widht' is unknown; "
            "the keys allowed under neural.tikhonov are: width,",
        ),
        (
            [],
            ["regularization={tikhonov_c: [1e-2, -1e-3]}"],
            "'regularization.tikhonov_c[1]' = -0.001 is not allowed: a number > 0",
        ),
        (
            [],
            ["neural__width__widths=[0, 16]"],
            "'neural.width.widths[0]' = 0 is not allowed: an integer >= 1",
        ),
        ([], ["unet__device=tpu"], "'unet.device' = 'tpu' is not allowed: one of 'auto', 'cpu'"),
        ([], ["regularization=5"], "'regularization' = 5 is not allowed: a mapping"),
        (
            [],
            ["preset=huge"],
            "'preset' = 'huge' is not allowed: a key of presets: default, paper, smoke",
        ),
        (
            [],
            ["regularization__process=ve_fast"],
            "'regularization.process' = 've_fast' is not allowed: one of 've_talk', 've', 'vp'",
        ),
    ],
)
def test_refusals_are_one_short_paragraph(files, cli, expected):
    # issue 14, 6: no schema dump; the key, the value, what is allowed
    message = refusal(files, cli)
    assert expected in message
    assert "\n" not in message and len(message) < 400, message
    assert "config.yaml" in message  # where to look


def test_empty_section_in_a_command_line_key_is_refused():
    assert "sections joined by '__'" in refusal(cli=["unet____steps=3"])


def test_process_names_come_from_the_library_registry():
    # issue 15: the names are memreg.closed_form.process.PROCESSES; the schema lists only each one's
    # parameters, and config.yaml configures every process of the registry
    from memreg.closed_form.process import PROCESSES

    assert "enum" not in SCHEMA["$defs"]["process_name"]
    assert "required" not in SCHEMA["properties"]["processes"]
    assert list(SCHEMA["properties"]["processes"]["properties"]) == list(PROCESSES)
    assert list(BASE["processes"]) == list(PROCESSES)
    schema = mc.completed(SCHEMA, BASE["presets"])
    assert schema["$defs"]["process_name"]["enum"] == list(PROCESSES)
    assert schema["properties"]["processes"]["required"] == list(PROCESSES)


@pytest.mark.parametrize("preset", list(BASE["presets"]))
def test_every_preset_holds_the_relations_between_keys(preset):
    mc.check_relations(build(cli=[f"preset={preset}"]))


@pytest.mark.parametrize(
    "cli, expected",
    [
        # a relation the schema cannot state, refused by the library class that needs it
        (["neural__save_every=150"],
         "config key 'neural.save_every' = 150 is not allowed: a positive multiple of "
         "log_every = 100"),
        (["neural__width__iterations=10000", "neural__width__snapshot_every=20000"],
         "config key 'neural.width.snapshot_every' = 20000 is not allowed: at most "
         "neural.width.iterations = 10000"),
        (["unet__model_channels=[2]"],
         "config key 'unet.model_channels' = 2 is not allowed: an integer >= 4"),
        (["unet__evaluation__sigma_min=100.0"],
         "config key 'unet.evaluation.sigma_min' = 100.0 is not allowed: a number > 0 below "
         "sigma_max = 80.0"),
        (["dynamics__weights_trajectory=30"],
         "config key 'dynamics.weights_trajectory' = 30 is not allowed: an index below "
         "dynamics.n_trajectories = 30"),
    ],
)  # fmt: skip
def test_relations_are_refused_naming_the_config_key(cli, expected):
    with pytest.raises(mc.ConfigError) as info:
        mc.check_relations(build(cli=cli))
    assert str(info.value).startswith(expected)
    assert isinstance(info.value, mc.SettingError)  # one refusal type for every stack
