"""Configuration is read once, strictly: every variable in evolab/settings.py (through
evolab/environment.py) at start-up; a bad value stops start-up naming the variable; importing
the settings creates and writes nothing."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evolab.environment import BadEnvironment, env_bool, env_int, env_switch, training_options

ROOT = Path(__file__).resolve().parents[2]
# Reads that are not configuration, each with its reason.
ALLOWED_READS = {
    "evolab/settings.py": "the settings",
    "evolab/environment.py": "the strict readers settings uses",
    "evolab/launch.py": "makes var/ and its key before Django loads (EVOLAB_VAR_DIR, SECRET_KEY)",
    "evolab/worker_launch.py": "CUDA_VISIBLE_DEVICES: the driver's, handed on to each GPU worker",
    "evolab/launcher_watch.py": "EVOLAB_LAUNCHER_PID: which process to die with, set by the "
    "launcher, read in embedded_redis too (which never loads Django's settings)",
    # The Python client and its CLI run in the user's notebook or shell, never with Django.
    "evolab/cli/__init__.py": "the client's EVOLAB_URL / EVOLAB_TOKEN (no Django settings there)",
    "evolab/client/http.py": "the client's EVOLAB_URL / EVOLAB_TOKEN (no Django settings there)",
    "evolab/client/config.py": "where the CLI keeps its login: EVOLAB_CONFIG, XDG_CONFIG_HOME",
}


def _reads(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                lines.append(node.lineno)
    return lines


def test_no_module_reads_the_environment_but_settings():
    found = {}
    for top in ("evolab", "workers"):
        for path in (ROOT / top).rglob("*.py"):
            rel = str(path.relative_to(ROOT))
            lines = [
                n for n in _reads(path)
                # DJANGO_SETTINGS_MODULE's setdefault names the settings; a launcher hands its
                # environment on to the processes it starts (`{**os.environ, ...}`).
                if "setdefault" not in path.read_text().splitlines()[n - 1]
                and "{**os.environ" not in path.read_text().splitlines()[n - 1]
            ]  # fmt: skip
            if lines and rel not in ALLOWED_READS:
                found[rel] = lines
    assert not found, f"read the variable in settings.py instead: {found}"


@pytest.mark.parametrize("value", ["of", "yes please", "auto-ish", "2"])
def test_a_typo_in_a_switch_is_refused_with_its_name(value):
    with pytest.raises(BadEnvironment, match="EVOLAB_CPU_BF16.*auto, on, off"):
        training_options({"EVOLAB_CPU_BF16": value})


def test_the_readers_accept_what_is_documented_and_nothing_else():
    assert env_switch("X", {"X": "ON"}) is True and env_switch("X", {}) is None
    assert env_switch("X", {"X": "off"}) is False
    assert env_bool("B", False, {"B": "true"}) and not env_bool("B", True, {"B": "0"})
    with pytest.raises(BadEnvironment, match="B='maybe': expected true or false"):
        env_bool("B", False, {"B": "maybe"})
    assert env_int("N", 3, {}) == 3 and env_int("N", 3, {"N": "12"}) == 12
    for bad in ("1.5", "²", "ten"):
        with pytest.raises(BadEnvironment, match="N="):
            env_int("N", 3, {"N": bad})
    with pytest.raises(BadEnvironment, match="at least 1"):
        env_int("N", 3, {"N": "0"}, minimum=1)


def _start(env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    code = "import django; django.setup(); from django.conf import settings; settings.SECRET_KEY"
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "evolab.settings", **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_start_up_stops_on_a_bad_value_and_importing_settings_writes_nothing(tmp_path):
    var = tmp_path / "var-that-does-not-exist"
    bad = _start({"EVOLAB_VAR_DIR": str(var), "EVOLAB_CUDA_GRAPHS": "yes"}, tmp_path)
    assert bad.returncode != 0 and "EVOLAB_CUDA_GRAPHS='yes'" in bad.stderr
    good = _start({"EVOLAB_VAR_DIR": str(var)}, tmp_path)
    assert good.returncode == 0, good.stderr
    assert not var.exists()  # no var/, no secret key file, no static folder
