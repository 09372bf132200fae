"""An experiment's configuration: one validator shared by the form and the API.

It checks a user's JSON into `evolab.evolution.config.EvolutionConfig`, the dataclass the
headless runner parses its flags into too. Most field names are the runner's flags; three
differ and the runner accepts both spellings: `steps_per_child` (`--steps`),
`max_individuals` (`--individuals`) and `max_seconds` (`--time-budget`).
"""

from __future__ import annotations

import math
import re
from typing import Any

from evolab.evolution.config import IN_SHAPES, SELECTIONS, WITH_TEST_SPLIT, EvolutionConfig

__all__ = ["IN_SHAPES", "SELECTIONS", "ConfigError", "ExperimentConfig", "validate_config"]

BUILTIN_DATASETS = tuple(kind for kind in IN_SHAPES if kind not in ("folder", "upload"))
# An unknown key is named in the error, shortened, and only the first few of them.
SHOWN_KEY_CHARS = 40
SHOWN_KEYS = 5
_FOLDER_NAME = re.compile(r"^folder:[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# A team's upload; which team may use it is checked where the run's team is known
# (services.create_experiment, the form: evolab.experiments.uploads.check_for_team).
_UPLOAD_NAME = re.compile(r"^upload:[1-9][0-9]{0,17}$")
# The one config of a run is the engine's; this module only validates users' JSON into it.
ExperimentConfig = EvolutionConfig


UNKNOWN_DATASET = (
    f"Unknown dataset. Choose one of {', '.join(BUILTIN_DATASETS)}, folder:<name> (an image "
    "folder under EVOLAB_DATA_DIR) or upload:<id> (one of your team's uploaded datasets)."
)


class ConfigError(ValueError):
    """Bad configuration; `errors` maps each field name to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


_INTS = {
    "population": 2,
    "workers": 1,
    "steps_per_child": 1,
    "max_individuals": 1,
    "seed": 0,
    "batch_size": 1,
    "mutations_per_child": 1,
    "ensemble_k": 1,
}
_OPTIONAL_INTS = {"max_seconds": 1, "plateau_individuals": 1, "sample_size": 1, "val_size": 1}


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,12}", value.strip()):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def int_bounds(limits: dict[str, int]) -> dict[str, tuple[int, int]]:
    """(least, most) of each whole-number setting; the optional ones may also be null."""
    upper = {
        "population": limits["max_population"],
        "workers": limits["max_workers"],
        "steps_per_child": limits["max_steps_per_child"],
        "max_individuals": limits["max_individuals"],
        "sample_size": limits["max_population"],
        "seed": 2**31 - 1,
        "batch_size": 4096,
        "mutations_per_child": 20,
        "ensemble_k": 25,
        "max_seconds": 10 * 365 * 86400,
        "plateau_individuals": limits["max_individuals"],
        "val_size": 1_000_000,  # the loader checks it against the training set's size
    }
    return {name: (low, upper[name]) for name, low in {**_INTS, **_OPTIONAL_INTS}.items()}


def _check_ints(raw: dict, limits: dict, errors: dict, out: dict) -> None:
    for name, (low, high) in int_bounds(limits).items():
        if name not in raw or (name in _OPTIONAL_INTS and raw[name] in (None, "")):
            continue
        value = _as_int(raw[name])
        if value is None:
            errors.setdefault(name, []).append("Enter a whole number.")
        elif value < low:
            errors.setdefault(name, []).append(f"Must be at least {low}.")
        elif value > high:
            errors.setdefault(name, []).append(f"Must be at most {high} (configured limit).")
        else:
            out[name] = value


def _check_rest(raw: dict, errors: dict, out: dict) -> None:
    dataset = raw.get("dataset", ExperimentConfig.dataset)
    if not isinstance(dataset, str) or not (
        dataset in BUILTIN_DATASETS or _FOLDER_NAME.match(dataset) or _UPLOAD_NAME.match(dataset)
    ):
        errors["dataset"] = [UNKNOWN_DATASET]
    else:
        out["dataset"] = dataset
        if raw.get("val_size") not in (None, "") and dataset not in WITH_TEST_SPLIT:
            errors.setdefault("val_size", []).append(
                f"Applies to the sets with a test split ({', '.join(WITH_TEST_SPLIT)}); "
                "digits, image folders and uploads hold out fixed fractions."
            )
    selection = raw.get("selection", ExperimentConfig.selection)
    if selection not in SELECTIONS:
        errors["selection"] = [f"Choose one of {', '.join(SELECTIONS)}."]
    else:
        out["selection"] = selection
    if raw.get("max_flops") not in (None, ""):
        value = _as_float(raw["max_flops"])
        if value is None or value <= 0:
            errors["max_flops"] = ["Enter a positive number of FLOPs."]
        else:
            out["max_flops"] = value
    if raw.get("target_accuracy") not in (None, ""):
        value = _as_float(raw["target_accuracy"])
        if value is None or not 0 < value <= 1:
            errors["target_accuracy"] = ["Enter an accuracy between 0 and 1."]
        else:
            out["target_accuracy"] = value


def _shortened(keys: list[str]) -> str:
    """Key names as an error shows them: each cut to SHOWN_KEY_CHARS, at most SHOWN_KEYS."""
    shown = [k if len(k) <= SHOWN_KEY_CHARS else f"{k[:SHOWN_KEY_CHARS]}…" for k in keys]
    more = len(shown) - SHOWN_KEYS
    return ", ".join(shown[:SHOWN_KEYS]) + (f" and {more} more" if more > 0 else "")


def validate_config(raw: Any, limits: dict[str, int]) -> ExperimentConfig:
    """Return a clean config or raise ConfigError with messages per field. Changes nothing."""
    if not isinstance(raw, dict):
        raise ConfigError({"config": ["Expected an object of settings."]})
    unknown = sorted(map(str, set(raw) - set(ExperimentConfig.field_names())))
    errors: dict[str, list[str]] = {}
    if unknown:
        errors["config"] = [f"Unknown setting(s): {_shortened(unknown)}."]
    out: dict[str, Any] = {}
    _check_ints(raw, limits, errors, out)
    _check_rest(raw, errors, out)
    population = out.get("population", ExperimentConfig.population)
    # Against the population given (a refused one says so itself), else the default.
    if (
        "max_individuals" in out
        and "population" not in errors
        and out["max_individuals"] < population
    ):
        errors.setdefault("max_individuals", []).append(
            f"Must be at least the population size ({population}): "
            "the initial population is trained first."
        )
    if errors:
        raise ConfigError(errors)
    return ExperimentConfig(**out)


def config_schema(limits: dict[str, int]) -> dict[str, Any]:
    """The JSON Schema of a config as the API takes it (the OpenAPI schema shows it): each
    setting's type and bounds, as validate_config checks them, and no other key. What a
    schema cannot say validate_config checks too: the dataset is one this installation has
    (GET /api/datasets/), max_individuals is at least the population, val_size applies to
    the sets with a test split."""
    spec: dict[str, dict[str, Any]] = {
        "dataset": {
            "type": "string",
            "description": "A dataset GET /api/datasets/ lists as ready: "
            f"{', '.join(BUILTIN_DATASETS)}, folder:<name> (an image folder under "
            "EVOLAB_DATA_DIR) or another it lists.",
        },
        "selection": {"type": "string", "enum": list(SELECTIONS)},
        "max_flops": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
        "target_accuracy": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1},
    }
    for name, (low, high) in int_bounds(limits).items():
        spec[name] = {"type": "integer", "minimum": low, "maximum": high}
    for name in ("max_flops", "target_accuracy", *_OPTIONAL_INTS):
        spec[name]["nullable"] = True  # null: not set
    for name, meta in ExperimentConfig.described().items():  # what the run form says too
        unit = f" ({meta['unit']})" if meta["unit"] else ""
        unset = f" null: {meta['empty']}." if meta["empty"] else ""
        spec[name].setdefault("description", f"{meta['label']}{unit}. {meta['help']}{unset}")
    return {
        "type": "object",
        "properties": {name: spec[name] for name in ExperimentConfig.field_names()},
        "additionalProperties": False,
    }
