"""Tiny MNIST-format (IDX) files for the loader tests: a few 28x28 images per class."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

N_TRAIN, N_TEST = 60, 20  # 6 and 2 of each of the 10 classes
NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file of unsigned bytes: magic 0x0000080<ndim>, the sizes, the data."""
    magic = 0x0800 + array.ndim if magic is None else magic
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    return header + np.ascontiguousarray(array, np.uint8).tobytes()


def arrays(n_train: int = N_TRAIN, n_test: int = N_TEST) -> dict[str, np.ndarray]:
    """Images whose first two pixels give a unique id and whose third marks test images, so
    tests can tell where every image went; labels cycle through the 10 classes."""
    out = {}
    for part, n, mark in (("train", n_train, 0), ("test", n_test, 255)):
        images = np.zeros((n, 28, 28), np.uint8)
        ids = np.arange(n)
        images[:, 0, 0], images[:, 0, 1], images[:, 0, 2] = ids % 256, ids // 256, mark
        out[f"{part}_images"] = images
        out[f"{part}_labels"] = (ids % 10).astype(np.uint8)
    return out


def write_set(folder: Path, gz: bool = False, blobs: dict[str, bytes] | None = None) -> Path:
    """The four files in `folder` (plain or .gz); `blobs` replaces some files' bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {role: idx_bytes(a) for role, a in arrays().items()} | (blobs or {})
    for role, blob in data.items():
        name = NAMES[role] + (".gz" if gz else "")
        (folder / name).write_bytes(gzip.compress(blob, mtime=0) if gz else blob)
    return folder
