"""Seeded splits, and the record of a split that a run keeps (docs/ALGORITHM.md §5).

Sets with an official test split (MNIST-format, CIFAR) keep it as the test set and hold
validation out of the training set: `val_size` images, 5,000 by default. Small sets
(digits, image folders) have none: a test split is held out first, then validation.
"""

from __future__ import annotations

import numpy as np

from .base import DatasetError

# The default validation size of sets with an official test split: CIFAR's 45,000 / 5,000
# of the paper, and the same 5,000 of MNIST-format sets' 60,000. A smaller training set
# holds out a tenth (so tiny files stay usable); val_size may not exceed half of it.
VAL_SIZE = 5000
CIFAR_VAL_FRACTION = 0.1
# Small sets (digits, folders) have no official test split: [choice] hold out 20% for
# test, then 30% of the rest for validation, stratified by class. (With 15%, digits'
# 216 validation images saturated at 100% within minutes and selection lost its signal:
# many individuals tied, and "best by validation" became a draw; bench/README.md.)
TEST_FRACTION = 0.2
VAL_FRACTION = 0.3


def held_out(n_train: int, val_size: int | None) -> int:
    """How many of `n_train` official training images validation takes."""
    if val_size is None:
        return min(VAL_SIZE, int(n_train * CIFAR_VAL_FRACTION))
    if not 1 <= val_size <= n_train // 2:
        raise DatasetError(
            f"val_size {val_size} does not fit: between 1 and half of the "
            f"{n_train:,} training images ({n_train // 2:,})"
        )
    return val_size


def random_split(n: int, holdout: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) index arrays, a seeded permutation."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[holdout:]), np.sort(order[:holdout])


def stratified_holdout(labels: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out): exactly `count` images held out, each class in proportion to its
    size (largest remainders get the spare places), members drawn with the seed."""
    classes, sizes = np.unique(labels, return_counts=True)
    quota = sizes * count / len(labels)
    n_held = np.floor(quota).astype(np.int64)
    spare = count - int(n_held.sum())
    n_held[np.argsort(-(quota - n_held), kind="stable")[:spare]] += 1
    return _draw(labels, classes, n_held, np.random.default_rng(seed))


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out): `fraction` of every class held out, at least one when a class
    has two or more images, so validation and test see every class."""
    classes, sizes = np.unique(labels, return_counts=True)
    n_held = np.rint(sizes * fraction).astype(np.int64)
    two = sizes >= 2
    n_held[two] = np.clip(n_held[two], 1, sizes[two] - 1)
    return _draw(labels, classes, n_held, np.random.default_rng(seed))


def _draw(labels, classes, n_held, rng) -> tuple[np.ndarray, np.ndarray]:
    kept, held = [], []
    for label, n in zip(classes, n_held, strict=True):
        members = rng.permutation(np.flatnonzero(labels == label))
        held.append(members[:n])
        kept.append(members[n:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def small_set_indices(labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Test 20% held out first, then validation 30% of the rest (stratified, seeded)."""
    rest, test = stratified_split(labels, TEST_FRACTION, seed)
    train_rel, val_rel = stratified_split(labels[rest], VAL_FRACTION, seed + 1)
    return {"train": rest[train_rel], "val": rest[val_rel], "test": test}


def small_set_sizes(labels: np.ndarray, seed: int = 0) -> dict[str, int]:
    """The sizes of `small_set_indices` (which depend on the class counts only)."""
    return {k: len(v) for k, v in small_set_indices(labels, seed).items()}


def small_set_splits(
    images: np.ndarray, labels: np.ndarray, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """`small_set_indices` applied to images and labels."""
    parts = small_set_indices(labels, seed)
    return {k: images[v] for k, v in parts.items()}, {k: labels[v] for k, v in parts.items()}


def record(
    sizes: dict[str, int], seed: int, val_size: int | None, stratified: bool, source: str
) -> dict:
    """What a run keeps of its split: enough to see that two runs used the same data."""
    return {
        "train": int(sizes["train"]),
        "val": int(sizes["val"]),
        "test": int(sizes["test"]),
        "seed": int(seed),
        "val_size": val_size,
        "stratified": stratified,
        "fingerprint": source,
    }
