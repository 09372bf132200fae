"""Model downloads: one individual's files, or a zip bundle that runs with plain PyTorch.

A bundle holds model.safetensors (the stored checkpoint), dna.json, model.pt (a
`torch.export` program: TorchScript is deprecated in torch 2.14, and an exported program
loads with `torch.export.load` and nothing but torch), model.onnx when the architecture
exports, metrics.json and a README.md with a short example; the top-k ensemble bundle holds
one such folder per member. Exports are made on demand, the first time someone asks, and
cached next to the weights in `default_storage`: workers never pay for them. Bundles are
spooled to a temporary file and sent with a Content-Length, so the browser shows the size
before the download and large ones stream from disk.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
import zipfile
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

from .models import Experiment, Individual
from .storage import derived_names

log = logging.getLogger(__name__)

FORMATS = ("bundle", "safetensors", "torchscript", "onnx", "dna")
ONNX_FAILED = b"export failed\n"  # cached marker: do not retry an architecture ONNX refuses
SPOOL_BYTES = 32 * 2**20  # bundles above this spill from memory to a temporary file


class NotExportable(Exception):
    """The architecture has no ONNX export (the bundle then ships without model.onnx)."""


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


def _cached(name: str, make) -> bytes:
    """Read `name` from storage, or make it, store it and return it."""
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as fh:
            return fh.read()
    data = make()
    if not default_storage.exists(name):  # two first requests at once: keep one copy
        default_storage.save(name, ContentFile(data))
    return data


def _example_input(stored: Stored) -> torch.Tensor:
    return torch.zeros((2, *stored.in_shape))


def _batch_dim() -> dict:
    return {0: torch.export.Dim("batch", min=1, max=65_536)}


def exported_program(stored: Stored) -> bytes:
    """The `torch.export` program of the network, batch size dynamic (model.pt)."""

    def make() -> bytes:
        program = torch.export.export(
            stored.model(), (_example_input(stored),), dynamic_shapes=(_batch_dim(),)
        )
        buffer = io.BytesIO()
        torch.export.save(program, buffer)
        return buffer.getvalue()

    return _cached(derived_names(stored.individual.weights)[0], make)


def onnx_model(stored: Stored) -> bytes:
    """model.onnx (input "image", output "logits"); NotExportable if ONNX refuses it."""

    def make() -> bytes:
        try:
            program = torch.onnx.export(
                stored.model(),
                (_example_input(stored),),
                dynamo=True,
                dynamic_shapes=(_batch_dim(),),
                input_names=["image"],
                output_names=["logits"],
                verbose=False,
            )
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.onnx")
                program.save(path)
                with open(path, "rb") as fh:
                    return fh.read()
        except Exception as exc:  # any exporter failure means "no ONNX for this one"
            log.warning("individual %s does not export to ONNX: %s", stored.individual.pk, exc)
            return ONNX_FAILED

    data = _cached(derived_names(stored.individual.weights)[1], make)
    if data == ONNX_FAILED:
        raise NotExportable("This architecture does not export to ONNX.")
    return data


def lineage(ind: Individual) -> list[int]:
    """Ids from this individual back to its initial ancestor, in one query."""
    parents = dict(
        Individual.objects.filter(experiment_id=ind.experiment_id).values_list("pk", "parent_id")
    )
    chain, current = [], ind.pk
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


def metrics(stored: Stored) -> dict[str, Any]:
    """metrics.json. `steps` (kept: a contract) is the training steps of the whole lineage,
    the individual's own and every ancestor's (Individual.steps); `lineage_steps` says the
    same by its name and `own_steps` is what this individual was trained itself."""
    ind, meta = stored.individual, stored.metadata
    ancestors_steps = ind.parent.steps if ind.parent_id is not None else 0
    return {
        "experiment": ind.experiment_id,
        "individual": ind.pk,
        "number": ind.number,
        "val_accuracy": ind.val_accuracy,
        "test_accuracy": ind.test_accuracy,
        "flops": ind.flops,
        "params": ind.params,
        "steps": ind.steps,
        "lineage_steps": ind.steps,
        "own_steps": ind.steps - ancestors_steps,
        "mutation": ind.mutation or None,
        "lineage": lineage(ind),
        "dataset": meta.get("dataset", ind.experiment.config.get("dataset")),
        "in_shape": list(stored.in_shape),
        "mean": meta.get("mean"),
        "std": meta.get("std"),
        "classes": meta.get("classes") or [str(i) for i in range(stored.num_classes)],
        "input": "float32 (N, C, H, W): pixels / 255, minus mean, divided by std, per channel",
    }


README = """# EvoLab individual {number} of experiment {experiment}

Validation accuracy {val_accuracy}, test accuracy {test_accuracy}, {params} parameters,
dataset `{dataset}`, classes {classes}. Trained {own_steps} steps itself and {lineage_steps}
along its lineage (it and its ancestors: a child starts from its parent's weights); in
metrics.json `steps` is that lineage total, as is `lineage_steps`, and `own_steps` its own.

Files: `model.pt` (a torch.export program: needs only PyTorch), `model.safetensors` (weights;
the architecture is `dna.json`, built by EvoLab's `build_network`), {onnx}`metrics.json`.

The model expects float32 images (N, C, H, W) = (N, {shape}), scaled to [0, 1] and
normalised per channel with the mean and std in metrics.json; it returns logits.

```python
import json, torch
m = json.load(open("metrics.json")); model = torch.export.load(open("model.pt", "rb")).module()
mean, std = (torch.tensor(m[k]).view(1, -1, 1, 1) for k in ("mean", "std"))
image = torch.randint(0, 256, (1, *m["in_shape"])).float()  # your uint8 image, C x H x W
print(m["classes"][model((image / 255 - mean) / std).argmax(1).item()])
```
"""

ENSEMBLE_README = """# EvoLab ensemble of experiment {experiment}: top {k} by validation accuracy

Ensemble test accuracy {ensemble_test_accuracy}. Each member is in `members/<number>/`
with the same files as a single-model bundle. The ensemble votes: each model's argmax is
one vote, ties go to the larger mean softmax probability.

```python
import json, torch
e = json.load(open("ensemble.json"))
mean, std = (torch.tensor(e[k]).view(1, -1, 1, 1) for k in ("mean", "std"))
models = [torch.export.load(open(f"members/{{n}}/model.pt", "rb")).module() for n in e["members"]]
x = (torch.randint(0, 256, (1, *e["in_shape"])).float() / 255 - mean) / std  # your images
logits = torch.stack([m(x) for m in models])
votes = torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).sum(0)
print([e["classes"][c] for c in (votes + 0.5 * logits.softmax(-1).mean(0)).argmax(-1)])
```
"""


def _stem(ind: Individual) -> str:
    return f"evolab-{ind.experiment_id}-{ind.number}"


def _attachment(body: bytes | Any, filename: str, content_type: str) -> HttpResponse:
    if isinstance(body, bytes | str):
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    return FileResponse(body, as_attachment=True, filename=filename, content_type=content_type)


def _readme(stored: Stored, info: dict, has_onnx: bool) -> str:
    return README.format(
        **info,
        shape=", ".join(map(str, info["in_shape"])),
        onnx="`model.onnx` (ONNX, input `image`, output `logits`), " if has_onnx else "",
    )


def _write_individual(archive: zipfile.ZipFile, stored: Stored, prefix: str = "") -> dict:
    info = metrics(stored)
    archive.writestr(prefix + "model.safetensors", stored.raw, zipfile.ZIP_STORED)
    archive.writestr(prefix + "dna.json", json.dumps(stored.individual.dna, indent=2))
    archive.writestr(prefix + "model.pt", exported_program(stored), zipfile.ZIP_STORED)
    has_onnx = True
    try:
        archive.writestr(prefix + "model.onnx", onnx_model(stored), zipfile.ZIP_STORED)
    except NotExportable:
        has_onnx = False
    archive.writestr(prefix + "metrics.json", json.dumps({**info, "onnx": has_onnx}, indent=2))
    archive.writestr(prefix + "README.md", _readme(stored, info, has_onnx))
    return info


def _spooled_zip(fill) -> tempfile.SpooledTemporaryFile:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
        fill(archive)
    spool.seek(0)
    return spool


def individual_download(ind: Individual, fmt: str) -> HttpResponse:
    """One individual as `fmt` (one of FORMATS); 404 when its weights were not kept."""
    if fmt not in FORMATS:
        raise ValidationError({"format": [f"Choose one of: {', '.join(FORMATS)}."]})
    stem = _stem(ind)
    if fmt == "dna":
        return _attachment(json.dumps(ind.dna, indent=2), f"{stem}.dna.json", "application/json")
    stored = load_stored(ind)
    if fmt == "safetensors":
        return _attachment(stored.raw, f"{stem}.safetensors", "application/octet-stream")
    if fmt == "torchscript":
        return _attachment(exported_program(stored), f"{stem}.pt", "application/octet-stream")
    if fmt == "onnx":
        try:
            return _attachment(onnx_model(stored), f"{stem}.onnx", "application/octet-stream")
        except NotExportable as exc:
            raise Http404(str(exc)) from None
    spool = _spooled_zip(lambda archive: _write_individual(archive, stored))
    return _attachment(spool, f"{stem}.zip", "application/zip")


def ensemble_members(exp: Experiment) -> list[Individual]:
    """The top-k (config `ensemble_k`) by validation accuracy among those with weights."""
    k = max(int(exp.config.get("ensemble_k", 2)), 1)
    return list(
        exp.individuals.exclude(weights="")
        .exclude(val_accuracy=None)
        .order_by("-val_accuracy", "number")[:k]
    )


def ensemble_download(exp: Experiment) -> HttpResponse:
    members = ensemble_members(exp)
    if not members:
        raise Http404("No trained individual with weights yet.")
    stored = [load_stored(ind) for ind in members]

    def fill(archive: zipfile.ZipFile) -> None:
        infos = [_write_individual(archive, s, f"members/{s.individual.number}/") for s in stored]
        summary = {
            "experiment": exp.pk,
            "members": [s.individual.number for s in stored],
            "member_ids": [s.individual.pk for s in stored],
            "val_accuracy": [i["val_accuracy"] for i in infos],
            "ensemble_test_accuracy": exp.ensemble_test_accuracy,
            **{k: infos[0][k] for k in ("dataset", "in_shape", "mean", "std", "classes")},
        }
        archive.writestr("ensemble.json", json.dumps(summary, indent=2))
        archive.writestr(
            "README.md",
            ENSEMBLE_README.format(
                experiment=exp.pk, k=len(stored), ensemble_test_accuracy=exp.ensemble_test_accuracy
            ),
        )

    spool = _spooled_zip(fill)
    return _attachment(spool, f"evolab-{exp.pk}-ensemble.zip", "application/zip")
