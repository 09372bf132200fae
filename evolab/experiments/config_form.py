"""The run form's config fields, derived from the config's own definition so that the form
cannot drift from it: one field per `ExperimentConfig` field, its label, help, unit, default
and what leaving it empty does from the dataclass (`evolution.config.setting`), its type and
range from the API's schema (`config.config_schema`, the bounds `validate_config` checks).

The fields only read what was typed (a whole number, a number, a choice); the range and
everything else is `validate_config`'s, so the form and the API refuse the same values with
the same messages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .config import ExperimentConfig, config_schema

# What the form shows of each group: (key, legend, note, field names). The config's fields
# are each in exactly one group (checked below); `name` and `team` are the form's own.
GROUPS = (
    ("basics", "Basics", "", ("name", "team", "seed", "dataset")),
    (
        "budget",
        "Budget",
        "The run stops at the first of these it reaches; you can also stop it at any time.",
        ("max_individuals", "max_seconds", "target_accuracy"),
    ),
    (
        "paper",
        "The paper's knobs",
        "Real et al. 2017. There is no learning rate to set: each individual carries its own "
        "in its DNA (0.1 at the start) and mutations change it.",
        ("population", "selection", "sample_size", "mutations_per_child", "steps_per_child"),
    ),
    (
        "advanced",
        "Advanced",
        "Speed, compute budget, the automatic escape from a plateau, the ensemble, the split.",
        ("workers", "batch_size", "max_flops", "plateau_individuals", "ensemble_k", "val_size"),
    ),
)
FORM_ONLY = ("name", "team")
# Fractions a user may also type as a percentage ("90%").
FRACTIONS = ("target_accuracy",)
SETTINGS = ExperimentConfig.described()

_grouped = [name for *_, names in GROUPS for name in names if name not in FORM_ONLY]
if sorted(_grouped) != sorted(SETTINGS):  # a new config field needs its place in the form
    raise RuntimeError(f"run form groups {sorted(_grouped)} != config fields {sorted(SETTINGS)}")


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


class FractionField(forms.CharField):
    """A fraction from 0 to 1, or a percentage with its sign: "0.9" and "90%" are 0.9. A
    bare number above 1 is refused rather than guessed at."""

    def to_python(self, value: Any) -> float | None:
        text = (super().to_python(value) or "").strip().replace(" ", "")
        if not text:
            return None
        percent = text.endswith("%")
        try:
            number = float(text.removesuffix("%"))
        except ValueError:
            raise ValidationError(
                "Enter a fraction such as 0.9, or a percentage such as 90%."
            ) from None
        if not percent and number > 1:
            raise ValidationError(
                f"Enter a fraction from 0 to 1 (0.9 = 90%), or {_number(number)}% if you "
                "mean a percentage."
            )
        return number / 100 if percent else number


def range_text(name: str, spec: dict[str, Any]) -> str:
    """The accepted values in words, as shown under a field."""
    if name in FRACTIONS:
        return "e.g. 0.9 = 90%; a percentage works too: 90%"
    if spec["type"] == "integer":
        return f"{_number(spec['minimum'])}–{_number(spec['maximum'])}"
    return "more than 0" if spec.get("exclusiveMinimum") else f"at least {spec['minimum']}"


def config_field(name: str, spec: dict[str, Any]) -> forms.Field:
    """The form field of one config setting, with `unit`, `range` and `empty` for the page."""
    meta = SETTINGS[name]
    # Left empty: unset where the config allows it, else its default (a form that leaves a
    # setting out, as older clients and scripts do, gets what the API gives).
    common = {"label": meta["label"], "help_text": meta["help"], "required": False}
    common["initial"] = meta["default"]
    if "enum" in spec:
        described = meta["choices"] or {}
        choices = [(v, f"{v} — {described[v]}" if v in described else v) for v in spec["enum"]]
        field: forms.Field = forms.ChoiceField(choices=choices, **common)
    elif name in FRACTIONS:
        attrs = {"inputmode": "decimal", "placeholder": "e.g. 0.9 or 90%"}
        field = FractionField(widget=forms.TextInput(attrs), **common)
    elif spec["type"] == "integer":
        attrs = {"min": spec["minimum"], "max": spec["maximum"], "step": 1}
        field = forms.IntegerField(widget=forms.NumberInput(attrs), **common)
    elif spec["type"] == "number":
        attrs = {"inputmode": "decimal", "placeholder": "e.g. 1e15"}
        field = forms.FloatField(widget=forms.TextInput(attrs), **common)
    else:
        field = forms.CharField(**common)
    numeric = spec["type"] in ("integer", "number")
    field.unit = meta["unit"]
    field.empty = (meta["empty"] or f"the default, {_number(meta['default'])}") if numeric else ""
    field.range = range_text(name, spec) if numeric else ""
    return field


def config_fields(limits: dict[str, int], skip: tuple[str, ...] = ()) -> dict[str, forms.Field]:
    """Every config setting's form field, in the config's order, but those in `skip`."""
    schema = config_schema(limits)["properties"]
    return {name: config_field(name, schema[name]) for name in SETTINGS if name not in skip}


def initial_from(config: dict[str, Any]) -> dict[str, Any]:
    """A stored run's config as the form's initial values (what "Clone with changes" shows);
    settings it does not have keep their defaults."""
    return {name: config[name] for name in SETTINGS if name in config}
