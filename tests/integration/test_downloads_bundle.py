"""A downloaded bundle runs without EvoLab: a separate Python process with only torch
(and onnxruntime) loads every format and reproduces the stored validation accuracy."""

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from evolab.datasets import load_dataset

from .harness import wait_for

pytestmark = pytest.mark.integration

CONFIG = {"dataset": "digits", "population": 3, "workers": 1, "steps_per_child": 20,
          "max_individuals": 5, "seed": 3}  # fmt: skip

# Runs with `python -I` from the bundle's folder: evolab cannot be imported there.
STANDALONE = r"""
import json, sys
import numpy as np, onnxruntime, torch
from safetensors.torch import load_file
assert "evolab" not in sys.modules
m = json.load(open("metrics.json"))
mean, std = (torch.tensor(m[k]).view(1, -1, 1, 1) for k in ("mean", "std"))
x = torch.from_numpy(np.load("val_x.npy")).float()
x = (x / 255 - mean) / std
y = torch.from_numpy(np.load("val_y.npy"))
def accuracy(logits):
    return (torch.as_tensor(logits).argmax(1) == y).float().mean().item()
program = torch.export.load("model.pt").module()
out = {"torch.export": accuracy(program(x))}
fresh = torch.export.load("model.pt").module()
for p in fresh.parameters():
    torch.nn.init.zeros_(p)
missing = fresh.load_state_dict(load_file("model.safetensors"), strict=False)
assert not missing.unexpected_keys, missing
out["safetensors"] = accuracy(fresh(x))
session = onnxruntime.InferenceSession("model.onnx")
out["onnx"] = accuracy(session.run(None, {"image": x.numpy()})[0])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def bundle(stack, tmp_path_factory):
    s = stack.session("vic")  # a viewer may download
    mia = stack.session("mia")
    exp = stack.create(mia, CONFIG, name="bundle")
    body = stack.wait_status(mia, exp["id"], ("finished",), timeout=180)
    best = s.get(f"{stack.url}/api/individuals/{body['best']['id']}/", timeout=10).json()
    r = s.get(f"{stack.url}/api/individuals/{best['id']}/download/?format=bundle", timeout=120)
    assert r.status_code == 200, r.text
    assert int(r.headers["Content-Length"]) == len(r.content)
    folder = tmp_path_factory.mktemp("bundle")
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(folder)
    return stack, s, best, folder


def test_the_bundle_has_every_file(bundle):
    _, _, best, folder = bundle
    names = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "dna.json", "model.pt", "model.onnx"} <= names
    assert {"metrics.json", "README.md", "predict.py", "model.torchscript.pt"} <= names
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["val_accuracy"] == best["val_accuracy"] and metrics["dataset"] == "digits"
    assert metrics["lineage"][0] == best["id"] and len(metrics["classes"]) == 10


def isolated(code: str, folder) -> str:
    """stdout of `code` in a `python -I` (no EvoLab on the path) run in `folder`."""
    result = subprocess.run([sys.executable, "-I", "-c", code], cwd=folder, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_every_format_reproduces_the_validation_accuracy_with_only_torch(bundle):
    _, _, best, folder = bundle
    data = load_dataset("digits", None, CONFIG["seed"])
    np.save(folder / "val_x.npy", data.val_x.numpy())
    np.save(folder / "val_y.npy", data.val_y.numpy())
    accuracies = json.loads(isolated(STANDALONE, folder).strip().splitlines()[-1])
    assert accuracies == {k: best["val_accuracy"] for k in ("torch.export", "safetensors", "onnx")}


def test_the_ensemble_and_single_files_download(bundle):
    stack, s, best, _ = bundle
    exp_id = s.get(f"{stack.url}/api/individuals/{best['id']}/", timeout=10).json()["experiment"]
    r = s.get(f"{stack.url}/api/experiments/{exp_id}/download/?format=ensemble", timeout=120)
    assert (
        r.status_code == 200
        and "ensemble.json" in zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    )
    for fmt in ("safetensors", "torchscript", "exported-program", "onnx", "dna"):
        r = s.get(f"{stack.url}/api/individuals/{best['id']}/download/?format={fmt}", timeout=60)
        assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(r.content), fmt


# predict.py as a user runs it, in a `python -I` from the unzipped bundle, with numpy and
# onnxruntime made unimportable too: torch alone. Then the ensemble bundle's predict.py.
PREDICT_WITH_TORCH_ONLY = """
import runpy, sys
sys.modules.update(numpy=None, onnxruntime=None, evolab=None)
for script, images in (("predict.py", "test_x.npy"), ("ensemble/predict.py", "test_x.npy"),
                       ("predict.py", "first.png")):
    sys.argv = [script, images, "--json"]
    runpy.run_path(script, run_name="__main__")
"""


def test_predict_py_with_torch_only_scores_the_stored_test_accuracies(bundle):
    """On the run's own test images, as the dataset's files hold them (scikit-learn's digits:
    values 0..16, not 0..255), predict.py reproduces the test accuracy EvoLab recorded for
    the best individual, and the ensemble bundle's predict.py the ensemble's."""
    stack, s, best, folder = bundle
    url = f"{stack.url}/api/experiments/{best['experiment']}/"
    run = wait_for(  # written after the best individual's (workers/child.py)
        lambda: (body := s.get(url, timeout=10).json())["ensemble_test_accuracy"] and body,
        120, "the test evaluation",
    )  # fmt: skip
    individual = s.get(f"{stack.url}/api/individuals/{best['id']}/", timeout=10).json()
    tested = individual["test_accuracy"]
    r = s.get(f"{stack.url}/api/experiments/{run['id']}/download/?format=ensemble", timeout=120)
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(folder / "ensemble")
    data = load_dataset("digits", None, CONFIG["seed"])  # the split the run tested on
    stored = data.test_x.numpy()
    raw = np.rint(stored * (16 / 255))  # back to scikit-learn's values: exact, checked here
    assert raw.max() == 16 and (np.rint(raw * (255 / 16)) == stored).all()
    np.save(folder / "test_x.npy", raw)
    Image.fromarray(stored[0, 0]).save(folder / "first.png")  # an 8-bit image file: 0..255
    single, ensemble, png = isolated(PREDICT_WITH_TORCH_ONLY, folder).strip().splitlines()
    assert json.loads(png)[0]["class"] == json.loads(single)[0]["class"]
    for output, accuracy in ((single, tested), (ensemble, run["ensemble_test_accuracy"])):
        predicted = np.array([row["class"] for row in json.loads(output)])
        assert len(predicted) == len(data.test_y) == 359
        correct = int((predicted == data.test_y.numpy()).sum())
        assert correct == round(accuracy * len(predicted)), (correct, accuracy)
