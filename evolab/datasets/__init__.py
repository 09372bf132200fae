"""Datasets for evolution: scikit-learn's `digits` demo set, the MNIST-format sets (MNIST,
Fashion-MNIST, KMNIST) from their IDX files, CIFAR-10/100 from the standard local files,
and image folders.

Everything is decoded once, at load, into uint8 tensors (N, C, H, W) so the training
loop can keep the whole split on the device and gather batches by index
(`workers.training`). Splits are fixed by a seed per experiment; the test split is
held out of evolution entirely (docs/ALGORITHM.md §5: fitness is validation accuracy only).

One job a module: `base` (Dataset, errors, catalog entries), `splits`, `digits`, `idx`,
`cifar`, `folders` (one kind of set each), `loader` (load by name, cached) and `catalog`
(what is installed, without decoding).
"""

from .base import Dataset, DatasetError, Entry
from .catalog import check_available, describe, list_datasets, split_record
from .folders import IMAGE_SIZE as FOLDER_IMAGE_SIZE
from .folders import IMAGE_SUFFIXES, safe_folder
from .folders import PREFIX as FOLDER_PREFIX
from .loader import BUILTIN, DATASETS, WITH_TEST_SPLIT, clear_cache, is_known, load_dataset
from .splits import CIFAR_VAL_FRACTION, TEST_FRACTION, VAL_FRACTION, VAL_SIZE
from .splits import small_set_splits as _small_set_splits

__all__ = [
    "BUILTIN",
    "CIFAR_VAL_FRACTION",
    "DATASETS",
    "FOLDER_IMAGE_SIZE",
    "FOLDER_PREFIX",
    "IMAGE_SUFFIXES",
    "TEST_FRACTION",
    "VAL_FRACTION",
    "VAL_SIZE",
    "WITH_TEST_SPLIT",
    "Dataset",
    "DatasetError",
    "Entry",
    "_small_set_splits",
    "check_available",
    "clear_cache",
    "describe",
    "is_known",
    "list_datasets",
    "load_dataset",
    "safe_folder",
    "split_record",
]
