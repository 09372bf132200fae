"""JSON nested deeper than the bound is a 400 that says why, on any JSON route, and changes
nothing (it was a RecursionError: a 500)."""

import pytest

from evolab import json_limits
from evolab.experiments.models import Experiment

from .conftest import api


def test_a_thousand_levels_of_nesting_is_a_400_and_changes_nothing(member):
    body = '{"name": "a", "config": ' + "[" * 1000 + "]" * 1000 + "}"
    r = api(member).post("/api/experiments/", body, content_type="application/json")
    assert r.status_code == 400 and "nested deeper than 64 levels" in r.json()["detail"]
    assert not Experiment.objects.exists()


def test_depth_is_counted_outside_strings_only():
    assert json_limits.depth('{"a": [1, {"b": "[[[[{{"}]}') == 3
    assert json_limits.depth('"\\"[[["') == 0
    assert json_limits.loads("[" * 64 + "]" * 64) is not None
    with pytest.raises(ValueError, match="deeper than 64"):
        json_limits.loads("[" * 65 + "]" * 65)
    with pytest.raises(ValueError, match="NaN is not JSON"):
        json_limits.loads('{"x": NaN}')
