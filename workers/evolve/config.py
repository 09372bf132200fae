"""Command-line flags of the headless runner, as one validated RunConfig.

`RunConfig.evolution` is the engine's config (evolab.evolution.config.EvolutionConfig), the
same dataclass the web app validates a run's JSON into; the rest (data folder, device,
output, progress bar) is the runner's own.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, replace

from evolab.datasets import DATASETS, WITH_TEST_SPLIT, is_known
from evolab.environment import TrainingOptions, env_path, training_options
from evolab.evolution.config import EvolutionConfig
from evolab.evolution.selection import SCHEMES
from workers.training import BATCH_SIZE


@dataclass
class RunConfig:
    dataset: str = "digits"
    data_dir: str | None = None
    population: int = 20
    individuals: int | None = 200
    time_budget: float | None = None
    target_accuracy: float | None = None
    steps: int = 300
    seed: int = 1
    selection: str = "tournament"
    sample_size: int | None = None
    workers: int = 1
    mutations_per_child: int = 1
    ensemble_k: int = 2
    val_size: int | None = None
    batch_size: int = BATCH_SIZE
    device: str = "auto"
    out: str | None = None
    quiet: bool = False

    @property
    def evolution(self) -> EvolutionConfig:
        """The engine's config of this run: what the web app would store for it."""
        return EvolutionConfig(
            dataset=self.dataset,
            population=self.population,
            workers=self.workers,
            steps_per_child=self.steps,
            max_individuals=self.individuals,  # type: ignore[arg-type]  (None: no limit)
            selection=self.selection,
            sample_size=self.sample_size,
            seed=self.seed,
            batch_size=self.batch_size,
            mutations_per_child=self.mutations_per_child,
            max_seconds=self.time_budget,  # type: ignore[arg-type]
            target_accuracy=self.target_accuracy,
            ensemble_k=self.ensemble_k,
            val_size=self.val_size,
        )

    @property
    def training(self) -> TrainingOptions:
        """EVOLAB_CPU_BF16, EVOLAB_CUDA_GRAPHS, EVOLAB_MAX_CHILD_MEMORY_MB as the web workers
        read them, with --device for EVOLAB_DEVICE."""
        return replace(training_options(), device=self.device)


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def parse_args(argv: list[str] | None = None) -> RunConfig:
    p = argparse.ArgumentParser(
        prog="python -m workers.evolve",
        description="Evolve image classifiers (Real et al. 2017) without the web app.",
    )
    p.add_argument("--dataset", default="digits", help=f"one of {', '.join(DATASETS)}")
    p.add_argument("--data-dir", default=None, help="default: EVOLAB_DATA_DIR, else var/data")
    p.add_argument("--population", type=int, default=20, help="set-point P")
    p.add_argument(
        "--individuals",
        "--max-individuals",
        type=int,
        default=200,
        help="budget: children trained, incl. the initial P (0: no limit)",
    )
    p.add_argument(
        "--time-budget",
        "--max-seconds",
        type=float,
        default=None,
        help="budget: seconds of wall time",
    )
    p.add_argument(
        "--target-accuracy", type=float, default=None, help="stop at this validation accuracy (0-1)"
    )
    p.add_argument(
        "--steps", "--steps-per-child", type=int, default=300, help="SGD steps per child"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--selection", choices=sorted(SCHEMES), default="tournament")
    p.add_argument("--sample-size", type=int, default=None, help="aging S (default min(25, P/4))")
    p.add_argument("--workers", type=int, default=cpu_cores(), help="parallel worker processes")
    p.add_argument("--mutations-per-child", type=int, default=1)
    p.add_argument("--ensemble-k", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    p.add_argument(
        "--val-size",
        type=int,
        default=None,
        help=f"validation images held out of the training set of {', '.join(WITH_TEST_SPLIT)} "
        "(default 5,000, or a tenth of a smaller training set; at most half)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cuda or cpu")
    p.add_argument("--out", default=None, help="write the run as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")  # fmt: skip
    args = p.parse_args(argv)
    config = RunConfig(**{k: v for k, v in vars(args).items()})
    try:
        if config.data_dir is None:  # read at start-up, strictly, like the web's settings
            config.data_dir = env_path("EVOLAB_DATA_DIR") or "var/data"
        config.training  # noqa: B018  (a bad EVOLAB_* switch stops here, with its name)
    except ValueError as exc:
        p.error(str(exc))
    if config.individuals == 0:
        config.individuals = None
    problem = _config_problem(config)
    if problem:
        p.error(problem)
    return config


def _config_problem(c: RunConfig) -> str | None:
    if not is_known(c.dataset):
        return f"--dataset must be one of {', '.join(DATASETS)}"
    if c.val_size is not None and (c.dataset not in WITH_TEST_SPLIT or c.val_size < 1):
        return f"--val-size is a positive number of images, for {', '.join(WITH_TEST_SPLIT)}"
    positive = {"--population": c.population, "--steps": c.steps, "--workers": c.workers,
                "--mutations-per-child": c.mutations_per_child, "--ensemble-k": c.ensemble_k,
                "--batch-size": c.batch_size}  # fmt: skip
    for flag, value in positive.items():
        if value < 1:
            return f"{flag} must be at least 1"
    if c.population < 2:
        return "--population must be at least 2 (selection compares two individuals)"
    if c.individuals is not None and c.individuals < c.population:
        return "--individuals must be at least --population (the initial population counts)"
    if c.individuals is None and c.time_budget is None and c.target_accuracy is None:
        return "give a budget: --individuals, --time-budget or --target-accuracy"
    if c.time_budget is not None and c.time_budget <= 0:
        return "--time-budget must be positive"
    if c.target_accuracy is not None and not 0 < c.target_accuracy <= 1:
        return "--target-accuracy is a fraction in (0, 1]"
    if c.sample_size is not None and c.sample_size < 1:
        return "--sample-size must be at least 1"
    return None
