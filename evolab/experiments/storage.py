"""Where an individual's files live in Django's storage (local disk or S3-compatible)."""

from __future__ import annotations

# Cached exports of a weights file, by download format. The key is the format, so a file is
# only ever served as what it was made as: `.export.pt` holds a torch.export program (what
# `format=torchscript` wrongly returned before TorchScript files were made), `.torchscript.pt`
# real TorchScript.
DERIVED = {"exported-program": "export.pt", "onnx": "onnx", "torchscript": "torchscript.pt"}


def weights_name(experiment_id: int, number: int, token: str) -> str:
    """Unique per lease, so two workers that trained the same child never share a file."""
    return f"experiments/{experiment_id}/{number}-{token[:8]}.safetensors"


def derived_name(weights_name: str, fmt: str) -> str:
    """The cached `fmt` export of a weights file (downloads)."""
    return f"{weights_name.removesuffix('.safetensors')}.{DERIVED[fmt]}"


def derived_names(weights_name: str) -> list[str]:
    """Cached exports of a weights file (downloads), deleted together with it."""
    return [derived_name(weights_name, fmt) for fmt in DERIVED]
