"""The workflow's settings: layers merged in a fixed order, then checked as a whole.

Precedence, from weakest to strongest:

1. the repository's ``config.yaml``;
2. the chosen preset, ``presets[<preset>]`` (the name comes from the strongest layer that
   sets ``preset``);
3. the user's ``--configfile`` files, in the order given;
4. ``--config`` on the command line. A nested key is set either with sections joined by
   ``__`` (``--config regularization__n_samples=100``) or with a YAML mapping that is merged
   into the section (``--config "regularization={n_samples: 100}"``).

The merge keeps ``config.yaml``'s key order and writes a restated number the way
``config.yaml`` does (``1`` where it has ``1.0``, ``2.0`` where it has ``2``), so restating a
value changes nothing that a rule hashes. The merged result is validated against the JSON
schema with the preset names taken from ``presets`` and the process names from
``memreg.closed_form.process.PROCESSES``; a refusal is one short paragraph
(:class:`ConfigError`): the key, the value, what is allowed.

What the schema cannot state, relations between keys, :func:`check_relations` checks: a
value that a library class checks is checked by building that class from the section
(:func:`library_settings`), so that each check has one home, and the class's refusal
(:class:`memreg.errors.SettingError`) is raised again naming the config key.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema
import yaml

from .errors import SettingError, short

#: Separator of sections in a command-line key: ``unet__train__steps=300``.
PATH_SEPARATOR = "__"
#: Where a user finds every key, its meaning and its allowed values.
WHERE = "see config.yaml and workflow/schemas/config.schema.yaml"


class ConfigError(SettingError):
    """A refused config key (``name``, dotted); the message is one paragraph: the key, the
    value, what is allowed, and where the keys are described."""

    def __init__(self, key: str, value: Any, allowed: str, message: str | None = None) -> None:
        self.message = message
        super().__init__(key, value, allowed)

    def describe(self) -> str:
        return self.message or (
            f"config key '{self.name}' = {short(self.value)} is not allowed: {self.allowed} "
            f"({WHERE})."
        )


def dotted(path: Sequence[Any]) -> str:
    """``['unet', 'train', 'steps']`` -> ``unet.train.steps``; list indices as ``[k]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def refuse(key: str, value: Any, allowed: str) -> None:
    """Raise the one-paragraph refusal of ``key`` = ``value``."""
    raise ConfigError(key, value, allowed)


# ---- merging ---------------------------------------------------------------------------


def written_like(value: Any, old: Any) -> Any:
    """``value`` with its numbers written as ``old`` writes them (int or float), so that a
    restated value is equal to the original also in ``repr`` (what Snakemake hashes)."""
    if isinstance(value, bool) or isinstance(old, bool):
        return value
    if isinstance(old, float) and isinstance(value, int):
        return float(value)
    if isinstance(old, int) and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(old, list) and isinstance(value, list) and old:
        if len({type(x) for x in old}) == 1:
            return [written_like(v, old[0]) for v in value]
    return value


def merged(base: Mapping, override: Mapping) -> dict:
    """``base`` with ``override`` merged in, recursively for mappings; keys keep ``base``'s
    order (new keys come last) and restated numbers are written as ``base`` writes them."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        old = out.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            out[key] = merged(old, value)
        else:
            out[key] = written_like(copy.deepcopy(value), old)
    return out


def parse_value(value: Any) -> Any:
    """A command-line value: Snakemake parses top-level values itself, but values inside a
    YAML mapping given to ``--config`` arrive as strings; parse those as numbers or YAML."""
    if isinstance(value, Mapping):
        return {k: parse_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [parse_value(v) for v in value]
    if not isinstance(value, str):
        return value
    for number in (int, float):
        try:
            return number(value)
        except ValueError:
            pass
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def cli_overrides(cli: Mapping[str, Any]) -> dict:
    """Snakemake's ``--config`` mapping as nested settings: ``a__b=1`` -> ``{a: {b: 1}}``."""
    out: dict = {}
    for key, value in cli.items():
        path = str(key).split(PATH_SEPARATOR)
        if any(not part for part in path):
            refuse(
                str(key),
                value,
                f"sections joined by '{PATH_SEPARATOR}', e.g. "
                f"regularization{PATH_SEPARATOR}n_samples=100",
            )
        nested: Any = parse_value(value)
        for part in reversed(path):
            nested = {part: nested}
        out = merged(out, nested)
    return out


def user_layers(files: Sequence[Mapping], cli: Mapping[str, Any]) -> dict:
    """The user's settings: the ``--configfile`` files in order, then ``--config``."""
    user: dict = {}
    for layer in files:
        if layer is None:
            continue
        if not isinstance(layer, Mapping):
            refuse("(a --configfile)", layer, "a YAML mapping of sections, as in config.yaml")
        user = merged(user, layer)
    return merged(user, cli_overrides(cli))


def build(
    base: Mapping, files: Sequence[Mapping] = (), cli: Mapping[str, Any] | None = None
) -> dict:
    """config.yaml (``base``), the preset, the ``files`` and ``cli`` merged in that order.
    The preset is ``preset`` of the strongest layer that sets it; ``presets`` may gain
    entries from the user's layers."""
    user = user_layers(files, cli or {})
    presets = merged(base.get("presets") or {}, user.get("presets") or {})
    name = user.get("preset", base.get("preset"))
    if not isinstance(name, str) or name not in presets:
        refuse("preset", name, f"a key of presets: {', '.join(map(str, presets))}")
    if not isinstance(presets[name], Mapping):
        refuse(f"presets.{name}", presets[name], "a mapping of settings to override")
    return merged(merged(base, presets[name]), user)


# ---- validation ------------------------------------------------------------------------


def _allowed(error: jsonschema.ValidationError) -> str:
    """What the failed schema keyword allows, in words."""
    kind, arg, schema = error.validator, error.validator_value, error.schema
    number = "an integer" if schema.get("type") == "integer" else "a number"
    words = {
        "minimum": f"{number} >= {arg}",
        "exclusiveMinimum": f"{number} > {arg}",
        "maximum": f"{number} <= {arg}",
        "exclusiveMaximum": f"{number} < {arg}",
        "multipleOf": f"a multiple of {arg}",
        "minItems": f"a list of at least {arg} item{'s' if arg != 1 else ''}",
        "maxItems": f"a list of at most {arg} items",
        "uniqueItems": "a list without repeated items",
        "minProperties": f"a mapping with at least {arg} key{'s' if arg != 1 else ''}",
        "pattern": f"a string matching {arg}",
    }
    if kind == "enum":
        return "one of " + ", ".join(repr(v) for v in arg)
    if kind == "type":
        names = {
            "object": "a mapping",
            "array": "a list",
            "integer": "an integer",
            "number": "a number",
            "string": "a string",
            "boolean": "true or false",
        }
        types = arg if isinstance(arg, list) else [arg]
        return " or ".join(names.get(t, t) for t in types)
    if kind in words:
        return words[kind]
    if kind == "additionalProperties" and isinstance(schema.get("properties"), Mapping):
        return "one of the keys " + ", ".join(schema["properties"])
    return error.message.splitlines()[0]


def completed(schema: Mapping, presets: Any = None) -> dict:
    """``schema`` with the names it leaves open filled in: a preset is a key of ``presets``
    (``cfg['presets']``), a process a key of :data:`memreg.closed_form.process.PROCESSES`
    (the one list of process names), and ``processes`` needs the parameters of every
    process."""
    from .closed_form.process import (
        PROCESSES,  # here, so that importing memreg.config needs no torch
    )

    schema = copy.deepcopy(dict(schema))
    if isinstance(presets, Mapping):
        schema["properties"]["preset"] = {"type": "string", "enum": list(presets)}
    schema["$defs"]["process_name"]["enum"] = list(PROCESSES)
    schema["properties"]["processes"]["required"] = list(PROCESSES)
    return schema


def validate(cfg: Mapping, schema: Mapping) -> None:
    """Check the merged settings against ``schema`` (:func:`completed`: the preset names
    allowed are the keys of ``cfg['presets']``, the process names those of
    ``memreg.closed_form.process.PROCESSES``). Raises :class:`ConfigError` (one paragraph)
    on the first refusal."""
    schema = completed(schema, cfg.get("presets"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(
        validator.iter_errors(cfg),
        key=lambda e: (list(map(str, e.absolute_path)), e.validator != "type"),
    )
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors)
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        extra = [k for k in error.instance if k not in known]
        key = dotted([*path, extra[0]]) if extra else dotted(path)
        section = f"under {dotted(path)}" if path else "at the top level"
        allowed = f"one of the keys {', '.join(known)}"
        text = f"config key '{key}' is unknown; the keys allowed {section} are: "
        raise ConfigError(key, None, allowed, text + f"{', '.join(known)} ({WHERE}).")
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        key, needed = dotted([*path, *missing[:1]]), ", ".join(error.validator_value)
        text = f"config key '{key}' is missing: {dotted(path)} needs the keys {needed} ({WHERE})."
        raise ConfigError(key, None, "a value", text)
    refuse(dotted(path), error.instance, _allowed(error))


# ---- relations between keys -----------------------------------------------------------
# What the JSON schema cannot express. A setting that a library class checks is checked by
# building that class (library_settings), so each check has one home: the library.


def library_settings(
    section: str, settings: Any, keys: Mapping[str, str] | None = None, **values: Any
) -> Any:
    """``settings(**values)``, a settings class of the library built from config section
    ``section``; its refusal (:class:`memreg.errors.SettingError`, naming its argument) is
    raised again naming the config key: ``keys[argument]``, else ``section.argument``."""
    try:
        return settings(**values)
    except SettingError as err:
        key = (keys or {}).get(err.name, f"{section}.{err.name}")
        refuse(key, err.value, err.allowed)


def unet_architecture(un: Mapping, model_channels: int) -> dict:
    """Keyword arguments of memreg.unet.network.UNetConfig from config section ``unet``."""
    return {"resolution": un["resolution"], "channels": 1, "model_channels": int(model_channels),
            "channel_mult": un["channel_mult"], "num_blocks": un["num_blocks"],
            "attn_resolutions": un["attn_resolutions"]}  # fmt: skip


def check_relations(cfg: Mapping) -> None:
    """Refuse (:class:`ConfigError`) the first relation between keys that does not hold."""
    from .mlp import study  # here, so that importing memreg.config needs no torch
    from .mlp.model import Architecture
    from .mlp.training import TrainConfig

    dyn, conv, bnd = cfg["dynamics"], cfg["convergence"], cfg["boundaries"]
    if dyn["weights_trajectory"] >= dyn["n_trajectories"]:
        refuse("dynamics.weights_trajectory", dyn["weights_trajectory"],
               f"an index below dynamics.n_trajectories = {dyn['n_trajectories']}")  # fmt: skip
    lo, hi = conv["fit_window"]
    if not lo < hi <= conv["s_max"]:
        refuse("convergence.fit_window", conv["fit_window"],
               f"[low, high] with low < high <= convergence.s_max = {conv['s_max']}")  # fmt: skip
    sets = cfg["data"]["point_sets"]
    for name in bnd["datasets"]:
        if name not in sets:
            refuse("boundaries.datasets", name, f"a key of data.point_sets: {sorted(sets)}")
        if any(len(p) != 2 for p in sets[name]):
            refuse(f"data.point_sets.{name}", sets[name], "a list of 2-D points [x, y]")
    nn = cfg["neural"]
    for name in ("tikhonov", "early_stopping", "width"):
        run = nn[name]
        if run["snapshot_every"] > run["iterations"]:
            refuse(f"neural.{name}.snapshot_every", run["snapshot_every"],
                   f"at most neural.{name}.iterations = {run['iterations']}")  # fmt: skip
    for name in study.studies(nn):
        s = study.settings(cfg, name)
        run = "width" if name.startswith("width_") else name
        width = "neural.width.widths" if run == "width" else f"neural.{run}.width"
        keys = {"dim": "data.authors_points.dim", "iterations": f"neural.{run}.iterations",
                "width": width}  # fmt: skip
        library_settings("neural", Architecture, keys, **s["architecture"])
        library_settings("neural", TrainConfig, keys, **s["train"])
    if nn["score_error"]["t_min"] >= nn["score_error"]["t_max"]:
        refuse("neural.score_error.t_min", nn["score_error"]["t_min"],
               f"below neural.score_error.t_max = {nn['score_error']['t_max']}")  # fmt: skip
    point, n = nn["tikhonov"]["score_vs_time"]["point"], cfg["data"]["authors_points"]["n"]
    if point >= n:
        refuse("neural.tikhonov.score_vs_time.point", point,
               f"an index below data.authors_points.n = {n}")  # fmt: skip
    check_unet(cfg["unet"])


def check_unet(un: Mapping) -> None:
    """Family K: the shape (memreg.unet.network.UNetConfig) and the training and evaluation
    settings (memreg.unet.training.UNetTrainConfig, EvalConfig), checked by building them as
    rule train_unet does; then what only the workflow asks: a checkpoint within the run, the
    grid model among the trained ones, the squares inside the images."""
    from .data import scale_squares, square_images
    from .unet.network import UNetConfig
    from .unet.training import EvalConfig, UNetTrainConfig

    for channels in un["model_channels"]:
        library_settings("unet", UNetConfig, **unet_architecture(un, channels))
    library_settings("unet.train", UNetTrainConfig, **un["train"])
    library_settings("unet.evaluation", EvalConfig, **un["evaluation"])
    tr = un["train"]
    if tr["checkpoint_every"] > tr["images"]:
        refuse("unet.train.checkpoint_every", tr["checkpoint_every"],
               f"at most unet.train.images = {tr['images']}")  # fmt: skip
    if sorted(un["seeds"]) != sorted(un["datasets"]):
        names = sorted(un["datasets"])
        refuse(
            "unet.seeds", un["seeds"], f"a count of seeds for each key of unet.datasets: {names}"
        )
    for name, squares in un["datasets"].items():
        if len(squares) % tr["batch_size"]:
            refuse("unet.train.batch_size", tr["batch_size"],
                   f"a divisor of every data set's size (unet.datasets.{name} has "
                   f"{len(squares)} images; an epoch is N / batch_size whole batches)")  # fmt: skip
    grid = un["grid"]
    if grid["dataset"] not in un["datasets"]:
        refuse("unet.grid.dataset", grid["dataset"],
               f"a key of unet.datasets: {sorted(un['datasets'])}")  # fmt: skip
    if grid["model_channels"] not in un["model_channels"]:
        refuse("unet.grid.model_channels", grid["model_channels"],
               f"one of unet.model_channels: {un['model_channels']}")  # fmt: skip
    scale = un["resolution"] / un["squares_resolution"]
    for name, squares in un["datasets"].items():
        try:
            square_images(scale_squares(squares, scale), un["resolution"])
        except ValueError as err:
            refuse(f"unet.datasets.{name}", squares,
                   f"squares [row, col, size] inside {un['squares_resolution']}^2 that stay "
                   f"distinct at unet.resolution = {un['resolution']} ({err})")  # fmt: skip
