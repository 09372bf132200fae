"""The REST API's serializers for runs and individuals: what api.py's views read and write,
and what the schema shows (body fields take only their JSON type: evolab/api_contract.py)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from evolab.api_contract import (
    MAX_INT,
    JsonBoolean,
    JsonInteger,
    JsonString,
    not_blank_pattern,
)

from . import actions as run_actions
from . import warmstart
from .config import config_schema
from .editing import tags_of
from .events import experiment_payload
from .models import Experiment, Individual


class BestSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    val_accuracy = serializers.FloatField(allow_null=True)


class SplitSerializer(serializers.Serializer):
    """How the run's dataset was split when it was created (evolab.datasets.split_record)."""

    train = serializers.IntegerField()
    val = serializers.IntegerField()
    test = serializers.IntegerField()
    seed = serializers.IntegerField()
    val_size = serializers.IntegerField(allow_null=True, help_text="as configured (null: default)")
    stratified = serializers.BooleanField()
    fingerprint = serializers.CharField(help_text="sha256 of the dataset's source files")


class StartFromRecordSerializer(serializers.Serializer):
    """A warm start: the run its initial population was seeded from (warmstart.py)."""

    experiment = serializers.IntegerField(help_text="the source run's id")
    individuals = serializers.ChoiceField(choices=warmstart.MODES)
    k = serializers.IntegerField(allow_null=True, help_text='with "best": how many')
    seeds = serializers.IntegerField(help_text="individuals copied into the initial population")


class ExperimentSerializer(serializers.ModelSerializer):
    best = serializers.SerializerMethodField()
    notes = serializers.CharField(read_only=True, help_text="Markdown, as written")
    tags = serializers.SerializerMethodField(help_text="lower case, sorted")
    dataset_split = SplitSerializer(read_only=True, allow_null=True)
    start_from = StartFromRecordSerializer(read_only=True, allow_null=True)
    evaluating = serializers.SerializerMethodField(
        help_text="The final test evaluation is queued or running (test_accuracy follows)."
    )
    actions = serializers.SerializerMethodField(
        help_text="The controls the run's state lets act now; any other answers 409."
    )

    class Meta:
        model = Experiment
        fields = [
            "id",
            "name",
            "team",
            "status",
            "config",
            "individuals_trained",
            "best",
            "total_flops",
            "weights_bytes",
            "test_accuracy",
            "ensemble_test_accuracy",
            "evaluating",
            "actions",
            "created",
            "started",
            "ended",
            "failure_reason",
            "last_seq",
            "dataset_split",
            "start_from",
            "notes",
            "tags",
            "archived",
        ]
        read_only_fields = fields

    @extend_schema_field(BestSerializer)
    def get_best(self, exp: Experiment) -> dict:
        return experiment_payload(exp)["best"]

    def get_evaluating(self, exp: Experiment) -> bool:
        return run_actions.evaluating(exp)

    @extend_schema_field(
        {"type": "array", "items": {"type": "string", "enum": list(run_actions.ACTIONS)}}
    )
    def get_actions(self, exp: Experiment) -> list[str]:
        return run_actions.allowed(exp)

    def get_tags(self, exp: Experiment) -> list[str]:
        return tags_of(exp)


class ConfigField(serializers.JSONField):
    """A run's settings: an object whose numbers are JSON numbers (validate_config, reading
    the form's text too, would take "20" for 20); the rest is validate_config's."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if not isinstance(data, dict):
            raise ValidationError({"config": ["Expected an object of settings."]})
        wrong = {}
        for name, spec in config_schema(settings.EVOLAB_LIMITS)["properties"].items():
            value = data.get(name)
            if name not in data or value is None or spec["type"] not in ("integer", "number"):
                continue  # null: "unset" where allowed, refused by validate_config elsewhere
            integer = spec["type"] == "integer"
            if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
                wrong[name] = ["Enter a whole number." if integer else "Enter a number."]
        if wrong:
            raise ValidationError(wrong)
        return data


class ConfigFieldSchema(OpenApiSerializerFieldExtension):
    target_class = ConfigField

    def map_serializer_field(self, auto_schema, direction):
        return config_schema(settings.EVOLAB_LIMITS)


@extend_schema_field({"type": "string", "maxLength": 200, "pattern": not_blank_pattern()})
class NameField(JsonString):
    """A run's name: text with something besides blanks (or null characters) in it."""


def start_from_schema() -> dict:
    """`start_from` of a new run (warmstart.parse says the same in words): "alive" takes
    no k, "best" needs one."""
    most = settings.EVOLAB_LIMITS["max_population"]
    base = {
        "experiment": {"type": "integer", "minimum": 1, "maximum": MAX_INT,
                       "description": "a run of the same team"},
        "k": {"type": "integer", "minimum": 1, "maximum": most,
              "description": 'with "best": how many, at most the population'},
    }  # fmt: skip
    alive = {"individuals": {"type": "string", "enum": ["alive"], "default": "alive"}}
    best = {"individuals": {"type": "string", "enum": ["best"]}}
    return {
        "description": "Seed the initial population from another run of this team: its "
        'alive individuals, or its best k ({"experiment": 12, "individuals": "best", "k": 5}). '
        "The seeds are retrained from copies of their weights; trivial individuals fill the "
        "rest of the population (docs/ALGORITHM.md §1.2a).",
        "oneOf": [
            {"type": "object", "additionalProperties": False, "required": ["experiment"],
             "properties": {"experiment": base["experiment"], **alive}},
            {"type": "object", "additionalProperties": False,
             "required": ["experiment", "individuals", "k"], "properties": {**base, **best}},
        ],
    }  # fmt: skip


class StartFromField(serializers.JSONField):
    """`start_from`: checked by warmstart.parse (unknown keys, types and k's range)."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        try:
            return warmstart.parse(data, settings.EVOLAB_LIMITS["max_population"])
        except warmstart.WarmStartError as exc:
            raise ValidationError(str(exc)) from None


class StartFromFieldSchema(OpenApiSerializerFieldExtension):
    target_class = StartFromField

    def map_serializer_field(self, auto_schema, direction):
        return start_from_schema()


class ExperimentCreateSerializer(serializers.Serializer):
    name = NameField(
        max_length=200,
        trim_whitespace=False,  # the limit is on what was sent; services strips it
        help_text="Any text but blanks, at most 200 characters.",
    )
    team = JsonInteger(
        required=False, min_value=1, max_value=MAX_INT, help_text="Optional if you are in one team."
    )
    config = ConfigField(
        help_text='Settings, e.g. {"dataset": "digits", "population": 20, "workers": 2, '
        '"steps_per_child": 300, "max_individuals": 200, "selection": "tournament", "seed": 1}'
    )
    start = JsonBoolean(default=False)
    start_from = StartFromField(required=False)

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise ValidationError("Give the experiment a name.")
        return value


class WorkersSerializer(serializers.Serializer):
    def get_fields(self):
        # The configured limit (settings.EVOLAB_LIMITS) when the schema or request is read.
        most = settings.EVOLAB_LIMITS["max_workers"]
        return {
            "workers": JsonInteger(
                min_value=1, max_value=most, help_text="Number of parallel workers."
            )
        }


BOOST_MOST = 100_000


class EscapeSerializer(serializers.Serializer):
    boost_children = JsonInteger(
        required=False,
        min_value=0,
        max_value=BOOST_MOST,
        help_text="The next N children get 5 mutations each (docs/ALGORITHM.md §3).",
    )
    reset_weights = JsonBoolean(
        required=False, help_text="true: the living individuals' children start from fresh weights."
    )


# One knob at least: boost_children, or reset_weights true (false alone does nothing: a 400).
ESCAPE_SCHEMA = {
    "type": "object",
    "properties": {
        "boost_children": {
            "type": "integer",
            "minimum": 0,
            "maximum": BOOST_MOST,
            "description": "The next N children get 5 mutations each (docs/ALGORITHM.md §3).",
        },
        "reset_weights": {
            "type": "boolean",
            "description": "true: the living individuals' children start from fresh weights.",
        },
    },
    "anyOf": [
        {"required": ["boost_children"]},
        {"required": ["reset_weights"], "properties": {"reset_weights": {"enum": [True]}}},
    ],
}


class SeedOriginSerializer(serializers.Serializer):
    """A warm start's seed: the run and individual number it was copied from."""

    experiment = serializers.IntegerField()
    number = serializers.IntegerField()


# [step, mean loss] pairs (OpenAPI 3.0 has no tuple type: two numbers, the step a whole one).
LOSS_CURVE_SCHEMA = {
    "type": "array",
    "maxItems": 100,
    "items": {
        "type": "array",
        "minItems": 2,
        "maxItems": 2,
        "items": {"type": "number"},
    },
}


class IndividualSerializer(serializers.ModelSerializer):
    """The same names as the live events (events.individual_payload), plus DNA and sizes."""

    parent = serializers.IntegerField(source="parent_id", allow_null=True, read_only=True)
    mutation = serializers.SerializerMethodField()
    born = serializers.SerializerMethodField()
    trained = serializers.SerializerMethodField()
    died = serializers.SerializerMethodField()
    has_weights = serializers.SerializerMethodField()
    seeded_from = serializers.SerializerMethodField()
    loss_curve = serializers.SerializerMethodField(
        help_text="Its training loss, kept when it finished training: at most 100 [step, mean "
        "loss] pairs in step order; [] while it trains, and for individuals stored before curves "
        "were kept."
    )

    class Meta:
        model = Individual
        fields = [
            "id",
            "experiment",
            "number",
            "parent",
            "mutation",
            "mutation_description",
            "state",
            "val_accuracy",
            "test_accuracy",
            "flops",
            "params",
            "steps",
            "born",
            "trained",
            "died",
            "train_seconds",
            "worker",
            "pinned",
            "has_weights",
            "weights_size",
            "dna",
            "seeded_from",
            "loss_curve",
        ]
        read_only_fields = fields

    def get_mutation(self, ind: Individual) -> str | None:
        return ind.mutation or None

    def _stamp(self, value) -> float | None:
        return value.timestamp() if value else None

    def get_born(self, ind: Individual) -> float | None:
        return self._stamp(ind.born)

    def get_trained(self, ind: Individual) -> float | None:
        return self._stamp(ind.trained)

    def get_died(self, ind: Individual) -> float | None:
        return self._stamp(ind.died)

    def get_has_weights(self, ind: Individual) -> bool:
        return bool(ind.weights)

    @extend_schema_field(SeedOriginSerializer(allow_null=True))
    def get_seeded_from(self, ind: Individual) -> dict | None:
        return warmstart.seed_origin(ind)

    @extend_schema_field(LOSS_CURVE_SCHEMA)
    def get_loss_curve(self, ind: Individual) -> list:
        return ind.loss_curve or []


class EventSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    kind = serializers.CharField()
    data = serializers.DictField()


class EventPageSerializer(serializers.Serializer):
    events = EventSerializer(many=True)
    last_seq = serializers.IntegerField()


class PinnedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    pinned = serializers.BooleanField()


class SeedSerializer(serializers.Serializer):
    dna = serializers.FileField(help_text="the DNA as JSON (evolab DNA schema 1)")
    weights = serializers.FileField(required=False, help_text="its weights as .safetensors")
