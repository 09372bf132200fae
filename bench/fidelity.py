"""Fidelity benchmark: the paper's loop on `digits` from the trivial initial population.

Runs the headless runner (`python -m workers.evolve`) once per seed under a wall-clock
budget, prints one row per seed and the median, and prints two reference baselines
trained on the same split side by side: logistic regression on pixels and a
hand-designed 3-conv CNN trained by the same `train_child` loop. Curves and reports
go to bench/results/.

    bench/fidelity                      # 3 seeds x 600 s
    bench/fidelity --quick              # 1 seed x 60 s, a smoke test
    bench/fidelity --time-budget 300 --population 30 --steps 400
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the repo root holds workers/ and evolab/
RESULTS = ROOT / "bench" / "results"


@dataclass
class Row:
    seed: int
    initial_val: float
    best_val: float
    best_test: float
    ensemble_test: float
    individuals: int
    wall_s: float
    children_per_min: float
    mutation_counts: dict[str, int]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/fidelity", description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--time-budget", type=float, default=600.0, help="seconds per seed")
    p.add_argument("--quick", action="store_true", help="one seed, 60 s")
    p.add_argument("--population", type=int, default=20)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--workers", type=int, default=None, help="default: CPU cores")
    p.add_argument("--selection", default="tournament")
    p.add_argument("--ensemble-k", type=int, default=2)
    p.add_argument("--no-baselines", action="store_true")
    p.add_argument("--tag", default="fidelity", help="file name prefix in bench/results")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.time_budget = args.seeds[:1], 60.0
    return args


def run_seed(args: argparse.Namespace, seed: int) -> dict:
    out = RESULTS / f"{args.tag}-seed{seed}.json"
    cmd = [
        sys.executable, "-m", "workers.evolve", "--dataset", "digits",
        "--population", str(args.population), "--individuals", "0",
        "--time-budget", str(args.time_budget), "--steps", str(args.steps),
        "--seed", str(seed), "--selection", args.selection,
        "--ensemble-k", str(args.ensemble_k), "--device", "cpu", "--quiet", "--out", str(out),
    ]  # fmt: skip
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    subprocess.run(cmd, cwd=ROOT, check=True)
    return json.loads(out.read_text())


def summarise(seed: int, report: dict) -> Row:
    initial = [i["val_accuracy"] for i in report["individuals"] if i["parent"] is None]
    initial = initial[: report["config"]["population"]]
    best = report["best"]
    return Row(
        seed=seed,
        initial_val=max(initial),
        best_val=best["val_accuracy"],
        best_test=best["test_accuracy"],
        ensemble_test=best["ensemble"]["test_accuracy"],
        individuals=report["totals"]["individuals"],
        wall_s=report["totals"]["wall_s"],
        children_per_min=report["totals"]["children_per_min"],
        mutation_counts=report["mutation_counts"],
    )


def write_curves(rows: list[tuple[int, dict]], tag: str) -> Path:
    path = RESULTS / f"{tag}-curves.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["seed", "t_s", "individuals", "best_val_accuracy"])
        for seed, report in rows:
            for point in report["curve"]:
                writer.writerow(
                    [seed, point["t_s"], point["individuals"], point["best_val_accuracy"]]
                )
    return path


def baselines(seed: int) -> dict[str, float]:
    """Reference points on the same split: what evolution should approach."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from torch import nn

    from evolab.datasets import load_dataset
    from workers.training import evaluate, train_child

    data = load_dataset("digits", None, seed)
    flat = lambda x: (x.reshape(len(x), -1).float() / 255).numpy()  # noqa: E731
    logreg = LogisticRegression(max_iter=2000).fit(flat(data.train_x), data.train_y.numpy())
    started = time.monotonic()
    torch.manual_seed(seed)
    cnn = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )  # fmt: skip
    train_child(cnn, data, learning_rate=0.1, steps=600, seed=seed)
    return {
        "logistic regression (pixels)": logreg.score(flat(data.test_x), data.test_y.numpy()),
        "hand-designed 3-conv CNN, 600 steps": evaluate(cnn, data.test_x, data.test_y, data),
        "cnn_seconds": time.monotonic() - started,
    }


def print_table(rows: list[Row], base: dict[str, float] | None) -> None:
    head = f"{'seed':>4} {'init val':>8} {'best val':>8} {'test':>7} {'ens test':>8} {'indiv':>6} {'wall s':>7} {'child/min':>9}"  # noqa: E501
    print(head)
    for r in rows:
        print(
            f"{r.seed:>4} {r.initial_val:8.4f} {r.best_val:8.4f} {r.best_test:7.4f} "
            f"{r.ensemble_test:8.4f} {r.individuals:>6} {r.wall_s:7.0f} {r.children_per_min:9.1f}"
        )
    med = statistics.median
    print(
        f"{'med':>4} {med(r.initial_val for r in rows):8.4f} {med(r.best_val for r in rows):8.4f} "
        f"{med(r.best_test for r in rows):7.4f} {med(r.ensemble_test for r in rows):8.4f} "
        f"{med(r.individuals for r in rows):>6.0f} {med(r.wall_s for r in rows):7.0f} "
        f"{med(r.children_per_min for r in rows):9.1f}"
    )
    print("\nmutation counts per seed:")
    for r in rows:
        counts = ", ".join(f"{k}={v}" for k, v in r.mutation_counts.items())
        print(f"  seed {r.seed}: {counts}")
    if base:
        best = med(r.best_test for r in rows)
        print("\nbaselines on the same split (test accuracy; evolution's median / baseline):")
        for name, value in base.items():
            if name != "cnn_seconds":
                print(f"  {name:<40} {value:.4f}   ratio {best / value:.4f}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    reports = []
    for seed in args.seeds:
        print(f"seed {seed}: evolving for {args.time_budget:.0f} s ...", file=sys.stderr)
        reports.append((seed, run_seed(args, seed)))
    rows = [summarise(seed, report) for seed, report in reports]
    base = None if args.no_baselines else baselines(args.seeds[0])
    print_table(rows, base)
    print(f"\ncurves: {write_curves(reports, args.tag)}")
    summary = {"args": vars(args), "rows": [r.__dict__ for r in rows], "baselines": base}
    (RESULTS / f"{args.tag}-summary.json").write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
