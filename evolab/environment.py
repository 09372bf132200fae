"""Strict readers of environment variables, and the frozen options training runs with.

`evolab/settings.py` reads every variable through these at start-up; the headless runner,
which has no Django, reads its few (`runner_environment`) through the same readers when it
starts. A value that is not one of those documented stops start-up with a message naming
the variable and what it accepts: a typo never silently means the default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class BadEnvironment(ValueError):
    """A variable holds a value it does not accept."""


TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
SWITCH = ("auto", "on", "off")


def _raw(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    return None if value is None or value.strip() == "" else value.strip()


def env_bool(name: str, default: bool, environ: Mapping[str, str] = os.environ) -> bool:
    raw = _raw(environ, name)
    if raw is None:
        return default
    if raw.lower() in TRUE:
        return True
    if raw.lower() in FALSE:
        return False
    raise BadEnvironment(f"{name}={raw!r}: expected true or false")


def env_int(
    name: str, default: int, environ: Mapping[str, str] = os.environ, minimum: int | None = None
) -> int:
    raw = _raw(environ, name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit():
        raise BadEnvironment(f"{name}={raw!r}: expected a whole number")
    value = int(raw)
    if minimum is not None and value < minimum:
        raise BadEnvironment(f"{name}={raw!r}: must be at least {minimum}")
    return value


def env_float(name: str, default: float, environ: Mapping[str, str] = os.environ) -> float:
    raw = _raw(environ, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadEnvironment(f"{name}={raw!r}: expected a number") from None
    if not value > 0:
        raise BadEnvironment(f"{name}={raw!r}: must be a positive number")
    return value


def env_choice(
    name: str, choices: tuple[str, ...], default: str, environ: Mapping[str, str] = os.environ
) -> str:
    raw = _raw(environ, name)
    if raw is None:
        return default
    if raw.lower() not in choices:
        raise BadEnvironment(f"{name}={raw!r}: expected one of {', '.join(choices)}")
    return raw.lower()


def env_switch(name: str, environ: Mapping[str, str] = os.environ) -> bool | None:
    """An auto/on/off switch: True, False, or None for auto (the measured default decides)."""
    return {"auto": None, "on": True, "off": False}[env_choice(name, SWITCH, "auto", environ)]


def env_device(name: str, environ: Mapping[str, str] = os.environ) -> str:
    raw = _raw(environ, name) or "auto"
    if raw in ("auto", "cpu", "cuda") or (raw.startswith("cuda:") and raw[5:].isdigit()):
        return raw
    raise BadEnvironment(f"{name}={raw!r}: expected auto, cpu, cuda or cuda:N")


@dataclass(frozen=True)
class TrainingOptions:
    """How a worker trains, fixed at start-up (never read from the environment mid-run)."""

    device: str = "auto"  # EVOLAB_DEVICE
    cpu_bf16: bool | None = None  # EVOLAB_CPU_BF16: None = auto (measured default)
    cuda_graphs: bool | None = None  # EVOLAB_CUDA_GRAPHS: None = auto
    max_child_memory_mb: int = 8192  # EVOLAB_MAX_CHILD_MEMORY_MB


def training_options(environ: Mapping[str, str] = os.environ) -> TrainingOptions:
    return TrainingOptions(
        device=env_device("EVOLAB_DEVICE", environ),
        cpu_bf16=env_switch("EVOLAB_CPU_BF16", environ),
        cuda_graphs=env_switch("EVOLAB_CUDA_GRAPHS", environ),
        max_child_memory_mb=env_int("EVOLAB_MAX_CHILD_MEMORY_MB", 8192, environ, minimum=1),
    )


def env_path(name: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """A folder or file path, or None when unset."""
    return _raw(environ, name)
