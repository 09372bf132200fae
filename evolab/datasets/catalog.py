"""What is installed: the picker's list (`GET /api/datasets/`, the run form), the check a
run passes before it is created, and the split record it keeps. Cheap: file names and
headers only, nothing decoded (fingerprints read the files' bytes, cached while unchanged)."""

from __future__ import annotations

from pathlib import Path

from . import cifar, digits, folders, idx, splits, uploads
from .base import READY, DatasetError, Entry, fingerprint
from .loader import check_name

# The standard sets' folders are not image folders.
RESERVED = {f.folder for f in idx.FORMATS.values()} | {f.folder for f in cifar.FORMATS.values()}


def _root(data_dir: str | Path | None) -> Path | None:
    return None if data_dir is None else Path(data_dir)


def list_datasets(data_dir: str | Path | None) -> list[Entry]:
    """Every known set with its state, then the image folders found under `data_dir`."""
    root = _root(data_dir)
    return [
        digits.describe(),
        *(idx.describe(fmt, root) for fmt in idx.FORMATS.values()),
        *(cifar.describe(fmt, root) for fmt in cifar.FORMATS.values()),
        *folders.describe_all(root, RESERVED),
    ]


def describe(name: str, data_dir: str | Path | None, val_size: int | None = None) -> Entry:
    """The entry of one set (DatasetError for an unknown name or a bad folder name)."""
    check_name(name, val_size)
    root = _root(data_dir)
    if name == "digits":
        return digits.describe()
    if name in idx.FORMATS:
        return idx.describe(idx.FORMATS[name], root, val_size)
    if root is None:
        raise DatasetError(f"dataset {name[:40]!r} needs a data directory (EVOLAB_DATA_DIR)")
    if name in cifar.FORMATS:
        return cifar.describe(cifar.FORMATS[name], root, val_size)
    if name.startswith(uploads.PREFIX):  # a team's upload: the web checks the team first
        return Entry(name, f"upload {name[len(uploads.PREFIX) :]}", READY, (3, 32, 32),
                     **uploads.sizes(root, name))  # fmt: skip
    folder = name[len(folders.PREFIX) :]
    folders.safe_folder(root, folder)  # a bad name is an error, not a listed entry
    return folders.describe(root, folder)


def check_available(name: str, data_dir: str | Path | None, val_size: int | None = None) -> Entry:
    """The entry of `name` if it is ready, else DatasetError saying what is expected where.
    Cheap, so the web checks a form before a run starts."""
    entry = describe(name, data_dir, val_size)
    if entry.state != READY:
        raise DatasetError(entry.reason)
    return entry


def split_record(
    name: str, data_dir: str | Path | None, seed: int, val_size: int | None = None
) -> dict:
    """What a run on `name` records of its split: the same as the loaded Dataset.split
    (sizes, seed, val_size, a sha256 of the source files), without decoding anything."""
    entry = check_available(name, data_dir, val_size)
    if name == "digits":
        return digits.split_record(seed)
    if name.startswith(uploads.PREFIX):
        return uploads.split_record(data_dir, name, seed)
    if name.startswith(folders.PREFIX):
        return folders.split_record(Path(data_dir), name[len(folders.PREFIX) :], seed)
    sizes = {"train": entry.train, "val": entry.val, "test": entry.test}
    return splits.record(sizes, seed, val_size, entry.stratified, fingerprint(entry.files))
