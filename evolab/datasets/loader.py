"""`load_dataset`: the one loader of the web app's workers and the headless runner, by name,
with seeded splits, cached once per process."""

from __future__ import annotations

from pathlib import Path

from . import cifar, digits, folders, idx, uploads
from .base import Dataset, DatasetError

DATASETS: tuple[str, ...] = ("digits", *idx.FORMATS, *cifar.FORMATS, "folder:<name>")
BUILTIN = tuple(d for d in DATASETS if not d.startswith(folders.PREFIX))
# A team's upload, `upload:<id>` (evolab.datasets.uploads); the web checks the team.
# Sets with an official test split: their validation is held out of the training set, and
# its size is the config's `val_size` (docs/ALGORITHM.md §5).
WITH_TEST_SPLIT = (*idx.FORMATS, *cifar.FORMATS)

# One load per process: a worker trains many children on the same data.
_CACHE: dict[tuple, Dataset] = {}


def is_known(name: str) -> bool:
    return (
        name in BUILTIN or name.startswith(folders.PREFIX) or uploads.parse_name(name) is not None
    )


def unknown(name: str) -> DatasetError:
    return DatasetError(f"unknown dataset {name[:40]!r}; expected one of {', '.join(DATASETS)}")


def check_name(name: str, val_size: int | None) -> None:
    """A known name, and val_size only for the sets it applies to."""
    if not is_known(name):
        raise unknown(name)
    if val_size is not None and name not in WITH_TEST_SPLIT:
        raise DatasetError(
            f"val_size applies to the sets with a test split ({', '.join(WITH_TEST_SPLIT)}); "
            f"{name[:40]} holds out fixed fractions"
        )


def load_dataset(
    name: str, data_dir: str | Path | None, seed: int, val_size: int | None = None
) -> Dataset:
    """Load `digits`, `mnist`, `fashion-mnist`, `kmnist`, `cifar10`, `cifar100` or
    `folder:<subdir>` with seeded splits; `val_size` for the sets with a test split."""
    root = "" if name == "digits" or data_dir is None else str(Path(data_dir).resolve())
    key = (name, root, seed, val_size)
    if key not in _CACHE:
        _CACHE[key] = _load_uncached(name, None if data_dir is None else Path(data_dir), seed,
                                     val_size)  # fmt: skip
    return _CACHE[key]


def clear_cache() -> None:
    _CACHE.clear()


def _load_uncached(name: str, data_dir: Path | None, seed: int, val_size: int | None) -> Dataset:
    check_name(name, val_size)
    if name == "digits":
        return digits.load(seed)
    if name in idx.FORMATS:  # may also come from a system package: no data_dir needed
        return idx.load(idx.FORMATS[name], data_dir, seed, val_size)
    if data_dir is None:
        raise DatasetError(
            f"dataset {name[:40]!r} needs a data directory (EVOLAB_DATA_DIR or --data-dir)"
        )
    if name in cifar.FORMATS:
        return cifar.load(cifar.FORMATS[name], data_dir, seed, val_size)
    if name.startswith(uploads.PREFIX):
        return uploads.load(data_dir, name, seed)
    return folders.load(data_dir, name[len(folders.PREFIX) :], seed)
