"""Importing a seed individual: the only files EvoLab accepts from users.

A member may add individuals of their own (a DNA as JSON, optionally its weights as
safetensors) to a run that has not started: they join its initial population, are trained
like any individual (from the uploaded weights) and compete from there. Everything is
validated before anything is stored: the DNA by the engine (hostile JSON, limits, memory
for the run's batch and input), the weights by reading the safetensors header ourselves
(length, JSON, dtypes, offsets inside the file and not overlapping) and then loading them
into the network the DNA builds. Pickles, TorchScript/zip archives and ONNX files are
refused by name; nothing is ever unpickled.
"""

from __future__ import annotations

import json
import struct
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from evolab.evolution.dna import DNA, DNAError
from evolab.evolution.step import child_limits

from . import events
from .models import Experiment, Individual, State, Status

MAX_DNA_BYTES = 1_000_000
MAX_HEADER_BYTES = 1_000_000
DTYPES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8}
KNOWN_CLASSES = {"digits": 10, "cifar10": 10, "cifar100": 100}


class ImportError_(ValueError):
    """A refused upload; `field` names the form field it is about."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def sniff_refused(data: bytes) -> str | None:
    """Name the formats we refuse outright (they can carry code or are not ours)."""
    if data[:1] == b"\x80" or data[:2] in (b"(d", b"(l", b"}q", b"]q"):
        return "a Python pickle"
    if data[:4] == b"PK\x03\x04":
        return "a zip archive (torch.save / TorchScript)"
    if data[:1] == b"\x08" and b"onnx" in data[:200].lower():
        return "an ONNX model"
    return None


def check_safetensors(data: bytes) -> dict:
    """The header of a safetensors file, or ImportError_ saying what is wrong with it."""
    refused = sniff_refused(data)
    if refused:
        raise ImportError_("weights", f"{refused} is refused: upload weights as .safetensors")
    if len(data) < 8:
        raise ImportError_("weights", "not a safetensors file (shorter than its header length)")
    (length,) = struct.unpack("<Q", data[:8])
    if length > min(MAX_HEADER_BYTES, len(data) - 8):
        raise ImportError_("weights", f"safetensors header of {length} bytes is too large")
    try:
        header = json.loads(data[8 : 8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ImportError_("weights", "safetensors header is not JSON") from None
    if not isinstance(header, dict):
        raise ImportError_("weights", "safetensors header is not an object")
    _check_tensors(header, len(data) - 8 - length)
    return header


def _check_tensors(header: dict, body: int) -> None:
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or info.get("dtype") not in DTYPES:
            raise ImportError_("weights", f"tensor {str(name)[:60]!r}: unsupported dtype")
        shape, offsets = info.get("shape"), info.get("data_offsets")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise ImportError_("weights", f"tensor {str(name)[:60]!r}: bad shape")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= body
        ):
            raise ImportError_("weights", f"tensor {str(name)[:60]!r}: offsets outside the file")
        count = 1
        for d in shape:
            count *= d
        if offsets[1] - offsets[0] != count * DTYPES[info["dtype"]]:
            raise ImportError_("weights", f"tensor {str(name)[:60]!r}: size does not match shape")
        spans.append(tuple(offsets))
    spans.sort()
    if any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False)):
        raise ImportError_("weights", "tensors overlap in the file")


def parse_dna(data: bytes, exp: Experiment) -> DNA:
    if len(data) > MAX_DNA_BYTES:
        raise ImportError_("dna", f"DNA file over {MAX_DNA_BYTES} bytes")
    refused = sniff_refused(data)
    if refused:
        raise ImportError_("dna", f"{refused} is refused: upload a DNA as JSON")
    cfg = exp.cfg
    try:
        return DNA.from_json_text(
            data,
            limits=child_limits(cfg, settings.EVOLAB_MAX_CHILD_MEMORY_MB),
            in_shape=cfg.in_shape,
        )
    except DNAError as exc:
        raise ImportError_("dna", f"invalid DNA: {exc}") from None


def check_weights_fit(data: bytes, dna: DNA, exp: Experiment) -> None:
    """Load the (already header-checked) tensors into the network the DNA builds."""
    from safetensors.torch import load

    from evolab.evolution.network import build_network

    classes = KNOWN_CLASSES.get(exp.cfg.dataset)
    if classes is None:  # image folders: the class count is known only to the workers
        return
    model = build_network(dna, exp.cfg.in_shape, classes)
    try:
        model.load_state_dict(load(data), strict=True)
    except (RuntimeError, ValueError) as exc:
        raise ImportError_("weights", f"weights do not fit this DNA: {str(exc)[:300]}") from None


def import_seed(exp_id: int, dna_bytes: bytes, weights: bytes | None, user) -> Individual:
    """Validate, store and add one seed individual to a run that has not started."""
    exp = Experiment.objects.get(pk=exp_id)
    dna = parse_dna(dna_bytes, exp)
    if weights is not None:
        if len(weights) > settings.EVOLAB_MAX_UPLOAD_MB * 2**20:
            raise ImportError_("weights", f"weights over {settings.EVOLAB_MAX_UPLOAD_MB} MiB")
        check_safetensors(weights)
        check_weights_fit(weights, dna, exp)
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=exp_id)
        if exp.status != Status.QUEUED:
            raise ImportError_("experiment", "individuals can be imported before a run starts")
        if exp.individuals_created >= exp.cfg.population:
            raise ImportError_("experiment", "the initial population is already full")
        name = ""
        if weights is not None:
            name = default_storage.save(
                f"experiments/{exp.pk}/seed-{exp.individuals_created}.safetensors",
                ContentFile(weights),
            )
        # A training row whose lease has already expired: the first step takes it over and
        # trains it (from the uploaded weights) like any initial individual.
        ind = Individual.objects.create(
            experiment=exp,
            number=exp.individuals_created,
            dna=dna.to_json(),
            state=State.TRAINING,
            lease_expires=timezone.now() - timedelta(seconds=1),
            weights=name,
            mutation_description=f"imported by {user}",
        )
        exp.individuals_created += 1
        exp.save(update_fields=["individuals_created"])
        events.emit(exp.pk, events.STARTED, events.started(ind.pk, ind.number, "", None, None, 0))
    return ind
