"""What is installed, from names and headers only; the split record a run keeps."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from idx_files import N_TEST, N_TRAIN, write_set
from PIL import Image

from evolab import datasets
from evolab.datasets import DatasetError, digits, idx, list_datasets, load_dataset, split_record
from evolab.evolution import config as engine_config


@pytest.fixture(autouse=True)
def no_system_package(monkeypatch, tmp_path):
    fmt = replace(idx.FORMATS["fashion-mnist"], package_dir=tmp_path / "no-package")
    monkeypatch.setitem(idx.FORMATS, "fashion-mnist", fmt)


def _entries(data_dir) -> dict:
    return {e.name: e.to_json() for e in list_datasets(data_dir)}


def test_an_empty_data_dir_lists_every_set_with_what_it_expects(tmp_path):
    entries = _entries(tmp_path)
    assert list(entries) == ["digits", "mnist", "fashion-mnist", "kmnist", "cifar10", "cifar100"]
    assert entries["digits"]["state"] == "ready"
    assert (entries["digits"]["train"], entries["digits"]["test"]) == (1004, 359)
    for name in ("mnist", "fashion-mnist", "kmnist", "cifar10", "cifar100"):
        assert entries[name]["state"] == "missing" and entries[name]["train"] is None
    assert "EVOLAB_DATA_DIR/MNIST/raw/train-images-idx3-ubyte[.gz]" in entries["mnist"]["expected"]
    assert "or: apt-get install dataset-fashion-mnist" in entries["fashion-mnist"]["expected"]
    assert "EVOLAB_DATA_DIR/cifar-10-python.tar.gz" in entries["cifar10"]["expected"]
    assert str(tmp_path) not in str(entries)


def test_a_ready_set_has_its_sizes_from_the_headers_without_decoding(tmp_path, monkeypatch):
    write_set(tmp_path / "MNIST" / "raw", gz=True)
    monkeypatch.setattr(idx, "parse", lambda *a: pytest.fail("the listing decoded a file"))
    entry = _entries(tmp_path)["mnist"]
    assert entry["state"] == "ready" and entry["source"] == "EVOLAB_DATA_DIR/MNIST/raw"
    assert (entry["train"], entry["val"], entry["test"]) == (N_TRAIN - 6, 6, N_TEST)
    assert entry["shape"] == [1, 28, 28] and entry["num_classes"] == 10


def test_a_bad_header_is_listed_as_invalid_with_the_reason(tmp_path):
    write_set(tmp_path / "KMNIST" / "raw", blobs={"test_labels": b"\0\0\x08\x03\0\0\0\1"})
    entry = _entries(tmp_path)["kmnist"]
    assert entry["state"] == "invalid"
    assert "EVOLAB_DATA_DIR/KMNIST/raw/t10k-labels-idx1-ubyte: wrong magic" in entry["reason"]
    with pytest.raises(DatasetError, match="wrong magic"):
        datasets.check_available("kmnist", tmp_path)


def test_image_folders_are_listed_but_not_the_standard_sets_folders(tmp_path):
    write_set(tmp_path / "MNIST" / "raw")
    for cls in ("cats", "dogs"):
        folder = tmp_path / "pets" / cls
        folder.mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full((4, 4, 3), i, np.uint8)).save(folder / f"{i}.png")
    (tmp_path / "empty").mkdir()
    entries = _entries(tmp_path)
    assert entries["folder:pets"]["state"] == "ready" and entries["folder:pets"]["test"] == 2
    assert entries["folder:empty"]["state"] == "invalid"
    assert "folder:MNIST" not in entries


def test_the_split_record_is_what_the_loader_records_and_follows_the_files(tmp_path):
    folder = write_set(tmp_path / "MNIST" / "raw")
    record = split_record("mnist", tmp_path, seed=4, val_size=12)
    assert record == load_dataset("mnist", tmp_path, seed=4, val_size=12).split
    assert (record["train"], record["val"], record["test"]) == (N_TRAIN - 12, 12, N_TEST)
    (folder / "t10k-images-idx3-ubyte").write_bytes(
        (folder / "t10k-images-idx3-ubyte").read_bytes()[:-1] + b"\1"
    )
    assert split_record("mnist", tmp_path, 4, 12)["fingerprint"] != record["fingerprint"]
    assert split_record("digits", None, 4) == load_dataset("digits", None, 4).split


def test_the_engine_and_the_loader_know_the_same_sets(tmp_path):
    assert set(engine_config.IN_SHAPES) - {"folder", "upload"} == set(datasets.BUILTIN)
    assert set(engine_config.WITH_TEST_SPLIT) == set(datasets.WITH_TEST_SPLIT)
    for name in datasets.BUILTIN:
        assert datasets.describe(name, tmp_path).shape == engine_config.IN_SHAPES[name]


def test_the_digits_class_counts_are_scikit_learns():
    _, labels = digits._arrays()
    assert tuple(np.bincount(labels)) == digits.CLASS_COUNTS
