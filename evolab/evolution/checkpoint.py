"""Checkpoints that rebuild themselves: safetensors weights plus DNA and metadata.

Never pickle (loading a pickle runs code): the header is JSON and the tensors are raw
bytes, so loading a hostile file can at worst raise CheckpointError.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

import evolab

from .dna import DNA, SCHEMA_VERSION, DNAError, Limits

FORMAT = "evolab-individual"
_MAX_HEADER_BYTES = 100_000_000  # safetensors' own cap on the JSON header


class CheckpointError(ValueError):
    """The bytes are not a readable EvoLab checkpoint."""


def dump_checkpoint(
    state_dict: dict[str, torch.Tensor], dna: DNA, metadata: dict[str, Any] | None = None
) -> bytes:
    """Serialise weights with the DNA, schema, code version and caller metadata."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    header = {
        "format": FORMAT,
        "dna": dna.to_json_text(),
        "schema": str(SCHEMA_VERSION),
        "evolab_version": evolab.__version__,
        "metadata": json.dumps(_plain_json(metadata or {}), allow_nan=False, default=str),
    }
    return st_save(tensors, metadata=header)


def load_checkpoint(
    data: bytes, limits: Limits | None = None
) -> tuple[dict[str, torch.Tensor], DNA, dict[str, Any]]:
    """Return (state_dict, validated DNA, caller metadata); CheckpointError otherwise."""
    header = _read_header_metadata(data)
    if header.get("format") != FORMAT:
        raise CheckpointError("not an EvoLab checkpoint (no evolab format marker)")
    if header.get("schema") != str(SCHEMA_VERSION):
        raise CheckpointError(f"unsupported DNA schema {header.get('schema')!r}")
    try:
        dna = DNA.from_json_text(header.get("dna", ""), limits)
        metadata = json.loads(header.get("metadata", "{}"))
    except (DNAError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint metadata is invalid: {exc}") from None
    if not isinstance(metadata, dict):
        raise CheckpointError("checkpoint metadata must be a JSON object")
    try:
        state = st_load(bytes(data))
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint tensors are unreadable: {exc}") from None
    return state, dna, metadata


def _plain_json(value: Any) -> Any:
    """NaN/inf (a diverged child's loss) become null: strict JSON readers reject them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_json(v) for v in value]
    return value


def checkpoint_header(data: bytes) -> dict[str, str]:
    """The raw header strings (format, dna, schema, evolab_version, metadata)."""
    return _read_header_metadata(data)


def _read_header_metadata(data: bytes) -> dict[str, str]:
    """The safetensors header is <u64 little-endian length><JSON>; read its __metadata__."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CheckpointError(f"checkpoint must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) < 8:
        raise CheckpointError("checkpoint is truncated: shorter than its 8-byte header length")
    (length,) = struct.unpack("<Q", data[:8])
    if length > min(_MAX_HEADER_BYTES, len(data) - 8):
        raise CheckpointError("checkpoint is truncated or corrupt: bad header length")
    try:
        header = json.loads(data[8 : 8 + length])
    except (ValueError, RecursionError):
        raise CheckpointError("checkpoint header is not valid JSON") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError("checkpoint has no EvoLab metadata")
    return meta
