"""GET /api/datasets/: what is installed, for any signed-in user; the split a run records."""

from dataclasses import replace

import pytest

from evolab.datasets import idx
from tests.unit.workers.idx_files import N_TEST, N_TRAIN, write_set

from .conftest import api


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path, monkeypatch):
    fmt = replace(idx.FORMATS["fashion-mnist"], package_dir=tmp_path / "no-package")
    monkeypatch.setitem(idx.FORMATS, "fashion-mnist", fmt)
    settings.EVOLAB_DATA_DIR = tmp_path / "data"
    settings.EVOLAB_DATA_DIR.mkdir()
    return settings.EVOLAB_DATA_DIR


def _listing(user) -> dict:
    r = api(user).get("/api/datasets/")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == len(body["results"])
    return {d["name"]: d for d in body["results"]}


def test_it_lists_ready_and_missing_sets_without_server_paths(member, data_dir):
    write_set(data_dir / "FashionMNIST" / "raw", gz=True)
    listed = _listing(member)
    fashion, mnist = listed["fashion-mnist"], listed["mnist"]
    assert fashion["state"] == "ready" and fashion["shape"] == [1, 28, 28]
    assert (fashion["train"], fashion["val"], fashion["test"]) == (N_TRAIN - 6, 6, N_TEST)
    assert fashion["num_classes"] == 10 and fashion["source"] == "EVOLAB_DATA_DIR/FashionMNIST/raw"
    assert mnist["state"] == "missing"
    assert "EVOLAB_DATA_DIR/MNIST/raw/t10k-labels-idx1-ubyte[.gz]" in mnist["expected"]
    assert str(data_dir) not in str(listed)


def test_every_signed_in_user_sees_the_same_list_and_anonymous_none(member, outsider, viewer):
    assert _listing(member) == _listing(outsider) == _listing(viewer)
    assert api().get("/api/datasets/").status_code in (401, 403)
    # POST uploads a team dataset (test_team_uploads.py): without a file it is refused.
    assert api(member).post("/api/datasets/", {}).status_code == 400
    assert api(viewer).post("/api/datasets/", {}).status_code == 403


def test_a_run_records_its_split_and_val_size_must_fit(member, data_dir):
    write_set(data_dir / "MNIST" / "raw")
    config = {"dataset": "mnist", "population": 3, "max_individuals": 5, "val_size": 10}
    r = api(member).post("/api/experiments/", {"name": "m", "config": config}, format="json")
    assert r.status_code == 201, r.json()
    split = r.json()["dataset_split"]
    assert (split["train"], split["val"], split["test"], split["val_size"]) == (50, 10, 20, 10)
    assert split["fingerprint"].startswith("sha256:") and r.json()["config"]["val_size"] == 10
    config["val_size"] = N_TRAIN
    r = api(member).post("/api/experiments/", {"name": "m", "config": config}, format="json")
    assert r.status_code == 400 and "val_size" in str(r.json()["config"])


@pytest.mark.django_db(transaction=True)
def test_a_run_on_an_idx_set_trains_and_tests_through_the_workers(eager, team, member, data_dir):
    from evolab.experiments import services
    from evolab.experiments.models import Experiment, Status

    write_set(data_dir / "FashionMNIST" / "raw", gz=True)
    config = {"dataset": "fashion-mnist", "population": 2, "workers": 1, "steps_per_child": 2,
              "max_individuals": 3, "seed": 2, "val_size": 10, "batch_size": 8}  # fmt: skip
    exp = services.create_experiment(team, member, "fashion", config, start=True)
    exp = Experiment.objects.get(pk=exp.pk)
    assert exp.status == Status.FINISHED and exp.individuals_trained == 3
    assert exp.test_accuracy is not None and exp.dataset_split["val"] == 10
