"""Image folders: one sub-folder per class, decoded once, resized to 32x32 RGB."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from evolab.datasets import DatasetError, load_dataset


def _make_images(root, name="shapes", classes=("cats", "dogs", "owls"), per_class=10):
    for c, cls in enumerate(classes):
        folder = root / name / cls
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((12 + i, 9, 3), 40 * c + i, dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
        (folder / "notes.txt").write_text("not an image")


def test_it_loads_one_class_per_sub_folder_as_32x32_rgb(tmp_path):
    _make_images(tmp_path)
    data = load_dataset("folder:shapes", tmp_path, seed=0)
    assert data.classes == ["cats", "dogs", "owls"]
    assert data.in_shape == (3, 32, 32)
    assert data.train_x.dtype == torch.uint8
    total = len(data.train_x) + len(data.val_x) + len(data.test_x)
    assert total == 30
    assert len(data.test_x) == 6  # 20% of every class
    assert set(data.test_y.tolist()) == set(data.val_y.tolist()) == {0, 1, 2}
    assert data.augment is True


@pytest.mark.parametrize(
    "name", ["..", "../shapes", "/etc", "a/b", "shapes/..", "", ".hidden", "a\\b", "x" * 200]
)
def test_it_refuses_names_that_could_leave_the_data_directory(tmp_path, name):
    _make_images(tmp_path / "data")
    with pytest.raises(DatasetError, match="bad image-folder name"):
        load_dataset(f"folder:{name}", tmp_path / "data", seed=0)


def test_it_refuses_a_symlink_that_escapes_the_data_directory(tmp_path):
    _make_images(tmp_path / "outside")
    (tmp_path / "data").mkdir()
    os.symlink(tmp_path / "outside" / "shapes", tmp_path / "data" / "escape")
    with pytest.raises(DatasetError, match="outside"):
        load_dataset("folder:escape", tmp_path / "data", seed=0)


def test_class_folders_that_are_symlinks_out_of_the_root_are_ignored(tmp_path):
    _make_images(tmp_path / "data")
    _make_images(tmp_path / "outside", name="secret", classes=("leak",))
    os.symlink(tmp_path / "outside" / "secret" / "leak", tmp_path / "data" / "shapes" / "leak")
    data = load_dataset("folder:shapes", tmp_path / "data", seed=0)
    assert "leak" not in data.classes


def test_a_missing_folder_names_the_path_and_the_layout(tmp_path):
    with pytest.raises(DatasetError) as error:
        load_dataset("folder:nothing", tmp_path, seed=0)
    assert "EVOLAB_DATA_DIR/nothing" in str(error.value)
    assert "one sub-folder per class" in str(error.value)
    assert str(tmp_path) not in str(error.value)  # no server path in a message


def test_an_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DatasetError, match="digits.*fashion-mnist"):
        load_dataset("imagenet", None, seed=0)
