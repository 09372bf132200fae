"""CIFAR-10/100 loaders read the standard python-version files (folder or tarball)."""

from __future__ import annotations

import pickle

import pytest
import torch
from cifar_files import (
    CIFAR10_TRAIN_PER_BATCH,
    CIFAR_TEST,
    cifar10_members,
    cifar100_members,
    write_folder,
    write_tarball,
)

from evolab.datasets import DatasetError, load_dataset

N_TRAIN = 5 * CIFAR10_TRAIN_PER_BATCH
N_VAL = N_TRAIN // 10  # 5,000 of 50,000 at full size


def _ids(x: torch.Tensor) -> set[int]:
    return {int(a) + 256 * int(b) for a, b in zip(x[:, 0, 0, 0], x[:, 0, 0, 1], strict=True)}


def _layouts(tmp_path, which):
    if which == "cifar10":
        members, folder, archive = (
            cifar10_members(),
            "cifar-10-batches-py",
            "cifar-10-python.tar.gz",
        )
    else:
        members, folder, archive = cifar100_members(), "cifar-100-python", "cifar-100-python.tar.gz"
    write_folder(tmp_path / "extracted", folder, members)
    write_tarball(tmp_path / "tarball", archive, folder, members)
    return tmp_path / "extracted", tmp_path / "tarball"


@pytest.mark.parametrize("which", ["cifar10", "cifar100"])
@pytest.mark.parametrize("layout", [0, 1], ids=["extracted", "tarball"])
def test_it_splits_train_into_train_and_validation_and_keeps_test_apart(tmp_path, which, layout):
    root = _layouts(tmp_path, which)[layout]
    data = load_dataset(which, root, seed=3)

    assert data.in_shape == (3, 32, 32)
    assert data.augment is True
    assert len(data.classes) == (10 if which == "cifar10" else 100)
    assert len(data.train_x) == N_TRAIN - N_VAL
    assert len(data.val_x) == N_VAL
    assert len(data.test_x) == CIFAR_TEST
    assert data.train_x.dtype == torch.uint8 and data.train_y.dtype == torch.int64
    train, val = _ids(data.train_x), _ids(data.val_x)
    assert train.isdisjoint(val) and train | val == set(range(N_TRAIN))
    # The test split is exactly the test file: no training image, all test images.
    assert bool((data.test_x[:, 0, 0, 2] == 255).all())
    assert bool((data.train_x[:, 0, 0, 2] == 0).all() and (data.val_x[:, 0, 0, 2] == 0).all())
    assert _ids(data.test_x) == set(range(CIFAR_TEST))


def test_the_folder_and_the_tarball_give_the_same_split(tmp_path):
    extracted, tarball = _layouts(tmp_path, "cifar10")
    a = load_dataset("cifar10", extracted, seed=5)
    b = load_dataset("cifar10", tarball, seed=5)
    assert torch.equal(a.val_x, b.val_x) and torch.equal(a.train_y, b.train_y)


def test_the_split_depends_on_the_seed(tmp_path):
    extracted, _ = _layouts(tmp_path, "cifar10")
    assert _ids(load_dataset("cifar10", extracted, 1).val_x) != _ids(
        load_dataset("cifar10", extracted, 2).val_x
    )


def test_it_caches_one_load_per_process(tmp_path):
    extracted, _ = _layouts(tmp_path, "cifar10")
    assert load_dataset("cifar10", extracted, 1) is load_dataset("cifar10", extracted, 1)


@pytest.mark.parametrize("which", ["cifar10", "cifar100"])
def test_a_missing_file_names_the_expected_paths_relative_to_the_data_dir(tmp_path, which):
    with pytest.raises(DatasetError) as error:
        load_dataset(which, tmp_path, seed=0)
    archive = "cifar-10-python.tar.gz" if which == "cifar10" else "cifar-100-python.tar.gz"
    assert f"EVOLAB_DATA_DIR/{archive}" in str(error.value)
    assert "python version" in str(error.value)
    assert str(tmp_path) not in str(error.value)  # no server path in a message


def test_a_missing_batch_in_the_folder_names_it(tmp_path):
    members = cifar10_members()
    del members["data_batch_3"]
    write_folder(tmp_path, "cifar-10-batches-py", members)
    with pytest.raises(DatasetError, match="EVOLAB_DATA_DIR/cifar-10-batches-py/data_batch_3"):
        load_dataset("cifar10", tmp_path, seed=0)


def test_a_pickle_that_references_other_code_is_refused(tmp_path):
    members = cifar10_members()
    members["test_batch"] = pickle.dumps({b"data": print}, protocol=2)
    write_folder(tmp_path, "cifar-10-batches-py", members)
    with pytest.raises(DatasetError, match="references"):
        load_dataset("cifar10", tmp_path, seed=0)
