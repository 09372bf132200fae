"""Downloads: a bundle that runs with plain PyTorch, single files, the top-k ensemble."""

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import torch
from django.core.files.storage import default_storage

from evolab.experiments.models import Individual
from evolab.experiments.storage import derived_name

from .conftest import api, store_individual

ROOT = Path(__file__).resolve().parents[3]
PYTHON_BLOCKS = re.compile(r"```python\n(.*?)```", re.S)


def unzip(response) -> zipfile.ZipFile:
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    return zipfile.ZipFile(io.BytesIO(body))


def test_the_bundle_holds_every_file_and_its_program_runs(viewer, exp):
    ind = store_individual(exp, 0, 0.7)
    r = api(viewer).get(f"/api/individuals/{ind.pk}/download/")
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    archive = unzip(r)
    names = set(archive.namelist())
    assert names == {
        "model.safetensors", "dna.json", "model.pt", "model.torchscript.pt", "model.onnx",
        "metrics.json", "README.md", "predict.py",
    }  # fmt: skip
    metrics = json.loads(archive.read("metrics.json"))
    assert metrics["val_accuracy"] == 0.7 and metrics["mean"] == [0.3] and metrics["std"] == [0.4]
    assert metrics["lineage"] == [ind.pk] and len(metrics["classes"]) == 10
    program = torch.export.load(io.BytesIO(archive.read("model.pt"))).module()
    assert program(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert "torch.export.load" in archive.read("README.md").decode()


def test_exports_are_cached_next_to_the_weights_by_format(viewer, exp):
    """An `.export.pt` cached when `torchscript` returned the torch.export program is served
    as `exported-program` only: `torchscript` makes and caches a real TorchScript file."""
    ind = store_individual(exp, 0)
    client = api(viewer)
    client.get(f"/api/individuals/{ind.pk}/download/?format=onnx")
    assert default_storage.exists(derived_name(ind.weights, "onnx"))
    program = client.get(f"/api/individuals/{ind.pk}/download/?format=exported-program")
    assert program.status_code == 200 and "evolab-" in program["Content-Disposition"]
    assert program["Content-Disposition"].endswith('-0.pt2"')
    with default_storage.open(derived_name(ind.weights, "exported-program"), "rb") as fh:
        assert fh.read() == program.content
    script = client.get(f"/api/individuals/{ind.pk}/download/?format=torchscript")
    assert script.status_code == 200 and script.content != program.content
    names = zipfile.ZipFile(io.BytesIO(script.content)).namelist()
    assert any(n.endswith("constants.pkl") for n in names), names  # what torch.jit.load reads
    assert default_storage.exists(derived_name(ind.weights, "torchscript"))


def test_single_files_have_their_size_and_name(viewer, exp):
    ind = store_individual(exp, 3)
    client = api(viewer)
    for fmt, suffix in [("safetensors", ".safetensors"), ("dna", ".dna.json"), ("onnx", ".onnx"),
                        ("torchscript", ".torchscript.pt")]:  # fmt: skip
        r = client.get(f"/api/individuals/{ind.pk}/download/?format={fmt}")
        assert r.status_code == 200, fmt
        assert f'evolab-{exp.pk}-3{suffix}"' in r["Content-Disposition"]
        assert int(r["Content-Length"]) == len(r.content)


def test_an_individual_whose_weights_are_gone_is_a_404_but_its_dna_is_not(viewer, exp):
    ind = store_individual(exp, 0)
    Individual.objects.filter(pk=ind.pk).update(weights="", weights_size=0, state="dead")
    client = api(viewer)
    assert client.get(f"/api/individuals/{ind.pk}/download/").status_code == 404
    assert client.get(f"/api/individuals/{ind.pk}/download/?format=dna").status_code == 200


def test_an_unknown_format_is_a_400(viewer, exp):
    ind = store_individual(exp, 0)
    r = api(viewer).get(f"/api/individuals/{ind.pk}/download/?format=pickle")
    assert r.status_code == 400 and "format" in r.json()


def test_the_ensemble_bundle_has_the_top_k_members(viewer, exp):
    for n, acc in enumerate([0.2, 0.9, 0.5]):
        store_individual(exp, n, acc)
    r = api(viewer).get(f"/api/experiments/{exp.pk}/download/?format=ensemble")
    archive = unzip(r)
    summary = json.loads(archive.read("ensemble.json"))
    assert summary["members"] == [1, 2]
    assert "members/1/model.pt" in archive.namelist()


def test_another_team_cannot_download(outsider, exp):
    ind = store_individual(exp, 0)
    client = api(outsider)
    assert client.get(f"/api/individuals/{ind.pk}/download/").status_code == 404
    assert client.get(f"/api/experiments/{exp.pk}/download/").status_code == 404


def test_metrics_say_which_steps_are_the_lineage_s_and_which_its_own(viewer, exp):
    parent = store_individual(exp, 0)
    child = store_individual(exp, 1, parent=parent)
    Individual.objects.filter(pk=parent.pk).update(steps=300)
    Individual.objects.filter(pk=child.pk).update(steps=600)  # 300 of its own + its parent's
    archive = unzip(api(viewer).get(f"/api/individuals/{child.pk}/download/"))
    metrics = json.loads(archive.read("metrics.json"))
    assert metrics["steps"] == metrics["lineage_steps"] == 600 and metrics["own_steps"] == 300
    assert metrics["lineage"] == [child.pk, parent.pk]
    assert "300 steps itself and 600" in archive.read("README.md").decode()


def test_the_readme_examples_run_with_only_torch_and_print_no_warning(viewer, exp, tmp_path):
    """README.md's example (on a bundle unzipped to best/), the bundle's and the ensemble's,
    each in a separate `python -I` that can import nothing of EvoLab."""
    best = store_individual(exp, 0, 0.9)
    store_individual(exp, 1, 0.5)
    client = api(viewer)
    unzip(client.get(f"/api/individuals/{best.pk}/download/")).extractall(tmp_path / "best")
    ensemble = client.get(f"/api/experiments/{exp.pk}/download/?format=ensemble")
    unzip(ensemble).extractall(tmp_path / "ensemble")
    readme = next(b for b in PYTHON_BLOCKS.findall((ROOT / "README.md").read_text())
                  if "best/model.pt" in b)  # fmt: skip
    examples = {
        "README.md": (readme, tmp_path),
        "bundle": (PYTHON_BLOCKS.findall((tmp_path / "best/README.md").read_text())[0],
                   tmp_path / "best"),
        "ensemble": (PYTHON_BLOCKS.findall((tmp_path / "ensemble/README.md").read_text())[0],
                     tmp_path / "ensemble"),
    }  # fmt: skip
    for name, (code, cwd) in examples.items():
        result = subprocess.run(
            [sys.executable, "-I", "-c", code], cwd=cwd, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert result.returncode == 0 and result.stdout.strip(), (name, result.stderr[-3000:])
        assert result.stderr == "", (name, result.stderr[-3000:])


def test_the_schema_and_the_client_name_every_format_the_server_takes(client, member):
    """The OpenAPI enum, the Python client and the server accept the same formats: every
    name accepted before (a contract) and exported-program."""
    from evolab.client import DOWNLOAD_FORMATS
    from evolab.experiments.downloads import FORMATS

    client.force_login(member)
    r = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = json.loads(r.content)
    params = schema["paths"]["/api/individuals/{id}/download/"]["get"]["parameters"]
    (enum,) = [p["schema"]["enum"] for p in params if p["name"] == "format"]
    assert set(enum) == set(FORMATS) == set(DOWNLOAD_FORMATS)
    assert {"bundle", "safetensors", "torchscript", "onnx", "dna", "exported-program"} <= set(enum)
