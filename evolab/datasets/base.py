"""What every dataset kind shares: the Dataset handed to training, the catalog Entry a
listing shows, the error, and how a message names a file without its server path."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

# Messages and listings name files relative to the data directory, never by their absolute
# path on the server: "EVOLAB_DATA_DIR/cifar-10-batches-py".
DATA_DIR = "EVOLAB_DATA_DIR"


class DatasetError(ValueError):
    """A dataset cannot be loaded; the message names the expected file and format."""


def shown(path: Path, root: Path | None) -> str:
    """`path` as messages show it: EVOLAB_DATA_DIR/<relative path>, or its bare name."""
    if root is not None:
        try:
            return f"{DATA_DIR}/{Path(path).relative_to(root).as_posix()}"
        except ValueError:
            pass
    return Path(path).name


def reason(exc: BaseException) -> str:
    """An exception's text without the file name an OSError carries."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


@dataclass(frozen=True)
class Dataset:
    """Three uint8 splits plus what the training loop needs to normalise them.

    `mean` and `std` are per channel, on the [0, 1] scale, computed on the train split.
    `split` records how the splits were made (sizes, seed, fingerprint of the files).
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
    split: dict = field(default_factory=dict)

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


def channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std on the [0, 1] scale of uint8 NCHW images, from a histogram of
    the 256 values (no float copy of the whole set). A constant channel gets std 1."""
    values = np.arange(256, dtype=np.float64) / 255.0
    means, stds = [], []
    for c in range(images.shape[1]):
        hist = np.bincount(images[:, c].reshape(-1), minlength=256).astype(np.float64)
        total = hist.sum()
        mean = float(hist @ values / total)
        std = float(np.sqrt(hist @ (values - mean) ** 2 / total))
        means.append(mean)
        stds.append(std if std >= 1e-6 else 1.0)
    return tuple(means), tuple(stds)


def build(
    name: str,
    classes: list[str],
    x: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    augment: bool,
    split: dict | None = None,
) -> Dataset:
    """Wrap numpy splits (uint8 NCHW, int labels) as a Dataset with train statistics."""
    mean, std = channel_stats(x["train"])
    tensors = {}
    for part in ("train", "val", "test"):
        # Writable and contiguous for torch; copies only what is not (e.g. a read-only buffer).
        tensors[f"{part}_x"] = torch.from_numpy(np.require(x[part], np.uint8, ["C", "W"]))
        tensors[f"{part}_y"] = torch.from_numpy(np.require(y[part], np.int64, ["C", "W"]))
    return Dataset(
        name=name,
        classes=classes,
        in_shape=tuple(int(d) for d in x["train"].shape[1:]),
        mean=mean,
        std=std,
        augment=augment,
        split=dict(split or {}),
        **tensors,
    )


# --------------------------------------------------------------------------- catalog entry

READY, MISSING, INVALID = "ready", "missing", "invalid"


@dataclass(frozen=True)
class Entry:
    """One dataset as the picker lists it, found from file headers and names only.

    `state` is ready (sizes known), missing (`expected` says which files, where) or invalid
    (files there but unusable: `reason`). `files` are the source files, for the fingerprint.
    """

    name: str
    title: str
    state: str
    shape: tuple[int, int, int]
    num_classes: int | None = None
    train: int | None = None
    val: int | None = None
    test: int | None = None
    stratified: bool = True
    source: str = ""
    expected: tuple[str, ...] = ()
    reason: str = ""
    files: tuple[Path, ...] = ()

    def to_json(self) -> dict:
        out = asdict(self)
        del out["files"]
        out["shape"], out["expected"] = list(self.shape), list(self.expected)
        return out


_FINGERPRINTS: dict[tuple, str] = {}


def fingerprint(files: tuple[Path, ...] | list[Path]) -> str:
    """sha256 of the source files' bytes as stored, in order; cached by path, size and time."""
    path, stats = Path(), []
    try:
        for path in files:
            stat = path.stat()
            stats.append((str(path), stat.st_size, stat.st_mtime_ns))
        key = tuple(stats)
        if key not in _FINGERPRINTS:
            digest = hashlib.sha256()
            for path in files:
                with open(path, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        digest.update(chunk)
            _FINGERPRINTS[key] = f"sha256:{digest.hexdigest()}"
    except OSError as exc:
        raise DatasetError(f"{path.name}: cannot be read ({reason(exc)})") from exc
    return _FINGERPRINTS[key]
