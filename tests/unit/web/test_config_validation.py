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
