"""The headless path of `bench/fidelity`: the same config run by `python -m workers.evolve`.

The engine's config (evolab.evolution.config.EvolutionConfig, which the web app validates
a run's JSON into) maps onto the runner's flags one to one; its report (`--out`) gives the
same facts the product's API does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# EvolutionConfig field -> the runner's flag (workers/evolve/config.py).
FLAGS = {
    "dataset": "--dataset",
    "population": "--population",
    "workers": "--workers",
    "steps_per_child": "--steps",
    "selection": "--selection",
    "sample_size": "--sample-size",
    "seed": "--seed",
    "batch_size": "--batch-size",
    "mutations_per_child": "--mutations-per-child",
    "max_seconds": "--time-budget",
    "ensemble_k": "--ensemble-k",
    "val_size": "--val-size",
}


def command(config: dict, out: Path) -> list[str]:
    """The runner's command line for one web config (no individual limit: time decides)."""
    argv = [sys.executable, "-m", "workers.evolve", "--individuals", "0", "--device", "cpu"]
    for key, value in config.items():
        if key in FLAGS and value is not None:
            argv += [FLAGS[key], str(value)]
    return argv + ["--quiet", "--out", str(out)]


def run(config: dict, out: Path) -> dict:
    argv = command(config, out)
    print(f"[headless] {' '.join(argv[1:])}", file=sys.stderr, flush=True)
    subprocess.run(argv, cwd=ROOT, check=True)
    return facts(json.loads(out.read_text()))


def facts(report: dict) -> dict:
    """One run's row, from the runner's report (the same keys as the product's rows)."""
    best, totals = report["best"] or {}, report["totals"]
    ensemble = best.get("ensemble") or {}
    return {
        "status": "finished",
        "failure_reason": None,
        "individuals": totals["individuals"],
        "diverged": totals["diverged"],
        "wall_s": totals["wall_s"],
        "children_per_min": totals["children_per_min"],
        "best_val": best.get("val_accuracy"),
        "best_test": best.get("test_accuracy"),
        "ensemble_test": ensemble.get("test_accuracy"),
        "curve": [
            {"t_s": p["t_s"], "best_val_accuracy": p["best_val_accuracy"]} for p in report["curve"]
        ],
        "config": report["config"],
        "dataset_split": report["dataset_split"],
        "mutation_counts": report["mutation_counts"],
    }
