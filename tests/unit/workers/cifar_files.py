"""Tiny CIFAR files in the real python-version pickle format, for the loader tests."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

CIFAR10_TRAIN_PER_BATCH = 20
CIFAR_TEST = 30


def _image_ids(start: int, n: int, test: bool) -> np.ndarray:
    """Rows of 3072 bytes whose first two bytes encode a unique id and whose third
    byte marks test images, so tests can tell exactly where every image went."""
    data = np.zeros((n, 3072), dtype=np.uint8)
    ids = np.arange(start, start + n)
    data[:, 0] = ids % 256
    data[:, 1] = ids // 256
    data[:, 2] = 255 if test else 0
    return data


def _batch_blob(data: np.ndarray, label_key: bytes, num_classes: int) -> bytes:
    labels = [int(i % num_classes) for i in range(len(data))]
    # Keys are bytes, as the original Python 2 pickles read with encoding='bytes'.
    batch = {b"batch_label": b"fake", label_key: labels, b"data": data}
    return pickle.dumps(batch, protocol=2)


def cifar10_members() -> dict[str, bytes]:
    members = {}
    for i in range(5):
        data = _image_ids(i * CIFAR10_TRAIN_PER_BATCH, CIFAR10_TRAIN_PER_BATCH, test=False)
        members[f"data_batch_{i + 1}"] = _batch_blob(data, b"labels", 10)
    members["test_batch"] = _batch_blob(_image_ids(0, CIFAR_TEST, test=True), b"labels", 10)
    names = [f"class{i}".encode() for i in range(10)]
    members["batches.meta"] = pickle.dumps({b"label_names": names}, protocol=2)
    return members


def cifar100_members() -> dict[str, bytes]:
    train = _image_ids(0, 5 * CIFAR10_TRAIN_PER_BATCH, test=False)
    names = [f"fine{i}".encode() for i in range(100)]
    return {
        "train": _batch_blob(train, b"fine_labels", 100),
        "test": _batch_blob(_image_ids(0, CIFAR_TEST, test=True), b"fine_labels", 100),
        "meta": pickle.dumps({b"fine_label_names": names, b"coarse_label_names": []}),
    }


def write_folder(root: Path, folder: str, members: dict[str, bytes]) -> None:
    (root / folder).mkdir(parents=True)
    for name, blob in members.items():
        (root / folder / name).write_bytes(blob)


def write_tarball(root: Path, archive: str, folder: str, members: dict[str, bytes]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(root / archive, "w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
