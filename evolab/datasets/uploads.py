"""Datasets a team uploads: an archive checked entry by entry, decoded, and stored as one
normalised file, `<data dir>/.uploads/<id>/data.npz`; `upload:<id>` in a run's config.

Accepted archives (zip, or tar for the IDX and CIFAR files):

- a zip of class folders, `<class>/<image>` (one common top folder, as `zip -r set.zip set/`
  makes, is allowed and dropped); images are decoded with Pillow and resized to 32x32 RGB;
- the four MNIST-format IDX files (`train-images-idx3-ubyte[.gz]`, ...), images of at most
  32x32, padded to 32x32 and repeated into three channels;
- CIFAR python-version batches (`data_batch_N`, `test_batch`, `batches.meta`, or CIFAR-100's
  `train`, `test`, `meta`), read with the restricted unpickler of `cifar`.

[choice] Every upload is stored as 3x32x32 uint8, so one input shape serves every upload
(`IN_SHAPES["upload"]`). Nothing from the archive names a path on the server: entries are
read into memory and only `data.npz` is written, under a name made here. Before anything is
read, every entry is checked: no absolute path, no `..`, no link or device, no deeper
nesting than the layout allows, declared sizes within the limits and each entry's
compression ratio bounded (zip bombs); reads are bounded by the declared sizes, and `.gz`
members are decompressed with a cap. Messages never name a server path.
"""

from __future__ import annotations

import io
import re
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from . import cifar, idx, splits
from .archives import Archive, Limits, Member, UploadError, gunzip
from .base import DatasetError, build, fingerprint

PREFIX = "upload:"
FOLDER = ".uploads"  # under the data directory; a dot name is never an image folder
DATA_FILE = "data.npz"
IMAGE_SIZE = 32
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
MAX_CLASS_NAME = 100
ID = re.compile(r"^[1-9][0-9]{0,17}$")
KINDS = ("folder", "idx", "cifar")


@dataclass(frozen=True)
class Summary:
    kind: str
    images: int
    classes: int
    fingerprint: str


# --------------------------------------------------------------------------- where, by id


def parse_name(name: str) -> int | None:
    """The id of `upload:<id>`, or None for any other name."""
    if not isinstance(name, str) or not name.startswith(PREFIX):
        return None
    rest = name[len(PREFIX) :]
    return int(rest) if ID.fullmatch(rest) else None


def folder(data_dir: str | Path, dataset_id: int) -> Path:
    return Path(data_dir) / FOLDER / str(int(dataset_id))


def data_file(data_dir: str | Path | None, name: str) -> Path:
    dataset_id = parse_name(name)
    if dataset_id is None:
        raise DatasetError(f"unknown dataset {name[:40]!r}")
    if data_dir is None:
        raise DatasetError(f"dataset {name[:40]!r} needs a data directory (EVOLAB_DATA_DIR)")
    path = folder(data_dir, dataset_id) / DATA_FILE
    if not path.is_file():
        raise DatasetError(f"uploaded dataset {name[:40]} is not ready (not indexed, or deleted)")
    return path


# --------------------------------------------------------------------------- loading


def _arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError("uploaded dataset: its stored file cannot be read") from exc


def _labels_only(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files if k in ("y", "y_test")}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError("uploaded dataset: its stored file cannot be read") from exc


def _split_indices(y: np.ndarray, y_test: np.ndarray | None, seed: int) -> dict:
    """Small sets: test and validation held out by class; with a test part: validation
    held out of the training part (stratified, the default size)."""
    if y_test is None:
        return splits.small_set_indices(y, seed)
    train, val = splits.stratified_holdout(y, splits.held_out(len(y), None), seed)
    return {"train": train, "val": val, "test": None}


def _sizes(y: np.ndarray, y_test: np.ndarray | None) -> dict[str, int]:
    if y_test is None:
        return splits.small_set_sizes(y)
    n_val = splits.held_out(len(y), None)
    return {"train": len(y) - n_val, "val": n_val, "test": len(y_test)}


def split_record(data_dir: str | Path | None, name: str, seed: int) -> dict:
    path = data_file(data_dir, name)
    arrays = _labels_only(path)
    sizes = _sizes(arrays["y"], arrays.get("y_test"))
    return splits.record(sizes, seed, None, True, fingerprint([path]))


def load(data_dir: str | Path | None, name: str, seed: int):
    path = data_file(data_dir, name)
    a = _arrays(path)
    y_test = a.get("y_test")
    parts = _split_indices(a["y"], y_test, seed)
    x = {k: a["x"][v] for k, v in parts.items() if v is not None}
    y = {k: a["y"][v] for k, v in parts.items() if v is not None}
    if y_test is not None:
        x["test"], y["test"] = a["x_test"], y_test
    record = splits.record({k: len(v) for k, v in y.items()}, seed, None, True, fingerprint([path]))
    classes = [str(c) for c in a["classes"]]
    return build(name, classes, x, y, augment=True, split=record)


def sizes(data_dir: str | Path | None, name: str) -> dict[str, int]:
    """train/val/test sizes of a stored upload (labels read, images not)."""
    arrays = _labels_only(data_file(data_dir, name))
    return _sizes(arrays["y"], arrays.get("y_test"))


# --------------------------------------------------------------------------- the kinds


def detect(archive: Archive) -> str:
    names = {m.parts[-1] for m in archive.members}
    stems = {n.removesuffix(".gz") for n in names}
    if stems & set(idx.ROLES.values()):
        return "idx"
    cifar_names = {n for f in cifar.FORMATS.values() for n in f.members} - {"train", "test"}
    if names & cifar_names or {"train", "test", "meta"} <= names:
        return "cifar"
    return "folder"


class Clock:
    def __init__(self, seconds: float) -> None:
        self.seconds, self.start = seconds, time.monotonic()

    def check(self) -> None:
        if time.monotonic() - self.start > self.seconds:
            raise UploadError(f"indexing took longer than the limit ({self.seconds:g} s)")


def _decode(blob: bytes, where: str, limits: Limits) -> np.ndarray:
    """One image, under the upload's pixel limit (Pillow's MAX_IMAGE_PIXELS, a process-wide
    setting: put back afterwards, so nothing else in the process inherits an upload's)."""
    from PIL import Image

    previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, limits.max_pixels
    try:
        return _decode_limited(blob, where, limits)
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _decode_limited(blob: bytes, where: str, limits: Limits) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # above the limit: refused below, with its size
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(blob))
        with img:
            width, height = img.size
            if width * height > limits.max_pixels:
                raise UploadError(
                    f"{where}: image of {width} x {height} pixels, more than the limit "
                    f"({limits.max_pixels:,} pixels)"
                )
            img = img.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
            return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
    except UploadError:
        raise
    except Image.DecompressionBombError as exc:
        raise UploadError(
            f"{where}: image larger than the limit ({limits.max_pixels:,} pixels)"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UploadError(f"{where}: not a readable image") from exc


def _class_layout(members: list[Member]) -> list[tuple[str, Member]]:
    """(class, member) of a class-folder zip: `<class>/<image>`, or under one top folder."""
    depths = {len(m.parts) for m in members}
    if depths == {3} and len({m.parts[0] for m in members}) == 1:
        members = [Member(m.parts[1:], m.size, m.compressed, m.handle) for m in members]
    out = []
    for m in members:
        where = "/".join(m.parts)[:80]
        if len(m.parts) != 2:
            problem = "too deep" if len(m.parts) > 2 else "outside a class folder"
            raise UploadError(f"entry {where!r}: {problem}; expected <class>/<image>")
        if PurePosixPath(m.parts[1]).suffix.lower() not in IMAGE_SUFFIXES:
            raise UploadError(
                f"entry {where!r}: not an image ({', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        if len(m.parts[0]) > MAX_CLASS_NAME or not m.parts[0].isprintable():
            raise UploadError(f"entry {where!r}: class name too long or not printable")
        out.append((m.parts[0], m))
    return out


def _folder(archive: Archive, limits: Limits, progress, clock: Clock) -> dict[str, np.ndarray]:
    found = sorted(_class_layout(archive.members), key=lambda cm: (cm[0], cm[1].parts))
    classes = sorted({c for c, _ in found})
    if len(classes) < 2:
        raise UploadError("expected at least two class folders with images")
    if len(found) > limits.max_images:
        raise UploadError(f"{len(found):,} images, more than the limit ({limits.max_images:,})")
    index = {c: i for i, c in enumerate(classes)}
    images = np.empty((len(found), 3, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    labels = np.empty(len(found), np.int64)
    for i, (cls, m) in enumerate(found):
        clock.check()
        images[i] = _decode(archive.read(m), "/".join(m.parts)[:80], limits)
        labels[i] = index[cls]
        progress((i + 1) / len(found))
    return {"x": images, "y": labels, "classes": np.array(classes)}


def _by_name(archive: Archive, wanted: set[str]) -> dict[str, Member]:
    found: dict[str, Member] = {}
    for m in archive.members:
        name = m.parts[-1]
        if name in wanted:
            if name in found:
                raise UploadError(f"{name}: found twice in the archive")
            found[name] = m
    return found


def _to_rgb32(images: np.ndarray, where: str) -> np.ndarray:
    """N x H x W grey images of at most 32 x 32, centred on 32 x 32, in three channels."""
    n, h, w = images.shape
    if h > IMAGE_SIZE or w > IMAGE_SIZE or h < 1 or w < 1:
        raise UploadError(f"{where}: images of {h} x {w}; uploads take at most 32 x 32")
    out = np.zeros((n, 3, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    top, left = (IMAGE_SIZE - h) // 2, (IMAGE_SIZE - w) // 2
    out[:, :, top : top + h, left : left + w] = images[:, None]
    return out


def _idx(archive: Archive, limits: Limits, progress, clock: Clock) -> dict[str, np.ndarray]:
    stems = list(idx.ROLES.values())
    found = _by_name(archive, set(stems) | {f"{s}.gz" for s in stems})
    arrays = {}
    for role, stem in idx.ROLES.items():
        m = found.get(stem) or found.get(f"{stem}.gz")
        if m is None:
            raise UploadError(
                f"IDX archive: {stem}[.gz] missing; expected the four files {', '.join(stems)}"
            )
        clock.check()
        blob = archive.read(m)
        if m.parts[-1].endswith(".gz"):
            blob = gunzip(blob, limits.max_bytes, m.parts[-1])
        arrays[role] = idx.parse(blob, 3 if role.endswith("images") else 1, m.parts[-1])
        progress(len(arrays) / 4)
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if len(images) != len(labels):
            raise UploadError(
                f"{idx.ROLES[f'{part}_labels']}: {len(labels):,} labels for {len(images):,} images"
            )
    n = len(arrays["train_images"]) + len(arrays["test_images"])
    if n > limits.max_images:
        raise UploadError(f"{n:,} images, more than the limit ({limits.max_images:,})")
    labels = np.concatenate([arrays["train_labels"], arrays["test_labels"]])
    num_classes = int(labels.max()) + 1 if labels.size else 0
    if num_classes < 2:
        raise UploadError("IDX archive: expected labels of at least two classes")
    return {
        "x": _to_rgb32(arrays["train_images"], idx.ROLES["train_images"]),
        "y": arrays["train_labels"].astype(np.int64),
        "x_test": _to_rgb32(arrays["test_images"], idx.ROLES["test_images"]),
        "y_test": arrays["test_labels"].astype(np.int64),
        "classes": np.array([str(c) for c in range(num_classes)]),
    }


def _cifar(archive: Archive, limits: Limits, progress, clock: Clock) -> dict[str, np.ndarray]:
    names = {m.parts[-1] for m in archive.members}
    fmt = cifar.FORMATS[
        "cifar100" if "meta" in names and "batches.meta" not in names else "cifar10"
    ]
    found = _by_name(archive, set(fmt.members))
    for needed in (fmt.test_member, fmt.meta_member):
        if needed not in found:
            raise UploadError(f"CIFAR archive: {needed} missing ({fmt.title} python version)")
    train = [m for m in fmt.train_members if m in found]
    if not train:
        raise UploadError(f"CIFAR archive: no training batch ({', '.join(fmt.train_members)})")
    xs, ys = [], []
    steps = len(train) + 2
    for i, name in enumerate([*train, fmt.test_member]):
        clock.check()
        x, y = cifar._batch(archive.read(found[name]), fmt, name)
        xs.append(x)
        ys.append(y)
        progress((i + 1) / steps)
    meta = cifar._unpickle(archive.read(found[fmt.meta_member]), fmt.meta_member)
    classes = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(fmt.names_key, [])]
    if len(classes) < 2 or any(len(c) > MAX_CLASS_NAME for c in classes):
        raise UploadError(f"{fmt.meta_member}: no usable {fmt.names_key.decode()} list")
    n = sum(len(y) for y in ys)
    if n > limits.max_images:
        raise UploadError(f"{n:,} images, more than the limit ({limits.max_images:,})")
    for y, name in zip(ys, [*train, fmt.test_member], strict=True):
        if y.size and (int(y.min()) < 0 or int(y.max()) >= len(classes)):
            raise UploadError(f"{name}: labels outside 0 to {len(classes) - 1}")
    return {
        "x": np.concatenate(xs[:-1]),
        "y": np.concatenate(ys[:-1]),
        "x_test": xs[-1],
        "y_test": ys[-1],
        "classes": np.array(classes),
    }


READERS: dict[str, Callable] = {"folder": _folder, "idx": _idx, "cifar": _cifar}


def index_archive(
    archive_path: Path,
    out_dir: Path,
    limits: Limits,
    progress: Callable[[float], None] = lambda _f: None,
) -> Summary:
    """Check, decode and store an uploaded archive as `out_dir/data.npz`. Raises UploadError
    (DatasetError) with a message for the user; the caller removes `out_dir` then."""
    clock = Clock(limits.seconds)
    archive = Archive(Path(archive_path), limits)
    try:
        kind = detect(archive)
        arrays = READERS[kind](archive, limits, progress, clock)
    finally:
        archive.close()
    if kind != "folder" and len(arrays["y"]) < 10:
        raise UploadError("expected at least ten training images")
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / "data.partial.npz"
    np.savez(partial, **arrays)
    target = out_dir / DATA_FILE
    partial.replace(target)
    return Summary(kind, int(len(arrays["y"]) + len(arrays.get("y_test", ()))),
                   int(len(arrays["classes"])), fingerprint([target]))  # fmt: skip
