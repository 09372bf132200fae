"""TorchScript, the torch.export program and ONNX, as the API sends them, open in a separate
`python -I` process that has nothing of EvoLab, with torch.jit.load, torch.export.load and
onnxruntime, and give the outputs of the product's own network on the same images."""

import random
import subprocess
import sys

import numpy as np
import torch

from evolab.evolution.dna import DNA
from evolab.evolution.mutations import apply_mutation
from evolab.experiments.downloads import load_stored

from .conftest import api, store_individual

OPEN = r"""
import sys, warnings
import numpy as np, onnxruntime, torch
assert "evolab" not in sys.modules
x = torch.from_numpy(np.load("x.npy"))
with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # torch 2.14 deprecates torch.jit
    script = torch.jit.load("model.pt")
program = torch.export.load("model.pt2").module()
session = onnxruntime.InferenceSession("model.onnx")
np.save("torchscript.npy", script(x).detach().numpy())
np.save("exported-program.npy", program(x).detach().numpy())
np.save("onnx.npy", session.run(None, {"image": x.numpy()})[0])
"""


def convolutional_dna() -> DNA:
    """Three convs and a skip connection: reshapes, sums and batch norms to trace."""
    rng, dna = random.Random(4), DNA.initial()
    for name in ("INSERT-CONVOLUTION", "INSERT-CONVOLUTION", "INSERT-CONVOLUTION", "ADD-SKIP"):
        dna = apply_mutation(dna, name, rng).dna
    return dna


def test_each_export_opens_in_plain_torch_and_gives_the_network_s_outputs(viewer, exp, tmp_path):
    ind = store_individual(exp, 0, dna=convolutional_dna())
    client = api(viewer)
    files = {"torchscript": "model.pt", "exported-program": "model.pt2", "onnx": "model.onnx"}
    for fmt, name in files.items():
        r = client.get(f"/api/individuals/{ind.pk}/download/?format={fmt}")
        assert r.status_code == 200, (fmt, r.content[:200])
        (tmp_path / name).write_bytes(r.content)
    x = torch.randn(5, 1, 8, 8)  # a batch size other than the one traced and exported with
    np.save(tmp_path / "x.npy", x.numpy())
    result = subprocess.run(
        [sys.executable, "-I", "-c", OPEN], cwd=tmp_path, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with torch.no_grad():
        expected = load_stored(ind).model()(x)
    for fmt in files:
        got = torch.from_numpy(np.load(tmp_path / f"{fmt}.npy"))
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5, msg=fmt)
