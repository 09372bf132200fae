"""Datasets for evolution: CIFAR-10/100 from the standard local files, image folders,
and the built-in `digits` demo set.

Everything is decoded once, at load, into uint8 tensors (N, C, H, W) so the training
loop can keep the whole split on the device and gather batches by index
(`workers.training`). Splits are fixed by a seed per experiment; the test split is
held out of evolution entirely (docs/ALGORITHM.md §5: fitness is validation accuracy only).
"""

from __future__ import annotations

import io
import pickle
import re
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

DATASETS: tuple[str, ...] = ("digits", "cifar10", "cifar100", "folder:<name>")

FOLDER_PREFIX = "folder:"
FOLDER_IMAGE_SIZE = 32  # [choice] every image-folder picture is resized to 32x32 RGB
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
_FOLDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

# CIFAR keeps 10% of its training set for validation: 45,000 / 5,000 (docs/ALGORITHM.md §5).
CIFAR_VAL_FRACTION = 0.1
# Small sets (digits, folders) have no official test split: [choice] hold out 20% for
# test, then 30% of the rest for validation, stratified by class. (With 15%, digits'
# 216 validation images saturated at 100% within minutes and selection lost its signal:
# many individuals tied, and "best by validation" became a draw; bench/README.md.)
TEST_FRACTION = 0.2
VAL_FRACTION = 0.3


class DatasetError(ValueError):
    """A dataset cannot be loaded; the message names the expected path and format."""


@dataclass(frozen=True)
class Dataset:
    """Three uint8 splits plus what the training loop needs to normalise them.

    `mean` and `std` are per channel, on the [0, 1] scale, computed on the train split.
    """

    name: str
    classes: list[str]
    in_shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    augment: bool

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def to(self, device: torch.device | str) -> Dataset:
        """A copy whose tensors live on `device` (the training loop never copies data)."""
        return replace(self, **{f: getattr(self, f).to(device) for f in _TENSOR_FIELDS})

    def without_test(self) -> Dataset:
        """A copy with empty test tensors: what evolution workers get, so that fitness
        cannot touch the test split even by mistake (docs/ALGORITHM.md §8, first mistake)."""
        empty_x = self.test_x[:0].clone()
        return replace(self, test_x=empty_x, test_y=self.test_y[:0].clone())


_TENSOR_FIELDS = ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")

# One load per process: a worker trains many children on the same data.
_CACHE: dict[tuple[str, str, int], Dataset] = {}


def load_dataset(name: str, data_dir: str | Path | None, seed: int) -> Dataset:
    """Load `digits`, `cifar10`, `cifar100` or `folder:<subdir>` with seeded splits."""
    root = "" if name == "digits" or data_dir is None else str(Path(data_dir).resolve())
    key = (name, root, seed)
    if key not in _CACHE:
        _CACHE[key] = _load_uncached(name, data_dir, seed)
    return _CACHE[key]


def clear_cache() -> None:
    _CACHE.clear()


def _load_uncached(name: str, data_dir: str | Path | None, seed: int) -> Dataset:
    if name == "digits":
        return _load_digits(seed)
    if name in ("cifar10", "cifar100") or name.startswith(FOLDER_PREFIX):
        if data_dir is None:
            raise DatasetError(
                f"dataset {name!r} needs a data directory (EVOLAB_DATA_DIR or --data-dir)"
            )
        root = Path(data_dir)
        if name == "cifar10":
            return _load_cifar(root, seed, _CIFAR10)
        if name == "cifar100":
            return _load_cifar(root, seed, _CIFAR100)
        return _load_folder(root, name[len(FOLDER_PREFIX) :], seed)
    raise DatasetError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")


# --------------------------------------------------------------------------- splits


def _build(
    name: str,
    classes: list[str],
    x: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    augment: bool,
) -> Dataset:
    """Wrap numpy splits (uint8 NCHW, int labels) as a Dataset with train statistics."""
    train = x["train"].astype(np.float64) / 255.0
    mean = train.mean(axis=(0, 2, 3))
    # A constant channel would divide by zero; leave it unscaled.
    std = np.where(train.std(axis=(0, 2, 3)) < 1e-6, 1.0, train.std(axis=(0, 2, 3)))
    tensors = {}
    for split in ("train", "val", "test"):
        tensors[f"{split}_x"] = torch.from_numpy(np.ascontiguousarray(x[split], np.uint8))
        tensors[f"{split}_y"] = torch.from_numpy(np.asarray(y[split], np.int64))
    return Dataset(
        name=name,
        classes=classes,
        in_shape=tuple(int(d) for d in x["train"].shape[1:]),
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std),
        augment=augment,
        **tensors,
    )


def _random_split(n: int, holdout: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) index arrays, a seeded permutation."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[holdout:]), np.sort(order[:holdout])


def _stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out): `fraction` of every class held out, at least one when a class
    has two or more images, so validation and test see every class."""
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_held = int(round(len(members) * fraction))
        if len(members) >= 2:
            n_held = min(max(n_held, 1), len(members) - 1)
        held.append(members[:n_held])
        kept.append(members[n_held:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def _small_set_splits(
    images: np.ndarray, labels: np.ndarray, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Test 20% held out first, then validation 30% of the rest (stratified, seeded)."""
    rest, test = _stratified_split(labels, TEST_FRACTION, seed)
    train_rel, val_rel = _stratified_split(labels[rest], VAL_FRACTION, seed + 1)
    train, val = rest[train_rel], rest[val_rel]
    x = {"train": images[train], "val": images[val], "test": images[test]}
    y = {"train": labels[train], "val": labels[val], "test": labels[test]}
    return x, y


# --------------------------------------------------------------------------- digits


def _load_digits(seed: int) -> Dataset:
    """scikit-learn's 1,797 8x8 digits (bundled, no download), values 0..16 -> 0..255."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    labels = bunch.target.astype(np.int64)
    x, y = _small_set_splits(images[:, None, :, :], labels, seed)
    classes = [str(c) for c in range(10)]
    return _build("digits", classes, x, y, augment=False)


# --------------------------------------------------------------------------- CIFAR


@dataclass(frozen=True)
class _CifarFormat:
    name: str
    archive: str
    folder: str
    train_members: tuple[str, ...]
    test_member: str
    meta_member: str
    label_key: bytes
    names_key: bytes


_CIFAR10 = _CifarFormat(
    name="cifar10",
    archive="cifar-10-python.tar.gz",
    folder="cifar-10-batches-py",
    train_members=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test_member="test_batch",
    meta_member="batches.meta",
    label_key=b"labels",
    names_key=b"label_names",
)
_CIFAR100 = _CifarFormat(
    name="cifar100",
    archive="cifar-100-python.tar.gz",
    folder="cifar-100-python",
    train_members=("train",),
    test_member="test",
    meta_member="meta",
    label_key=b"fine_labels",
    names_key=b"fine_label_names",
)

# The "python version" CIFAR files are pickles of dicts of numpy arrays, lists and
# bytes. Unpickling is acceptable only because these are the standard dataset files
# the operator placed in the data directory (never user uploads); even so, only the
# few globals those files reference may be resolved, so a tampered file cannot run code.
_CIFAR_PICKLE_GLOBALS = {
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


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _CIFAR_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"CIFAR file references {module}.{name}")
        return super().find_class(module, name)


def _unpickle(blob: bytes, where: str) -> dict:
    try:
        obj = _CifarUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except Exception as exc:  # any decoding failure means "not the expected format"
        raise DatasetError(f"{where}: not a CIFAR python-version batch ({exc})") from exc
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: not a CIFAR python-version batch (not a dict)")
    return obj


def _cifar_members(root: Path, fmt: _CifarFormat) -> dict[str, bytes]:
    """Read the member files from the extracted folder, else from the tarball."""
    wanted = (*fmt.train_members, fmt.test_member, fmt.meta_member)
    folder = root / fmt.folder
    if folder.is_dir():
        members = {}
        for member in wanted:
            path = folder / member
            if not path.is_file():
                raise DatasetError(f"{fmt.name}: missing {path} (CIFAR python-version file)")
            members[member] = path.read_bytes()
        return members
    archive = root / fmt.archive
    if not archive.is_file():
        raise DatasetError(
            f"{fmt.name}: expected the extracted folder {folder} or the tarball {archive} "
            f"(the CIFAR 'python version' from https://www.cs.toronto.edu/~kriz/cifar.html)"
        )
    return _read_tar_members(archive, fmt, wanted)


def _read_tar_members(archive: Path, fmt: _CifarFormat, wanted: tuple) -> dict[str, bytes]:
    # Members are read into memory by exact name; nothing is extracted to disk.
    members = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in wanted:
                try:
                    handle = tar.extractfile(f"{fmt.folder}/{member}")
                except KeyError:
                    handle = None
                if handle is None:
                    raise DatasetError(f"{fmt.name}: {archive} has no {fmt.folder}/{member}")
                members[member] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetError(f"{fmt.name}: {archive} is not a readable .tar.gz ({exc})") from exc
    return members


def _cifar_batch(blob: bytes, fmt: _CifarFormat, where: str) -> tuple[np.ndarray, np.ndarray]:
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


def _load_cifar(root: Path, seed: int, fmt: _CifarFormat) -> Dataset:
    members = _cifar_members(root, fmt)
    parts = [_cifar_batch(members[m], fmt, f"{fmt.name}/{m}") for m in fmt.train_members]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    test_x, test_y = _cifar_batch(members[fmt.test_member], fmt, f"{fmt.name}/test")
    meta = _unpickle(members[fmt.meta_member], f"{fmt.name}/{fmt.meta_member}")
    classes = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(fmt.names_key, [])]
    if not classes:
        raise DatasetError(f"{fmt.name}/{fmt.meta_member}: no {fmt.names_key.decode()} list")
    # 45,000 / 5,000 of the official 50,000 (10% held for validation); test untouched.
    train, val = _random_split(len(images), int(len(images) * CIFAR_VAL_FRACTION), seed)
    x = {"train": images[train], "val": images[val], "test": test_x}
    y = {"train": labels[train], "val": labels[val], "test": test_y}
    return _build(fmt.name, classes, x, y, augment=True)


# --------------------------------------------------------------------------- folders


def safe_folder(data_dir: Path, name: str) -> Path:
    """The folder `data_dir/name`, refusing anything that could escape `data_dir`."""
    if not _FOLDER_NAME.fullmatch(name) or ".." in name:
        raise DatasetError(
            f"bad image-folder name {name!r}: one plain sub-folder name of {data_dir} "
            "(letters, digits, '.', '_', '-'; no '..', no '/')"
        )
    root = data_dir.resolve()
    folder = (root / name).resolve()
    if folder == root or not folder.is_relative_to(root):  # a symlink escaping the root
        raise DatasetError(f"image folder {name!r} resolves outside {root}")
    if not folder.is_dir():
        raise DatasetError(
            f"image folder {root / name} not found; expected one sub-folder per class "
            "holding .png/.jpg images"
        )
    return folder


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root)


def _load_image(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            img = img.convert("RGB").resize(
                (FOLDER_IMAGE_SIZE, FOLDER_IMAGE_SIZE), Image.Resampling.BILINEAR
            )
            return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
    except OSError as exc:
        raise DatasetError(f"{path}: not a readable image ({exc})") from exc


def _load_folder(data_dir: Path, name: str, seed: int) -> Dataset:
    folder = safe_folder(data_dir, name)
    root = data_dir.resolve()
    class_dirs = sorted(d for d in folder.iterdir() if d.is_dir() and _inside(d, root))
    images, labels, classes = [], [], []
    for class_dir in class_dirs:
        files = sorted(
            f
            for f in class_dir.iterdir()
            if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file() and _inside(f, root)
        )
        if not files:
            continue
        label = len(classes)
        classes.append(class_dir.name)
        images.extend(_load_image(f) for f in files)
        labels.extend([label] * len(files))
    if len(classes) < 2:
        raise DatasetError(
            f"image folder {folder}: expected at least two class sub-folders with images "
            f"({', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    x, y = _small_set_splits(np.stack(images), np.asarray(labels, np.int64), seed)
    return _build(f"{FOLDER_PREFIX}{name}", classes, x, y, augment=True)


def check_available(name: str, data_dir: str | Path | None) -> None:
    """Raise DatasetError (naming the expected path and format) unless the files of `name`
    are there. Cheap: looks at paths only, so the web can check a form before a run starts."""
    if name == "digits":
        return  # ships with scikit-learn
    if data_dir is None:
        raise DatasetError(f"dataset {name!r} needs a data directory (EVOLAB_DATA_DIR)")
    root = Path(data_dir)
    if name.startswith(FOLDER_PREFIX):
        safe_folder(root, name[len(FOLDER_PREFIX) :])
        return
    fmt = {"cifar10": _CIFAR10, "cifar100": _CIFAR100}.get(name)
    if fmt is None:
        raise DatasetError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    if not ((root / fmt.folder).is_dir() or (root / fmt.archive).is_file()):
        raise DatasetError(
            f"{fmt.name}: expected the extracted folder {root / fmt.folder} or the tarball "
            f"{root / fmt.archive} (the CIFAR 'python version' files)"
        )
