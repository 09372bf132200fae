"""scikit-learn's 1,797 8x8 digits: bundled with scikit-learn, nothing to install."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import splits
from .base import READY, Dataset, Entry, build, fingerprint

CLASSES = [str(c) for c in range(10)]
RAW_MAX = 16  # scikit-learn's pixels are counts 0..16 (of a 4x4 block), stored as 0..255
# Images per class in scikit-learn's copy, so the listing knows the split sizes without
# importing scikit-learn (a second of start-up in the web process); a test checks them.
CLASS_COUNTS = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)
_LABELS = np.repeat(np.arange(len(CLASS_COUNTS)), CLASS_COUNTS)


@lru_cache(maxsize=1)
def _arrays() -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 1, 8, 8) with values 0..RAW_MAX scaled to 0..255 (rounded), and labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / RAW_MAX)).clip(0, 255).astype(np.uint8)[:, None]
    labels = bunch.target.astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False  # shared by every load
    return images, labels


def source_file() -> Path:
    """scikit-learn's file of the digits, found without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    return Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"


def split_record(seed: int) -> dict:
    """Sizes, seed and the source file's sha256: what a run on digits keeps of its split."""
    sizes = splits.small_set_sizes(_LABELS)
    return splits.record(sizes, seed, None, True, fingerprint([source_file()]))


def load(seed: int) -> Dataset:
    images, labels = _arrays()
    x, y = splits.small_set_splits(images, labels, seed)
    return build("digits", CLASSES, x, y, augment=False, split=split_record(seed))


def describe() -> Entry:
    return Entry(
        name="digits",
        title="scikit-learn digits (8×8)",
        state=READY,
        shape=(1, 8, 8),
        num_classes=len(CLASSES),
        source="bundled with scikit-learn",
        **splits.small_set_sizes(_LABELS),
    )
