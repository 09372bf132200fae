import pytest
from django.conf import settings

from evolab.experiments.config import ConfigError, ExperimentConfig, validate_config

LIMITS = settings.EVOLAB_LIMITS


def errors_for(raw):
    with pytest.raises(ConfigError) as info:
        validate_config(raw, LIMITS)
    return info.value.errors


def test_defaults_are_a_valid_config():
    assert validate_config({}, LIMITS) == ExperimentConfig()


def test_runner_flag_names_are_accepted():
    cfg = validate_config(
        {
            "dataset": "digits",
            "population": 20,
            "workers": 2,
            "steps_per_child": 300,
            "max_individuals": 200,
            "selection": "aging",
            "seed": 7,
        },
        LIMITS,
    )
    assert (cfg.population, cfg.selection, cfg.seed) == (20, "aging", 7)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("population", 1, "at least 2"),
        ("workers", 0, "at least 1"),
        ("steps_per_child", 0, "at least 1"),
        ("population", 10**9, "at most"),
        ("population", "many", "whole number"),
        ("population", True, "whole number"),
        ("selection", "lottery", "Choose one of"),
        ("dataset", "imagenet", "Unknown dataset"),
        ("dataset", "folder:../etc", "Unknown dataset"),
        ("target_accuracy", 1.5, "between 0 and 1"),
        ("max_flops", float("nan"), "positive"),
    ],
)
def test_bad_values_get_a_message_on_their_field(field, value, message):
    errors = errors_for({field: value})
    assert field in errors and message in " ".join(errors[field])


def test_fewer_individuals_than_the_population_is_refused():
    errors = errors_for({"population": 50, "max_individuals": 10})
    assert "population size" in errors["max_individuals"][0]


def test_unknown_settings_are_refused_not_ignored():
    assert "bogus" in errors_for({"bogus": 1})["config"][0]


def test_a_non_object_config_is_refused():
    assert errors_for([1, 2])["config"]


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "kmnist"])
def test_the_mnist_format_sets_are_accepted_with_a_val_size(dataset):
    cfg = validate_config({"dataset": dataset, "val_size": "2000"}, LIMITS)
    assert (cfg.dataset, cfg.val_size, cfg.in_shape) == (dataset, 2000, (1, 28, 28))


@pytest.mark.parametrize(
    "raw,message",
    [
        ({"dataset": "digits", "val_size": 100}, "Applies to the sets with a test split"),
        ({"dataset": "folder:cats", "val_size": 100}, "Applies to the sets with a test split"),
        ({"dataset": "mnist", "val_size": 0}, "at least 1"),
        ({"dataset": "mnist", "val_size": "many"}, "whole number"),
    ],
)
def test_a_bad_val_size_is_a_field_error(raw, message):
    assert message in " ".join(errors_for(raw)["val_size"])


def test_huge_unknown_keys_are_shortened_and_only_a_few_named():
    (message,) = errors_for({"k" * 100_000: 1})["config"]
    assert "k" * 40 + "…" in message and "k" * 41 not in message
    (message,) = errors_for({f"extra{i:02}": i for i in range(50)})["config"]
    assert message == "Unknown setting(s): extra00, extra01, extra02, extra03, extra04 and 45 more."
