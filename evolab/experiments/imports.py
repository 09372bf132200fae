"""Importing a seed individual: the only files EvoLab accepts from users.

A member may add individuals of their own (a DNA as JSON, optionally its weights as
safetensors) to a run that has not started: they join its initial population, are trained
like any individual (from the uploaded weights) and compete from there. Everything is
validated before anything is stored: the DNA by the engine (hostile JSON, limits, memory
for the run's batch and input), the weights by reading the safetensors header ourselves
(length, JSON, string metadata, dtypes, tensors that tile the data exactly: no overlap, gap
or trailing bytes) and then comparing each tensor's name and shape with the network the DNA
builds, built on PyTorch's "meta" device: validation allocates no parameter memory, however
large the DNA (the web process never holds a model). Pickles, TorchScript/zip archives and
ONNX files are refused by name; nothing is ever unpickled.
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

from evolab.evolution.config import EvolutionConfig
from evolab.evolution.dna import DNA, DNAError
from evolab.evolution.step import child_limits

from . import events
from .models import Experiment, Individual, State, Status

MAX_DNA_BYTES = 1_000_000
MAX_HEADER_BYTES = 1_000_000
DTYPES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8}
KNOWN_CLASSES = {"digits": 10, "cifar10": 10, "cifar100": 100, "mnist": 10,
                 "fashion-mnist": 10, "kmnist": 10}  # fmt: skip


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


def _check_metadata(metadata: object) -> None:
    if not (
        isinstance(metadata, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise ImportError_("weights", "safetensors __metadata__ must map strings to strings")


def _check_tensors(header: dict, body: int) -> None:
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            _check_metadata(info)
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
    # The format's rule: the tensors tile the data buffer, with nothing between or after.
    ends = [0, *(end for _, end in spans)]
    if any(start != end for (start, _), end in zip(spans, ends, strict=False)) or ends[-1] != body:
        raise ImportError_("weights", "bytes between or after the tensors (not safetensors)")


def parse_dna(data: bytes, cfg: EvolutionConfig) -> DNA:
    """The DNA, checked against the limits of a run of `cfg` (its batch and input)."""
    if len(data) > MAX_DNA_BYTES:
        raise ImportError_("dna", f"DNA file over {MAX_DNA_BYTES} bytes")
    refused = sniff_refused(data)
    if refused:
        raise ImportError_("dna", f"{refused} is refused: upload a DNA as JSON")
    try:
        return DNA.from_json_text(
            data,
            limits=child_limits(cfg, settings.EVOLAB_MAX_CHILD_MEMORY_MB),
            in_shape=cfg.in_shape,
        )
    except DNAError as exc:
        raise ImportError_("dna", f"invalid DNA: {exc}") from None


def check_weights_fit(header: dict, dna: DNA, cfg: EvolutionConfig) -> None:
    """Every tensor the DNA's network has, of its shape, and nothing else (header-checked
    already). The network is built on the meta device: shapes without memory."""
    import torch

    from evolab.evolution.network import build_network

    classes = KNOWN_CLASSES.get(cfg.dataset)
    if classes is None:  # image folders: the class count is known only to the workers
        return
    with torch.device("meta"):
        model = build_network(dna, cfg.in_shape, classes)
    wanted = {name: list(t.shape) for name, t in model.state_dict().items()}
    given = {name: info["shape"] for name, info in header.items() if name != "__metadata__"}
    missing, unexpected = sorted(wanted.keys() - given.keys()), sorted(given.keys() - wanted)
    wrong = sorted(n for n in wanted.keys() & given.keys() if wanted[n] != given[n])
    problems = [
        f"{what}: {', '.join(n[:60] for n in names[:5])}"
        for what, names in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("wrong shape", wrong),
        )  # fmt: skip
        if names
    ]
    if problems:
        raise ImportError_("weights", f"weights do not fit this DNA ({'; '.join(problems)})")


def max_weights_bytes() -> int:
    return settings.EVOLAB_MAX_UPLOAD_MB * 2**20


def check_seed(dna_bytes: bytes, weights: bytes | None, cfg: EvolutionConfig) -> DNA:
    """The DNA of a seed for a run of `cfg`, its weights (if any) checked against it; or
    ImportError_ naming the field. Reads only: the API's import and the pages' both."""
    dna = parse_dna(dna_bytes, cfg)
    if weights is not None:
        if len(weights) > max_weights_bytes():
            raise ImportError_("weights", f"weights over {settings.EVOLAB_MAX_UPLOAD_MB} MiB")
        check_weights_fit(check_safetensors(weights), dna, cfg)
    return dna


def import_seed(exp_id: int, dna_bytes: bytes, weights: bytes | None, user) -> Individual:
    """Validate, store and add one seed individual to a run that has not started."""
    dna = check_seed(dna_bytes, weights, Experiment.objects.get(pk=exp_id).cfg)
    return add_seed(exp_id, dna, weights, f"imported by {user}")


def add_seed(
    exp_id: int, dna: DNA, weights: bytes | None, description: str, origin: tuple = (None, None)
) -> Individual:
    """Store a validated seed in the initial population of a run that has not started: its
    weights (copied: a file of this run's own) and a training row. `origin`: the run and
    individual number a warm start copied it from (evolab.experiments.warmstart)."""
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
            mutation_description=description,
            seeded_from_run=origin[0],
            seeded_from_number=origin[1],
        )
        exp.individuals_created += 1
        exp.save(update_fields=["individuals_created"])
        events.emit(exp.pk, events.STARTED, events.started(ind.pk, ind.number, "", None, None, 0))
    return ind
