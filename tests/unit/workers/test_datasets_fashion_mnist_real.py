"""The real Fashion-MNIST files, when installed (Debian's dataset-fashion-mnist package or
EVOLAB_DATA_DIR/FashionMNIST/raw/); skipped, saying how to install them, otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from evolab.datasets import idx, list_datasets, load_dataset

DATA_DIR = Path(os.environ.get("EVOLAB_DATA_DIR", "var/data"))
INSTALLED = idx.find(idx.FORMATS["fashion-mnist"], DATA_DIR) is not None


@pytest.mark.real_data
@pytest.mark.skipif(
    not INSTALLED,
    reason="Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist (Debian), "
    "or put its four IDX files in EVOLAB_DATA_DIR/FashionMNIST/raw/",
)
def test_the_real_fashion_mnist_gives_55000_5000_10000_and_10_classes():
    data = load_dataset("fashion-mnist", DATA_DIR, seed=1)
    assert (len(data.train_x), len(data.val_x), len(data.test_x)) == (55_000, 5_000, 10_000)
    assert data.num_classes == 10 and data.in_shape == (1, 28, 28)
    assert torch.bincount(data.val_y).tolist() == [500] * 10  # stratified: 500 a class
    assert torch.bincount(data.test_y).tolist() == [1000] * 10  # the official test set
    entry = {e.name: e for e in list_datasets(DATA_DIR)}["fashion-mnist"]
    assert (entry.state, entry.train, entry.val, entry.test) == ("ready", 55_000, 5_000, 10_000)
