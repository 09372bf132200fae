"""MNIST-format sets (MNIST, Fashion-MNIST, KMNIST) from their standard IDX files.

The four files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`
and `t10k-labels-idx1-ubyte`, each plain or `.gz`, are looked for in torchvision's layout
under the data directory (`MNIST/raw/`, `FashionMNIST/raw/`, `KMNIST/raw/`), then, for
Fashion-MNIST, in the folder of Debian's `dataset-fashion-mnist` package. Nothing is ever
downloaded. The official test files are the test split; validation is held out of the
training files, stratified by class and seeded (`splits.stratified_holdout`).

The format (big-endian): a magic number 0x00000803 (unsigned bytes, 3 dimensions) or
0x00000801 (1 dimension), the sizes as 32-bit integers, then the bytes. torchvision's
`read_image_file` reads the same files but stops on `assert`s that name neither the file
nor the problem, and does not read `.gz`: this reader checks the header itself, so that
every bad file gets a message naming it.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from math import prod
from pathlib import Path

import numpy as np

from . import splits
from .base import DATA_DIR, INVALID, MISSING, READY, DatasetError, Entry, build, fingerprint, reason

ROLES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MAGIC = {3: 0x00000803, 1: 0x00000801}  # unsigned bytes; 3 (images) or 1 (labels) dimensions
IMAGE_SIZE = (28, 28)


@dataclass(frozen=True)
class IdxFormat:
    name: str
    title: str
    folder: str  # torchvision's folder name: <data dir>/<folder>/raw/
    classes: tuple[str, ...]
    package: str = ""  # a Debian package that installs the files, and where
    package_dir: Path | None = None


FORMATS = {
    f.name: f
    for f in (
        IdxFormat("mnist", "MNIST (handwritten digits)", "MNIST", tuple(str(d) for d in range(10))),
        IdxFormat(
            "fashion-mnist",
            "Fashion-MNIST (Zalando clothing)",
            "FashionMNIST",
            (
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),  # fmt: skip
            package="dataset-fashion-mnist",
            package_dir=Path("/usr/share/datasets/fashion-mnist"),
        ),
        IdxFormat(
            "kmnist",
            "Kuzushiji-MNIST (cursive Japanese)",
            "KMNIST",
            ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        ),
    )
}


@dataclass(frozen=True)
class Source:
    """The folder holding all four files, and how messages name it."""

    label: str
    files: dict[str, Path]
    in_package: bool = False

    def shown(self, role: str) -> str:
        name = self.files[role].name
        return f"{name} of the package {self.label}" if self.in_package else f"{self.label}/{name}"


def find(fmt: IdxFormat, data_dir: Path | None) -> Source | None:
    """The first place holding all four files (plain or .gz), or None."""
    places = []
    if data_dir is not None:
        places.append((Path(data_dir) / fmt.folder / "raw", f"{DATA_DIR}/{fmt.folder}/raw", False))
    if fmt.package_dir is not None:
        places.append((fmt.package_dir, fmt.package, True))
    for folder, label, in_package in places:
        files = {}
        for role, stem in ROLES.items():
            found = [folder / n for n in (stem, f"{stem}.gz") if (folder / n).is_file()]
            if not found:
                break
            files[role] = found[0]
        else:
            return Source(label, files, in_package)
    return None


def expected(fmt: IdxFormat) -> tuple[str, ...]:
    where = tuple(f"{DATA_DIR}/{fmt.folder}/raw/{stem}[.gz]" for stem in ROLES.values())
    return (*where, f"or: apt-get install {fmt.package}") if fmt.package else where


def missing_reason(fmt: IdxFormat) -> str:
    also = f", or install the Debian package {fmt.package}" if fmt.package else ""
    return (
        f"{fmt.name}: expected the four IDX files {', '.join(ROLES.values())} (each plain or "
        f".gz) in {DATA_DIR}/{fmt.folder}/raw/ (torchvision's layout){also}"
    )


# --------------------------------------------------------------------------- reading


def _dims(head: bytes, ndim: int, where: str) -> tuple[int, ...]:
    """The sizes an IDX header declares, after checking its magic number."""
    if len(head) < 4:
        raise DatasetError(f"{where}: truncated: {len(head)} bytes, shorter than an IDX header")
    magic = int.from_bytes(head[:4], "big")
    if magic != MAGIC[ndim]:
        kind = "images" if ndim == 3 else "labels"
        raise DatasetError(
            f"{where}: wrong magic number 0x{magic:08X}; an IDX file of {kind} starts with "
            f"0x{MAGIC[ndim]:08X} (unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    end = 4 + 4 * ndim
    if len(head) < end:
        raise DatasetError(f"{where}: truncated in its header ({len(head)} of {end} bytes)")
    return struct.unpack(f">{ndim}I", head[4:end])


def _read(path: Path, where: str) -> bytes:
    try:
        blob = path.read_bytes()
        return gzip.decompress(blob) if path.suffix == ".gz" else blob
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DatasetError(f"{where}: cannot be read ({reason(exc)})") from exc


def parse(blob: bytes, ndim: int, where: str) -> np.ndarray:
    """The uint8 array of one IDX file's bytes (decompressed), every size checked."""
    dims = _dims(blob, ndim, where)
    start, size = 4 + 4 * ndim, prod(dims)
    have = len(blob) - start
    if have != size:
        problem = "truncated" if have < size else "too long"
        raise DatasetError(
            f"{where}: {problem}: its header declares {' × '.join(map(str, dims))} = {size:,} "
            f"bytes of data, the file holds {have:,}"
        )
    return np.frombuffer(blob, np.uint8, count=size, offset=start).reshape(dims)


@lru_cache(maxsize=64)
def _header(path: str, mtime_ns: int, size: int, ndim: int, where: str) -> tuple[int, ...]:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(4 + 4 * ndim)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{where}: cannot be read ({reason(exc)})") from exc
    return _dims(head, ndim, where)


def header(path: Path, ndim: int, where: str) -> tuple[int, ...]:
    """The declared sizes from the first bytes only (cached while the file is unchanged)."""
    stat = path.stat()
    return _header(str(path), stat.st_mtime_ns, stat.st_size, ndim, where)


def check_shapes(fmt: IdxFormat, source: Source, dims: dict[str, tuple[int, ...]]) -> None:
    """Images 28x28, as many labels as images in each part."""
    for part in ("train", "test"):
        images, labels = f"{part}_images", f"{part}_labels"
        if tuple(dims[images][1:]) != IMAGE_SIZE:
            raise DatasetError(
                f"{source.shown(images)}: images of {' × '.join(map(str, dims[images][1:]))}; "
                f"{fmt.name} has 28 × 28"
            )
        if dims[labels][0] != dims[images][0]:
            raise DatasetError(
                f"{source.shown(labels)} holds {dims[labels][0]:,} labels but "
                f"{source.shown(images)} holds {dims[images][0]:,} images"
            )


# --------------------------------------------------------------------------- load / list


def load(fmt: IdxFormat, data_dir: Path | None, seed: int, val_size: int | None):
    source = find(fmt, data_dir)
    if source is None:
        raise DatasetError(missing_reason(fmt))
    arrays = {}
    for role, path in source.files.items():
        ndim = 3 if role.endswith("images") else 1
        arrays[role] = parse(_read(path, source.shown(role)), ndim, source.shown(role))
    check_shapes(fmt, source, {role: a.shape for role, a in arrays.items()})
    for role in ("train_labels", "test_labels"):
        if arrays[role].size and int(arrays[role].max()) >= len(fmt.classes):
            raise DatasetError(
                f"{source.shown(role)}: label {int(arrays[role].max())}; "
                f"{fmt.name} has labels 0 to {len(fmt.classes) - 1}"
            )
    labels = arrays["train_labels"].astype(np.int64)
    n_val = splits.held_out(len(labels), val_size)
    train, val = splits.stratified_holdout(labels, n_val, seed)
    images = arrays["train_images"][:, None]  # N, 1, 28, 28
    x = {"train": images[train], "val": images[val], "test": arrays["test_images"][:, None]}
    y = {"train": labels[train], "val": labels[val], "test": arrays["test_labels"]}
    sizes = {part: len(v) for part, v in y.items()}
    split = splits.record(sizes, seed, val_size, True, fingerprint(list(source.files.values())))
    # [choice] no augmentation: pad-and-crop and flips are for 32x32 colour photographs.
    return build(fmt.name, list(fmt.classes), x, y, augment=False, split=split)


def describe(fmt: IdxFormat, data_dir: Path | None, val_size: int | None = None) -> Entry:
    """The picker's entry, from the four headers: no image is decoded."""
    common = {"name": fmt.name, "title": fmt.title, "shape": (1, *IMAGE_SIZE)}
    source = find(fmt, data_dir)
    if source is None:
        return Entry(**common, state=MISSING, expected=expected(fmt), reason=missing_reason(fmt))
    where = source.label if not source.in_package else f"the package {source.label}"
    try:
        dims = {
            role: header(path, 3 if role.endswith("images") else 1, source.shown(role))
            for role, path in source.files.items()
        }
        check_shapes(fmt, source, dims)
        n_val = splits.held_out(dims["train_labels"][0], val_size)
    except (DatasetError, OSError) as exc:
        return Entry(**common, state=INVALID, source=where, reason=reason(exc))
    return Entry(
        **common,
        state=READY,
        num_classes=len(fmt.classes),
        train=dims["train_labels"][0] - n_val,
        val=n_val,
        test=dims["test_labels"][0],
        source=where,
        files=tuple(source.files.values()),
    )
