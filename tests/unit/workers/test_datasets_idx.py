"""MNIST-format sets from tiny IDX files: layouts, every bad file, the stratified split."""

from __future__ import annotations

import gzip
from dataclasses import replace

import numpy as np
import pytest
import torch
from idx_files import N_TEST, N_TRAIN, NAMES, arrays, idx_bytes, write_set

from evolab.datasets import DatasetError, idx, load_dataset
from evolab.datasets.splits import stratified_holdout


@pytest.fixture(autouse=True)
def no_system_package(monkeypatch, tmp_path):
    """Hermetic: Fashion-MNIST's Debian folder is an empty one of the test's own."""
    fmt = replace(idx.FORMATS["fashion-mnist"], package_dir=tmp_path / "no-package")
    monkeypatch.setitem(idx.FORMATS, "fashion-mnist", fmt)


def _ids(x: torch.Tensor) -> list[int]:
    return [int(a) + 256 * int(b) for a, b in zip(x[:, 0, 0, 0], x[:, 0, 0, 1], strict=True)]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize(
    "name,folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST"), ("kmnist", "KMNIST")]
)
def test_it_reads_the_four_files_in_torchvisions_layout(tmp_path, name, folder, gz):
    write_set(tmp_path / folder / "raw", gz=gz)
    data = load_dataset(name, tmp_path, seed=1, val_size=10)

    assert data.in_shape == (1, 28, 28) and data.num_classes == 10
    assert data.train_x.dtype == torch.uint8 and data.train_y.dtype == torch.int64
    assert data.augment is False
    assert (len(data.train_x), len(data.val_x), len(data.test_x)) == (N_TRAIN - 10, 10, N_TEST)
    train, val = _ids(data.train_x), _ids(data.val_x)
    assert set(train).isdisjoint(val) and sorted(train + val) == list(range(N_TRAIN))
    # The test split is exactly the t10k files, in their order; labels stay with their images.
    assert _ids(data.test_x) == list(range(N_TEST)) and bool((data.test_x[:, 0, 0, 2] == 255).all())
    assert [i % 10 for i in train] == data.train_y.tolist()
    assert data.split == {"train": N_TRAIN - 10, "val": 10, "test": N_TEST, "seed": 1,
                          "val_size": 10, "stratified": True,
                          "fingerprint": data.split["fingerprint"]}  # fmt: skip
    assert data.split["fingerprint"].startswith("sha256:")


def test_validation_is_stratified_by_class_and_seeded(tmp_path):
    write_set(tmp_path / "MNIST" / "raw")
    a = load_dataset("mnist", tmp_path, seed=1, val_size=15)
    assert len(a.val_y) == 15
    assert sorted(torch.bincount(a.val_y, minlength=10).tolist()) == [1] * 5 + [2] * 5
    again = load_dataset("mnist", tmp_path, seed=1, val_size=15)
    other = load_dataset("mnist", tmp_path, seed=2, val_size=15)
    assert _ids(a.val_x) == _ids(again.val_x) and _ids(a.val_x) != _ids(other.val_x)
    assert torch.equal(a.test_x, other.test_x)  # the seed never touches the test split


def test_the_default_validation_is_5000_or_a_tenth_of_a_smaller_set(tmp_path):
    write_set(tmp_path / "MNIST" / "raw")
    assert len(load_dataset("mnist", tmp_path, seed=0).val_x) == N_TRAIN // 10
    labels = np.arange(60_000) % 10
    kept, held = stratified_holdout(labels, 5000, seed=3)
    assert len(held) == 5000 and np.bincount(labels[held]).tolist() == [500] * 10
    assert len(kept) == 55_000 and np.intersect1d(kept, held).size == 0


def test_stratified_holdout_keeps_the_class_proportions_of_an_unbalanced_set():
    labels = np.array([0] * 70 + [1] * 20 + [2] * 10)
    _, held = stratified_holdout(labels, 10, seed=0)
    assert np.bincount(labels[held]).tolist() == [7, 2, 1]


@pytest.mark.parametrize("val_size", [0, N_TRAIN // 2 + 1])
def test_a_val_size_that_does_not_fit_is_refused(tmp_path, val_size):
    write_set(tmp_path / "MNIST" / "raw")
    with pytest.raises(DatasetError, match="val_size"):
        load_dataset("mnist", tmp_path, seed=0, val_size=val_size)


def test_val_size_is_refused_for_a_set_that_holds_out_fractions():
    with pytest.raises(DatasetError, match="val_size applies"):
        load_dataset("digits", None, seed=0, val_size=100)


def _blob(role: str, **change) -> bytes:
    data = arrays()
    return idx_bytes(data[role], **change)


BAD_FILES = {
    "wrong magic": ("train_images", _blob("train_images", magic=0x00000801), "wrong magic number"),
    "labels as images": ("train_labels", idx_bytes(arrays()["train_images"]), "wrong magic"),
    "float data": ("test_images", _blob("test_images", magic=0x00000D03), "0x00000D03"),
    "truncated data": ("train_images", _blob("train_images")[:-100], "truncated"),
    "truncated header": ("test_labels", _blob("test_labels")[:6], "truncated"),
    "empty": ("test_images", b"", "truncated"),
    "too long": ("train_labels", _blob("train_labels") + b"\0\0", "too long"),
    "fewer labels": ("test_labels", idx_bytes(arrays()["test_labels"][:-1]), "19 labels"),
    "32x32 images": ("train_images", idx_bytes(np.zeros((N_TRAIN, 32, 32))), "32 × 32"),
    "label 10": ("test_labels", idx_bytes(np.full(N_TEST, 10)), "label 10"),
}


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_a_bad_file_is_named_relative_to_the_data_dir(tmp_path, case, gz):
    role, blob, message = BAD_FILES[case]
    write_set(tmp_path / "KMNIST" / "raw", gz=gz, blobs={role: blob})
    with pytest.raises(DatasetError, match=message) as error:
        load_dataset("kmnist", tmp_path, seed=0)
    name = NAMES[role] + (".gz" if gz else "")
    assert f"EVOLAB_DATA_DIR/KMNIST/raw/{name}" in str(error.value)
    assert str(tmp_path) not in str(error.value)


def test_a_truncated_gzip_file_is_named(tmp_path):
    folder = write_set(tmp_path / "MNIST" / "raw", gz=True)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz: cannot be read"):
        load_dataset("mnist", tmp_path, seed=0)


def test_a_missing_set_names_every_file_and_where(tmp_path):
    (tmp_path / "FashionMNIST" / "raw").mkdir(parents=True)
    with pytest.raises(DatasetError) as error:
        load_dataset("fashion-mnist", tmp_path, seed=0)
    text = str(error.value)
    assert "EVOLAB_DATA_DIR/FashionMNIST/raw/" in text and "dataset-fashion-mnist" in text
    assert all(stem in text for stem in NAMES.values()) and str(tmp_path) not in text


def test_fashion_mnist_is_found_in_the_debian_packages_folder(tmp_path, monkeypatch):
    package = write_set(tmp_path / "usr-share" / "fashion-mnist", gz=True)
    fmt = replace(idx.FORMATS["fashion-mnist"], package_dir=package)
    monkeypatch.setitem(idx.FORMATS, "fashion-mnist", fmt)
    data = load_dataset("fashion-mnist", None, seed=0, val_size=10)
    assert len(data.test_x) == N_TEST and data.classes[0] == "T-shirt/top"
    (package / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\0\0\x08\x03"))
    with pytest.raises(DatasetError, match="of the package dataset-fashion-mnist") as error:
        load_dataset("fashion-mnist", None, seed=1)
    assert "usr-share" not in str(error.value)
