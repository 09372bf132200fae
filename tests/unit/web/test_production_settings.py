"""EVOLAB_PRODUCTION=true refuses to start with unsafe settings (a subprocess each)."""

import os
import subprocess
import sys

import pytest

GOOD = {"EVOLAB_PRODUCTION": "true", "SECRET_KEY": "k" * 50, "ALLOWED_HOSTS": "evolab.example"}


def start(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "evolab.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_safe_production_settings_start():
    assert start(**GOOD).returncode == 0


@pytest.mark.parametrize(
    "change,message",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
        ({"DEBUG": "true"}, "DEBUG"),
        ({"DEBUG": "maybe"}, "expected true or false"),
    ],
)
def test_unsafe_production_settings_are_refused_loudly(change, message):
    result = start(**{**GOOD, **change})
    assert result.returncode != 0 and message in result.stderr


def test_a_bucket_switches_weights_to_s3_compatible_storage():
    code = (
        "from django.core.files.storage import storages; s = storages['default']; "
        "print(type(s).__name__, s.bucket_name)"
    )
    env = {"EVOLAB_S3_BUCKET": "team-weights", "EVOLAB_S3_ENDPOINT_URL": "http://127.0.0.1:9"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "evolab.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["S3Storage", "team-weights"]
