"""Model downloads: one individual's files, its zip bundle (bundles.py), the top-k ensemble.

Formats (`?format=`): bundle (zip), safetensors (the stored checkpoint), torchscript (a
TorchScript file, `torch.jit.load`), exported-program (a torch.export program, `.pt2`,
`torch.export.load`), onnx, dna. Before TorchScript files were made, `torchscript` returned
the torch.export program; that program is now `exported-program`, and the cache is keyed by
format (storage.DERIVED) so those bytes are never served as TorchScript.

Exports are made on demand, the first time someone asks, and cached next to the weights in
`default_storage`: workers never pay for them. `offered` says which are made already and
their sizes, for the page (a first export of a large model takes seconds). Bundles are
spooled to a temporary file and sent with a Content-Length, so the browser shows the size
before the download and large ones stream from disk.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import torch
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from rest_framework.exceptions import ValidationError

from evolab.evolution.checkpoint import CheckpointError, load_checkpoint
from evolab.evolution.dna import DNA
from evolab.evolution.network import build_network

from . import bundles, exports
from .exports import NotExportable
from .models import Experiment, Individual
from .retention import RANKING
from .storage import derived_name

log = logging.getLogger(__name__)

FORMATS = ("bundle", "safetensors", "torchscript", "exported-program", "onnx", "dna")
EXPORTS = {"torchscript": exports.torchscript, "exported-program": exports.exported_program,
           "onnx": exports.onnx}  # fmt: skip
# File name after the stem, and what the page calls it.
FILES = {
    "bundle": (".zip", "bundle (.zip)"),
    "torchscript": (".torchscript.pt", "TorchScript (.pt)"),
    "exported-program": (".pt2", "exported program (.pt2)"),
    "onnx": (".onnx", "ONNX (.onnx)"),
    "safetensors": (".safetensors", "weights (.safetensors)"),
    "dna": (".dna.json", "DNA (.json)"),
}
EXPORT_FAILED = b"export failed\n"  # cached marker: do not retry an architecture ONNX refuses
OCTET = "application/octet-stream"


@dataclass
class Stored:
    """An individual's checkpoint as read from storage."""

    individual: Individual
    raw: bytes
    state: dict[str, torch.Tensor]
    dna: DNA
    metadata: dict[str, Any]

    @property
    def in_shape(self) -> tuple[int, int, int]:
        shape = self.metadata.get("in_shape") or self.individual.experiment.cfg.in_shape
        return tuple(int(d) for d in shape)  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return int(self.state["head.weight"].shape[0])

    def model(self) -> torch.nn.Module:
        net = build_network(self.dna, self.in_shape, self.num_classes)
        net.load_state_dict(self.state)
        return net.eval()


def load_stored(ind: Individual) -> Stored:
    if not ind.weights or not default_storage.exists(ind.weights):
        raise Http404("These weights were not kept (dead individuals' weights are removed).")
    with default_storage.open(ind.weights, "rb") as fh:
        raw = fh.read()
    try:
        state, dna, metadata = load_checkpoint(raw)
    except CheckpointError as exc:
        log.error("stored checkpoint of individual %s is unreadable: %s", ind.pk, exc)
        raise Http404("The stored checkpoint is unreadable.") from None
    return Stored(ind, raw, state, dna, metadata)


def exported(stored: Stored, fmt: str) -> bytes:
    """The `fmt` export (one of EXPORTS) of the individual: read from the cache, or made,
    cached and returned. NotExportable when the exporter refuses the architecture (cached
    too, so a refusal is not retried)."""
    name = derived_name(stored.individual.weights, fmt)
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as fh:
            data = fh.read()
    else:
        try:
            data = EXPORTS[fmt](stored.model(), stored.in_shape)
        except NotExportable as exc:
            log.warning("individual %s: no %s export: %s", stored.individual.pk, fmt, exc.__cause__)
            data = EXPORT_FAILED
        if not default_storage.exists(name):  # two first requests at once: keep one copy
            default_storage.save(name, ContentFile(data))
    if data == EXPORT_FAILED:
        raise NotExportable(f"This architecture does not export to {fmt.upper()}.")
    return data


def _stem(ind: Individual) -> str:
    return f"evolab-{ind.experiment_id}-{ind.number}"


def _attachment(body: bytes | Any, filename: str, content_type: str) -> HttpResponse:
    if isinstance(body, bytes | str):
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    return FileResponse(body, as_attachment=True, filename=filename, content_type=content_type)


def individual_download(ind: Individual, fmt: str) -> HttpResponse:
    """One individual as `fmt` (one of FORMATS); 404 when its weights were not kept."""
    if fmt not in FORMATS:
        raise ValidationError({"format": [f"Choose one of: {', '.join(FORMATS)}."]})
    filename = _stem(ind) + FILES[fmt][0]
    if fmt == "dna":
        return _attachment(json.dumps(ind.dna, indent=2), filename, "application/json")
    stored = load_stored(ind)
    if fmt == "safetensors":
        return _attachment(stored.raw, filename, OCTET)
    if fmt in EXPORTS:
        try:
            return _attachment(exported(stored, fmt), filename, OCTET)
        except NotExportable as exc:
            raise Http404(str(exc)) from None
    return _attachment(bundles.individual_bundle(stored, exported), filename, "application/zip")


def ensemble_members(exp: Experiment) -> list[Individual]:
    """The top-k (config `ensemble_k`) by validation accuracy among those with weights, ties
    to the younger: the ranking the run's test evaluation used (retention.RANKING), so the
    ensemble downloaded is the one whose test accuracy the run reports."""
    k = max(int(exp.config.get("ensemble_k", 2)), 1)
    return list(
        exp.individuals.exclude(weights="").exclude(val_accuracy=None).order_by(*RANKING)[:k]
    )


def ensemble_download(exp: Experiment) -> HttpResponse:
    members = ensemble_members(exp)
    if not members:
        raise Http404("No trained individual with weights yet.")
    stored = [load_stored(ind) for ind in members]
    spool = bundles.ensemble_bundle(exp, stored, exported)
    return _attachment(spool, f"evolab-{exp.pk}-ensemble.zip", "application/zip")


# ------------------------------------------------------------------------- what the page offers
def _cached_size(ind: Individual, fmt: str) -> int | None:
    """Bytes of a cached export; None when not made yet; -1 when the exporter refused it."""
    name = derived_name(ind.weights, fmt)
    if not default_storage.exists(name):
        return None
    size = default_storage.size(name)
    return -1 if size == len(EXPORT_FAILED) else size


def _parts(ind: Individual) -> dict[str, int | None]:
    sizes = {fmt: _cached_size(ind, fmt) for fmt in EXPORTS}
    return {"safetensors": ind.weights_size or None, **sizes}


def _bundle_size(parts: dict[str, int | None]) -> int | None:
    """A bundle's size is its parts' (stored uncompressed) plus a few kB; None until every
    export is made (the first bundle makes them)."""
    if any(size is None for size in parts.values()):
        return None
    return sum(max(size, 0) for size in parts.values())


def _entry(fmt: str, url: str, filename: str, size: int | None, note: str = "") -> dict:
    label = FILES[fmt][1] if fmt in FILES else ""
    return {"format": fmt, "label": label, "url": url, "filename": filename, "bytes": size,
            "ready": size is not None, "note": note}  # fmt: skip


def offered(ind: Individual) -> list[dict]:
    """Every download of one individual for the page: its URL and file name, `bytes` when
    known (a cached export, the weights; the bundle approximately, once its parts exist),
    `ready` False while a first request has to make the file (it can take seconds), and a
    `note` when it cannot be had (weights not kept, ONNX refused)."""
    url = f"/api/individuals/{ind.pk}/download/?format="
    stem = _stem(ind)
    dna = _entry("dna", url + "dna", stem + FILES["dna"][0], len(json.dumps(ind.dna, indent=2)))
    parts = _parts(ind) if ind.weights else {}
    out = []
    for fmt in FORMATS[:-1]:
        size = _bundle_size(parts) if fmt == "bundle" else parts.get(fmt)
        note = "weights not kept" if not ind.weights else ""
        if size == -1:
            size, note = None, f"does not export to {FILES[fmt][1].split(' (')[0]}"
        out.append(_entry(fmt, url + fmt, stem + FILES[fmt][0], size, note))
    return [*out, dna]


def offered_ensemble(exp: Experiment) -> dict:
    """The run's ensemble download for the page, as `offered` describes one."""
    members = ensemble_members(exp)
    url = f"/api/experiments/{exp.pk}/download/?format=ensemble"
    sizes = [_bundle_size(_parts(ind)) for ind in members]
    size = None if not members or None in sizes else sum(sizes)
    note = "" if members else "no trained individual with weights yet"
    entry = _entry("ensemble", url, f"evolab-{exp.pk}-ensemble.zip", size, note)
    entry["label"] = f"top-{len(members)} ensemble (.zip)"
    return {**entry, "members": [ind.number for ind in members]}
