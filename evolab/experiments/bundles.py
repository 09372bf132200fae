"""The zip bundles: one individual, or the top-k ensemble, ready to run without EvoLab.

A bundle holds model.safetensors (the stored checkpoint), dna.json, model.torchscript.pt
(TorchScript: `torch.jit.load`), model.pt (a torch.export program: `torch.export.load`; the
name is kept from before TorchScript was offered), model.onnx when the architecture exports,
metrics.json (with `preprocessing`, the machine-readable spec of the input:
evolab/datasets/preprocessing.py), predict.py (the class of an image file or a .npy array,
with torch or onnxruntime only) and a README.md; the ensemble holds one such folder per
member under members/<number>/, plus ensemble.json and predict.py at the top.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from evolab.datasets.preprocessing import input_spec
from evolab.datasets.uploads import parse_name

from .exports import NotExportable
from .models import Experiment, Individual, TeamDataset

SPOOL_BYTES = 32 * 2**20  # bundles above this spill from memory to a temporary file
PREDICT = Path(__file__).with_name("bundle_predict.py")


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


def preprocessing(dataset: str, in_shape, mean, std) -> dict:
    """The input spec of `dataset` (an upload's kind looked up: its files were decoded by it)."""
    upload = parse_name(dataset or "")
    kind = None
    if upload is not None:
        kind = TeamDataset.objects.filter(pk=upload).values_list("kind", flat=True).first()
    return input_spec(dataset or "", in_shape, mean, std, kind)


def metrics(stored) -> dict[str, Any]:
    """metrics.json. `steps` (kept: a contract) is the training steps of the whole lineage,
    the individual's own and every ancestor's (Individual.steps); `lineage_steps` says the
    same by its name and `own_steps` is what this individual was trained itself."""
    ind, meta = stored.individual, stored.metadata
    ancestors_steps = ind.parent.steps if ind.parent_id is not None else 0
    dataset = meta.get("dataset", ind.experiment.config.get("dataset"))
    mean, std = meta.get("mean"), meta.get("std")
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
        "dataset": dataset,
        "in_shape": list(stored.in_shape),
        "mean": mean,
        "std": std,
        "classes": meta.get("classes") or [str(i) for i in range(stored.num_classes)],
        "input": "float32 (N, C, H, W): 8-bit pixels / 255, minus mean, divided by std, per "
        "channel; `preprocessing` says how the dataset's own values become those pixels",
        "preprocessing": preprocessing(dataset, stored.in_shape, mean, std),
    }


USAGE = """```sh
python predict.py image.png          # an image file (needs Pillow), or:
python predict.py images.npy         # one image or a batch, values {lo:g}..{hi:g} as in {dataset}
```"""

README = """# EvoLab individual {number} of experiment {experiment}

Validation accuracy {val_accuracy}, test accuracy {test_accuracy}, {params} parameters,
dataset `{dataset}`, classes {classes}. Trained {own_steps} steps itself and {lineage_steps}
along its lineage (it and its ancestors: a child starts from its parent's weights); in
metrics.json `steps` is that lineage total, as is `lineage_steps`, and `own_steps` its own.

**Run it** (PyTorch only; without PyTorch it uses onnxruntime and `model.onnx`):

{usage}

Files: `predict.py`, `model.torchscript.pt` (TorchScript: `torch.jit.load`), `model.pt` (a
torch.export program: `torch.export.load`), `model.safetensors` (weights; the architecture is
`dna.json`, built by EvoLab's `build_network`), {onnx}`metrics.json`.

The models take float32 images (N, C, H, W) = (N, {shape}): 8-bit pixels (0..255) / 255,
normalised per channel with the mean and std in metrics.json; they return logits.
`preprocessing` in metrics.json says how this dataset's values become those pixels: its
files hold values {lo:g}..{hi:g} ({source}), rounded to 8 bits as `round((x - {lo:g}) * 255 /
{span:g})`. predict.py applies all of it.

```python
import json, torch
m = json.load(open("metrics.json")); model = torch.export.load(open("model.pt", "rb")).module()
lo, hi = m["preprocessing"]["raw_range"]
mean, std = (torch.tensor(m[k]).view(1, -1, 1, 1) for k in ("mean", "std"))
x = torch.randint(int(lo), int(hi) + 1, (1, *m["in_shape"])).double()  # your images, raw values
pixels = ((x - lo) * (255 / (hi - lo))).round().float()
print(m["classes"][model((pixels / 255 - mean) / std).argmax(1).item()])
```
"""

ENSEMBLE_README = """# EvoLab ensemble of experiment {experiment}: top {k} by validation accuracy

Ensemble test accuracy {ensemble_test_accuracy}. Each member is in `members/<number>/`
with the same files as a single-model bundle. The ensemble votes: each model's argmax is
one vote, ties go to the larger mean softmax probability. predict.py does it all:

{usage}

```python
import json, torch
e = json.load(open("ensemble.json"))
mean, std = (torch.tensor(e[k]).view(1, -1, 1, 1) for k in ("mean", "std"))
models = [torch.export.load(open(f"members/{{n}}/model.pt", "rb")).module() for n in e["members"]]
x = (torch.randint(0, 256, (1, *e["in_shape"])).float() / 255 - mean) / std  # 8-bit pixels
logits = torch.stack([m(x) for m in models])
votes = torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).sum(0)
print([e["classes"][c] for c in (votes + 0.5 * logits.softmax(-1).mean(0)).argmax(-1)])
```
"""


def _usage(info: dict) -> str:
    lo, hi = info["preprocessing"]["raw_range"]
    return USAGE.format(lo=lo, hi=hi, dataset=info["dataset"])


def _readme(info: dict, has_onnx: bool) -> str:
    lo, hi = info["preprocessing"]["raw_range"]
    return README.format(
        **info,
        usage=_usage(info),
        shape=", ".join(map(str, info["in_shape"])),
        onnx="`model.onnx` (ONNX, input `image`, output `logits`), " if has_onnx else "",
        lo=lo,
        hi=hi,
        span=hi - lo,
        source=info["preprocessing"]["source"],
    )


def write_individual(archive: zipfile.ZipFile, stored, files, prefix: str = "") -> dict:
    """One individual's files under `prefix`; `files(stored, fmt)` makes or reads an export."""
    info = metrics(stored)
    archive.writestr(prefix + "model.safetensors", stored.raw, zipfile.ZIP_STORED)
    archive.writestr(prefix + "dna.json", json.dumps(stored.individual.dna, indent=2))
    archive.writestr(prefix + "model.torchscript.pt", files(stored, "torchscript"),
                     zipfile.ZIP_STORED)  # fmt: skip
    archive.writestr(prefix + "model.pt", files(stored, "exported-program"), zipfile.ZIP_STORED)
    has_onnx = True
    try:
        archive.writestr(prefix + "model.onnx", files(stored, "onnx"), zipfile.ZIP_STORED)
    except NotExportable:
        has_onnx = False
    archive.writestr(prefix + "metrics.json", json.dumps({**info, "onnx": has_onnx}, indent=2))
    archive.writestr(prefix + "README.md", _readme(info, has_onnx))
    if not prefix:
        archive.writestr("predict.py", PREDICT.read_text())
    return info


def spooled_zip(fill) -> tempfile.SpooledTemporaryFile:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
        fill(archive)
    spool.seek(0)
    return spool


def individual_bundle(stored, files) -> tempfile.SpooledTemporaryFile:
    return spooled_zip(lambda archive: write_individual(archive, stored, files))


def ensemble_bundle(exp: Experiment, stored: list, files) -> tempfile.SpooledTemporaryFile:
    def fill(archive: zipfile.ZipFile) -> None:
        infos = [write_individual(archive, s, files, f"members/{s.individual.number}/")
                 for s in stored]  # fmt: skip
        keys = ("dataset", "in_shape", "mean", "std", "classes", "preprocessing")
        summary = {
            "experiment": exp.pk,
            "members": [s.individual.number for s in stored],
            "member_ids": [s.individual.pk for s in stored],
            "val_accuracy": [i["val_accuracy"] for i in infos],
            "ensemble_test_accuracy": exp.ensemble_test_accuracy,
            **{k: infos[0][k] for k in keys},
        }
        archive.writestr("ensemble.json", json.dumps(summary, indent=2))
        archive.writestr("predict.py", PREDICT.read_text())
        archive.writestr(
            "README.md",
            ENSEMBLE_README.format(
                experiment=exp.pk,
                k=len(stored),
                ensemble_test_accuracy=exp.ensemble_test_accuracy,
                usage=_usage(infos[0]),
            ),
        )

    return spooled_zip(fill)
