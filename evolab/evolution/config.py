"""The configuration of one run: the single dataclass the web app and the headless runner share.

`evolab.experiments.config.validate_config` checks a user's JSON into it (the form and the
API), and `python -m workers.evolve` parses its flags into it (`RunConfig.evolution`). The
engine (`step.py`) reads nothing else. docs/ALGORITHM.md says which field is the paper's rule
and which is a choice of ours.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

SELECTIONS = ("tournament", "aging", "random")
# Input shape (C, H, W) per dataset kind; image folders are resized to 32x32 RGB on load.
IN_SHAPES = {
    "digits": (1, 8, 8),
    "mnist": (1, 28, 28),
    "fashion-mnist": (1, 28, 28),
    "kmnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
    "cifar100": (3, 32, 32),
    "folder": (3, 32, 32),
    "upload": (3, 32, 32),  # a team's upload, stored as 32x32 RGB (evolab.datasets.uploads)
}
# The sets with an official test split, whose validation images are held out of the training
# set: `val_size` of them (None: 5,000, or a tenth of a smaller set). evolab.datasets too.
WITH_TEST_SPLIT = ("mnist", "fashion-mnist", "kmnist", "cifar10", "cifar100")
MAX_SAMPLE_SIZE = 25  # aging S: Real et al. 2019 sample S=25 of P=100


def auto_sample_size(population: int) -> int:
    """Aging's S when the config leaves it unset: P/4, as in the 2019 paper (25 of 100), at
    least 2 (a sample of one is random search) and at most 25."""
    return max(2, min(MAX_SAMPLE_SIZE, population // 4))


@dataclass(frozen=True)
class EvolutionConfig:
    dataset: str = "digits"
    population: int = 20  # the set-point P: alive + in training
    workers: int = 2  # asynchronous workers W (the web app's step chains)
    steps_per_child: int = 300  # SGD steps each child trains (the runner's --steps)
    max_individuals: int = 200  # budget: children conceived, the initial P included
    selection: str = "tournament"
    sample_size: int | None = None  # aging only: S drawn with replacement; None = auto
    seed: int = 1
    batch_size: int = 50  # docs/ALGORITHM.md §5
    mutations_per_child: int = 1  # exactly one in the paper; the escape knob raises it
    max_seconds: int | None = None  # budget: wall time
    max_flops: float | None = None  # budget: training + validation FLOPs
    target_accuracy: float | None = None  # budget: stop at this validation accuracy (0-1)
    plateau_individuals: int | None = None  # auto escape: boost mutations after N without gain
    ensemble_k: int = 2
    val_size: int | None = None  # validation images held out of an official training set

    @property
    def dataset_kind(self) -> str:
        return self.dataset.split(":", 1)[0]

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return IN_SHAPES[self.dataset_kind]

    @property
    def aging_sample_size(self) -> int:
        if self.sample_size is not None:
            return self.sample_size
        return auto_sample_size(self.population)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
