"""The built-in digits set: 1,797 8x8 one-channel images, no download."""

from __future__ import annotations

import numpy as np
import torch

from evolab.datasets import VAL_FRACTION, load_dataset


def test_it_has_the_expected_shapes_and_seeded_stratified_splits():
    data = load_dataset("digits", None, seed=1)
    assert data.in_shape == (1, 8, 8)
    assert data.num_classes == 10
    sizes = len(data.train_x), len(data.val_x), len(data.test_x)
    assert sum(sizes) == 1797
    assert abs(sizes[2] - 0.2 * 1797) < 10
    assert abs(sizes[1] - VAL_FRACTION * (1797 - sizes[2])) < 10
    assert data.train_x.dtype == torch.uint8 and int(data.train_x.max()) == 255
    assert data.augment is False  # 8x8 images: no pad-and-crop
    for split in (data.val_y, data.test_y):
        assert torch.bincount(split, minlength=10).min() > 0


def test_the_mean_and_std_come_from_the_train_split():
    data = load_dataset("digits", None, seed=1)
    pixels = data.train_x.double() / 255
    assert abs(data.mean[0] - pixels.mean().item()) < 1e-9
    assert abs(data.std[0] - pixels.std(unbiased=False).item()) < 1e-9


def test_splits_are_disjoint_and_depend_on_the_seed():
    from evolab.datasets import _small_set_splits

    ids = np.arange(1000)
    labels = ids % 7
    x, _ = _small_set_splits(ids, labels, seed=4)
    assert sum(len(v) for v in x.values()) == 1000
    assert len(set(x["train"]) | set(x["val"]) | set(x["test"])) == 1000
    a, b = load_dataset("digits", None, seed=1), load_dataset("digits", None, seed=2)
    assert not torch.equal(a.test_y, b.test_y)


def test_without_test_keeps_train_and_validation_only():
    data = load_dataset("digits", None, seed=1).without_test()
    assert len(data.test_x) == 0 and len(data.val_x) > 0
