"""Imports: a DNA (JSON) and its weights (safetensors) are the only files accepted from users.
Every hostile or malformed file is refused with a clear message and changes nothing."""

import io
import json
import pickle
import random
import resource
import struct
import zipfile

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from safetensors.torch import save

from evolab.evolution.dna import DNA
from evolab.evolution.mutations import apply_mutation
from evolab.evolution.network import build_network
from evolab.experiments import services
from evolab.experiments.models import Event, Individual, Status

from .conftest import api


@pytest.fixture
def queued(team, member):
    return services.create_experiment(
        team, member, "seeded", {"population": 3, "max_individuals": 6}
    )


def seed_dna() -> DNA:
    return apply_mutation(DNA.initial(), "INSERT-CONVOLUTION", random.Random(1)).dna


def dna_file(dna=None, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps((dna or seed_dna()).to_json()).encode()
    return SimpleUploadedFile("dna.json", body, content_type="application/json")


def weights_for(dna: DNA) -> bytes:
    return save(build_network(dna, (1, 8, 8), 10).state_dict())


def upload(user, exp, dna, weights=None):
    files = {"dna": dna}
    if weights is not None:
        files["weights"] = SimpleUploadedFile("w.safetensors", weights)
    return api(user).post(f"/api/experiments/{exp.pk}/seed/", files, format="multipart")


def header(tensors: dict, body: bytes = b"") -> bytes:
    text = json.dumps(tensors).encode()
    return struct.pack("<Q", len(text)) + text + body


def test_a_dna_with_its_weights_joins_the_initial_population(queued, member):
    dna = seed_dna()
    r = upload(member, queued, dna_file(dna), weights_for(dna))
    assert r.status_code == 201, r.json()
    ind = Individual.objects.get(experiment=queued)
    assert ind.number == 0 and ind.parent is None and ind.weights
    assert DNA.from_json(ind.dna) == dna
    queued.refresh_from_db()
    assert queued.individuals_created == 1
    assert Event.objects.filter(experiment=queued, kind="started").count() == 1


def torch_save_zip() -> bytes:
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buffer)
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("model.pt", b"x")
    return buffer.getvalue()


HOSTILE_WEIGHTS = {
    "pickle": (pickle.dumps({"w": 1}), "pickle is refused"),
    "torch.save": (torch_save_zip(), "zip archive"),
    "TorchScript-like zip": (plain_zip(), "zip archive"),
    "ONNX": (b"\x08\x07\x12\x07pytorch\x1a\x03onnx" + b"\0" * 64, "refused"),
    "empty": (b"", "empty"),
    "shorter than its header length": (b"\x01\x02", "not a safetensors file"),
    "header length beyond the file": (struct.pack("<Q", 10**12) + b"{}", "too large"),
    "header not JSON": (struct.pack("<Q", 4) + b"nope", "not JSON"),
    "header not an object": (header([1, 2]), "not an object"),
    "unknown dtype": (
        header({"w": {"dtype": "OBJ", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8),
        "dtype",
    ),
    "offsets outside the file": (
        header({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8),
        "outside the file",
    ),
    "size does not match the shape": (
        header({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
        "does not match",
    ),
    "overlapping tensors": (
        header(
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            b"\0" * 12,
        ),
        "overlap",
    ),
    "metadata not a string map": (header({"__metadata__": {"format": 1}}), "__metadata__"),
    "a gap between tensors": (
        header(
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]},
            },
            b"\0" * 20,
        ),
        "between or after",
    ),
    "bytes after the last tensor": (
        header({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 12),
        "between or after",
    ),
    "no tensors at all": (header({}), "do not fit"),
    "the right tensors in the wrong shapes": (
        save(
            {
                k: v.reshape(-1)
                for k, v in build_network(seed_dna(), (1, 8, 8), 10).state_dict().items()
            }
        ),
        "wrong shape",
    ),
    "tensors of another network": (
        save({"convs.e9.weight": torch.zeros(1, 1, 3, 3)}),
        "do not fit",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_WEIGHTS))
def test_hostile_weights_are_refused_and_change_nothing(name, queued, member):
    data, message = HOSTILE_WEIGHTS[name]
    r = upload(member, queued, dna_file(), data)
    assert r.status_code == 400 and message in str(r.json()["weights"]), r.json()
    assert not Individual.objects.filter(experiment=queued).exists()
    queued.refresh_from_db()
    assert queued.individuals_created == 0


def huge_dna() -> DNA:
    """Within the engine's limits (three 11x11 convs, up to 2,048 channels: ~523M
    parameters, ~6 GiB to train), so only the weights can be refused."""
    conv = {"kind": "conv", "backbone": True, "filter_h": 11.0, "filter_w": 11.0}
    edges = [
        {"id": "e1", "src": "v0", "dst": "v2", "channel_factor": 64.0, "stride_log2": 1.0},
        {"id": "e2", "src": "v2", "dst": "v3", "channel_factor": 32.0, "stride_log2": 1.0},
        {"id": "e3", "src": "v3", "dst": "v1", "channel_factor": 1.0, "stride_log2": 1.0},
    ]
    vertices = [{"id": v, "role": r, "activation": "linear"}
                for v, r in (("v0", "input"), ("v2", "hidden"), ("v3", "hidden"),
                             ("v1", "output"))]  # fmt: skip
    edges = [{**conv, **e} for e in edges]
    return DNA.from_json(
        {"schema": 1, "learning_rate": 0.1, "next_id": 4, "vertices": vertices, "edges": edges}
    )


def test_checking_weights_for_a_huge_dna_allocates_no_parameters(queued, member):
    """The network is built on the meta device: ~2 GiB of float32 it would have been."""
    dna = huge_dna()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = upload(member, queued, dna_file(dna), header({}))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert r.status_code == 400 and "do not fit" in str(r.json()["weights"]), r.json()
    assert grown_mib < 300, grown_mib
    assert not Individual.objects.filter(experiment=queued).exists()


@pytest.mark.parametrize(
    "raw,message",
    [
        (pickle.dumps({"edges": []}), "pickle is refused"),
        (b"{not json", "invalid DNA"),
        (json.dumps({"schema": 1, "vertices": "x"}).encode(), "invalid DNA"),
        (b"[" * 100_000, "invalid DNA"),
        (b" " * 1_000_001, "over"),
    ],
)
def test_hostile_dna_is_refused_and_changes_nothing(raw, message, queued, member):
    r = upload(member, queued, dna_file(raw=raw))
    assert r.status_code == 400 and message in str(r.json()["dna"])
    assert not Individual.objects.filter(experiment=queued).exists()


def test_a_started_run_takes_no_imports(queued, member):
    queued.status = Status.RUNNING
    queued.save()
    r = upload(member, queued, dna_file())
    assert r.status_code == 400 and "before a run starts" in str(r.json())


def test_viewers_and_other_teams_cannot_import(queued, viewer, outsider):
    assert upload(viewer, queued, dna_file()).status_code == 403
    assert upload(outsider, queued, dna_file()).status_code == 404
    assert not Individual.objects.filter(experiment=queued).exists()
