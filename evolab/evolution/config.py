"""The configuration of one run: the single dataclass the web app and the headless runner share.

`evolab.experiments.config.validate_config` checks a user's JSON into it (the form and the
API), and `python -m workers.evolve` parses its flags into it (`RunConfig.evolution`). The
engine (`step.py`) reads nothing else. docs/ALGORITHM.md says which field is the paper's rule
and which is a choice of ours.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
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


# What each selection scheme does, in a few words (the run form's choices).
SELECTION_HELP = {
    "tournament": "the paper: the better of two breeds, the worse dies",
    "aging": "Real et al. 2019: the oldest dies",
    "random": "control: random search, the worst dies",
}


def setting(
    default: Any, label: str, help: str, unit: str = "", empty: str = "", choices=None
) -> Any:
    """A config field with what it means: its label, help and unit (the run form and the API
    schema show them: evolab.experiments.config_form), for an optional one what leaving it
    unset (None) does, and for a choice what each choice does."""
    meta = {"label": label, "help": help, "unit": unit, "empty": empty, "choices": choices}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class EvolutionConfig:
    dataset: str = setting("digits", "Dataset", "The images the population learns to classify.")
    population: int = setting(
        20, "Population size", "The set-point P: alive + in training. The paper: 1,000.",
        unit="individuals",
    )  # fmt: skip
    workers: int = setting(
        2, "Parallel workers",
        "Children trained at once (asynchronous workers W; the paper: 250). Also changeable "
        "while the run goes.", unit="workers",
    )  # fmt: skip
    steps_per_child: int = setting(
        300, "Training steps per child",
        "SGD steps each child trains from its parent's weights. The paper: 25,600.",
        unit="steps",
    )  # fmt: skip
    max_individuals: int = setting(
        200, "Maximum individuals",
        "Budget: children conceived, the initial population included; a child that fails is "
        "conceived again (up to the population size).", unit="individuals",
    )  # fmt: skip
    selection: str = setting(
        "tournament", "Selection", "Who breeds and who dies.", choices=SELECTION_HELP
    )
    sample_size: int | None = setting(
        None, "Aging sample size",
        "Aging only: S individuals drawn with replacement; the best breeds.",
        unit="individuals", empty=f"auto: P/4, 2 to {MAX_SAMPLE_SIZE}",
    )  # fmt: skip
    seed: int = setting(
        1, "Seed",
        "Fixes the split and the draws: with 1 parallel worker the same seed replays the same "
        "run (with more, the order children finish in varies).",
    )  # fmt: skip
    batch_size: int = setting(50, "Batch size", "Images per SGD step. The paper: 50.",
                              unit="images")  # fmt: skip
    mutations_per_child: int = setting(
        1, "Mutations per child", "Mutations applied to each child's copy of its parent's DNA. "
        "The paper: exactly one; more explores faster and breaks more.", unit="mutations",
    )  # fmt: skip
    max_seconds: int | None = setting(
        None, "Wall-time budget", "Budget: stop after this much wall time (3600 = 1 hour).",
        unit="seconds", empty="no time limit",
    )  # fmt: skip
    max_flops: float | None = setting(
        None, "Maximum FLOPs", "Budget: training + validation FLOPs of every individual, e.g. "
        "1e15 (the paper's CIFAR-10 run: ~9e19).", unit="FLOPs", empty="no compute limit",
    )  # fmt: skip
    target_accuracy: float | None = setting(
        None, "Stop at validation accuracy",
        "Budget: stop once the best validation accuracy reaches this (a fraction).",
        unit="0–1", empty="no target",
    )  # fmt: skip
    plateau_individuals: int | None = setting(
        None, "Plateau auto-escape",
        "After this many children without a better best, the next P children get 5 mutations "
        "each (the paper's escape).", unit="children", empty="off",
    )  # fmt: skip
    ensemble_k: int = setting(
        2, "Ensemble size k", "The run's ensemble: the majority vote of the top k by "
        "validation (their weights are kept).", unit="individuals",
    )  # fmt: skip
    val_size: int | None = setting(
        None, "Validation images", "Held out of the training set of the sets with a test "
        f"split ({', '.join(WITH_TEST_SPLIT)}); digits, image folders and uploads hold out "
        "fixed fractions.", unit="images", empty="5,000 (a tenth of a set under 50,000)",
    )  # fmt: skip

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

    @classmethod
    def described(cls) -> dict[str, dict[str, Any]]:
        """Each field's label, help, unit and unset meaning, with its default, in order."""
        return {f.name: {**f.metadata, "default": f.default} for f in fields(cls)}
