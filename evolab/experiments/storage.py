"""Where an individual's files live in Django's storage (local disk or S3-compatible)."""

from __future__ import annotations


def weights_name(experiment_id: int, number: int, token: str) -> str:
    """Unique per lease, so two workers that trained the same child never share a file."""
    return f"experiments/{experiment_id}/{number}-{token[:8]}.safetensors"


def derived_names(weights_name: str) -> list[str]:
    """Cached exports of a weights file (downloads), deleted together with it."""
    stem = weights_name.removesuffix(".safetensors")
    return [f"{stem}.export.pt", f"{stem}.onnx"]
