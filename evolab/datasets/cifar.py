"""CIFAR-10/100 from the standard local files: the "python version", extracted or as the
tarball. The official test batch is the test split; validation is held out of the 50,000
training images (45,000 / 5,000 by default, a seeded random split: docs/ALGORITHM.md §5)."""

from __future__ import annotations

import io
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import splits
from .base import DATA_DIR, INVALID, MISSING, READY, DatasetError, Entry, build, fingerprint, reason

SOURCE = "the CIFAR 'python version' from https://www.cs.toronto.edu/~kriz/cifar.html"


@dataclass(frozen=True)
class CifarFormat:
    name: str
    title: str
    archive: str
    folder: str
    train_members: tuple[str, ...]
    test_member: str
    meta_member: str
    label_key: bytes
    names_key: bytes
    num_classes: int

    @property
    def members(self) -> tuple[str, ...]:
        return (*self.train_members, self.test_member, self.meta_member)


FORMATS = {
    "cifar10": CifarFormat(
        name="cifar10",
        title="CIFAR-10",
        archive="cifar-10-python.tar.gz",
        folder="cifar-10-batches-py",
        train_members=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test_member="test_batch",
        meta_member="batches.meta",
        label_key=b"labels",
        names_key=b"label_names",
        num_classes=10,
    ),
    "cifar100": CifarFormat(
        name="cifar100",
        title="CIFAR-100",
        archive="cifar-100-python.tar.gz",
        folder="cifar-100-python",
        train_members=("train",),
        test_member="test",
        meta_member="meta",
        label_key=b"fine_labels",
        names_key=b"fine_label_names",
        num_classes=100,
    ),
}
# The official sizes, which the listing shows without unpickling (checked when loaded).
OFFICIAL_TRAIN, OFFICIAL_TEST = 50_000, 10_000

# The "python version" CIFAR files are pickles of dicts of numpy arrays, lists and
# bytes. Only the few globals those files reference may be resolved, so a tampered file
# cannot run code: the standard files the operator placed in the data directory, and a
# team's uploaded CIFAR archive (evolab.datasets.uploads: read in a worker, its size
# bounded, the batches' shapes and labels checked before anything is stored).
_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"CIFAR file references {module}.{name}")
        return super().find_class(module, name)


def _unpickle(blob: bytes, where: str) -> dict:
    try:
        obj = _Unpickler(io.BytesIO(blob), encoding="bytes").load()
    except Exception as exc:  # any decoding failure means "not the expected format"
        raise DatasetError(f"{where}: not a CIFAR python-version batch ({exc})") from exc
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: not a CIFAR python-version batch (not a dict)")
    return obj


def missing_reason(fmt: CifarFormat) -> str:
    return (
        f"{fmt.name}: expected the extracted folder {DATA_DIR}/{fmt.folder} or the tarball "
        f"{DATA_DIR}/{fmt.archive} ({SOURCE})"
    )


def source_files(root: Path, fmt: CifarFormat) -> list[Path]:
    """The member files of the extracted folder, else the tarball (DatasetError if neither)."""
    folder = root / fmt.folder
    if folder.is_dir():
        for member in fmt.members:
            if not (folder / member).is_file():
                raise DatasetError(
                    f"{fmt.name}: missing {DATA_DIR}/{fmt.folder}/{member} "
                    "(CIFAR python-version file)"
                )
        return [folder / m for m in fmt.members]
    if not (root / fmt.archive).is_file():
        raise DatasetError(missing_reason(fmt))
    return [root / fmt.archive]


def _members(root: Path, fmt: CifarFormat, files: list[Path]) -> dict[str, bytes]:
    if len(files) > 1:
        return {path.name: path.read_bytes() for path in files}
    # Members are read into memory by exact name; nothing is extracted to disk.
    archive, members = f"{DATA_DIR}/{fmt.archive}", {}
    try:
        with tarfile.open(files[0], "r:gz") as tar:
            for member in fmt.members:
                try:
                    handle = tar.extractfile(f"{fmt.folder}/{member}")
                except KeyError:
                    handle = None
                if handle is None:
                    raise DatasetError(f"{fmt.name}: {archive} has no {fmt.folder}/{member}")
                members[member] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        problem = f"{fmt.name}: {archive} is not a readable .tar.gz ({reason(exc)})"
        raise DatasetError(problem) from exc
    return members


def _batch(blob: bytes, fmt: CifarFormat, where: str) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(blob, where)
    try:
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[fmt.label_key], dtype=np.int64)
    except KeyError as exc:
        raise DatasetError(f"{where}: CIFAR batch without key {exc}") from exc
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DatasetError(f"{where}: expected data (N, 3072) uint8 and N labels")
    # Rows are 1024 red, 1024 green, 1024 blue values: reshape straight to NCHW.
    return data.reshape(-1, 3, 32, 32), labels


def load(fmt: CifarFormat, root: Path, seed: int, val_size: int | None):
    files = source_files(root, fmt)
    members = _members(root, fmt, files)
    parts = [_batch(members[m], fmt, f"{fmt.name}/{m}") for m in fmt.train_members]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    test_x, test_y = _batch(members[fmt.test_member], fmt, f"{fmt.name}/test")
    meta = _unpickle(members[fmt.meta_member], f"{fmt.name}/{fmt.meta_member}")
    classes = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(fmt.names_key, [])]
    if not classes:
        raise DatasetError(f"{fmt.name}/{fmt.meta_member}: no {fmt.names_key.decode()} list")
    # 45,000 / 5,000 of the official 50,000 by default; test untouched.
    n_val = splits.held_out(len(images), val_size)
    train, val = splits.random_split(len(images), n_val, seed)
    x = {"train": images[train], "val": images[val], "test": test_x}
    y = {"train": labels[train], "val": labels[val], "test": test_y}
    sizes = {part: len(v) for part, v in y.items()}
    split = splits.record(sizes, seed, val_size, False, fingerprint(files))
    return build(fmt.name, classes, x, y, augment=True, split=split)


def describe(fmt: CifarFormat, root: Path | None, val_size: int | None = None) -> Entry:
    """The picker's entry: the files are there; sizes are the official ones."""
    common = {"name": fmt.name, "title": fmt.title, "shape": (3, 32, 32), "stratified": False}
    folder, archive = f"{DATA_DIR}/{fmt.folder}", f"{DATA_DIR}/{fmt.archive}"
    if root is None or not ((root / fmt.folder).is_dir() or (root / fmt.archive).is_file()):
        return Entry(
            **common, state=MISSING, expected=(f"{folder}/", archive), reason=missing_reason(fmt)
        )
    try:
        files = source_files(root, fmt)
        n_val = splits.held_out(OFFICIAL_TRAIN, val_size)
    except DatasetError as exc:
        return Entry(**common, state=INVALID, reason=str(exc))
    return Entry(
        **common,
        state=READY,
        num_classes=fmt.num_classes,
        train=OFFICIAL_TRAIN - n_val,
        val=n_val,
        test=OFFICIAL_TEST,
        source=folder if len(files) > 1 else archive,
        files=tuple(files),
    )
