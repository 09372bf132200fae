"""Fidelity benchmark: does the product itself evolve good classifiers? (issue 16, item 5)

For each dataset and seed it runs one evolution through the PRODUCT path (the web app's
real processes: daphne, Celery workers, SQLite + the embedded Redis or PostgreSQL + Redis;
the run created with `POST /api/experiments/`, results read back from the API; see
bench/fidelity_product.py) and the same config through the HEADLESS runner
(`python -m workers.evolve`), then trains two baselines on the same split (softmax
regression on pixels; a hand-designed 4-conv BN-ReLU CNN for the same wall time,
bench/baselines.py). Prints one table and writes it to bench/FIDELITY.md; raw JSON goes to
bench/results/ (git-ignored).

    bench/fidelity                                   # digits 3x600 s, fashion-mnist 3x1800 s: ~5 h
    bench/fidelity --quick                           # 1 seed x 60 s per dataset and path
    bench/fidelity --paths headless --datasets digits --budget-s 300   # the old bench
    bench/fidelity --stack postgres --seeds 1        # PostgreSQL + Redis (make services)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the repo root holds workers/ and evolab/
sys.path.insert(0, str(ROOT / "bench"))
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "bench" / "FIDELITY.md"

import fidelity_report as report  # noqa: E402

from evolab.evolution.config import EvolutionConfig  # noqa: E402

BUDGETS = {"digits": 600.0, "fashion-mnist": 1800.0}
QUICK_BUDGET_S, QUICK_CNN_STEPS = 60.0, 300
NO_LIMIT = 1_000_000  # max_individuals: the wall-time budget decides (EVOLAB_MAX_INDIVIDUALS)
INSTALL_HINT = "apt-get install dataset-fashion-mnist (or put its IDX files under EVOLAB_DATA_DIR)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/fidelity", description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(BUDGETS))
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument(
        "--budget-s", "--time-budget", type=float, default=None,
        help="wall time per run (config max_seconds); default 600 digits, 1800 fashion-mnist",
    )  # fmt: skip
    p.add_argument("--workers", type=int, default=EvolutionConfig.workers,
                   help="evolution workers (Celery pool processes; runner --workers)")  # fmt: skip
    p.add_argument("--stack", nargs="+", choices=["embedded", "postgres"], default=["embedded"])
    p.add_argument("--paths", nargs="+", choices=["product", "headless"],
                   default=["product", "headless"])  # fmt: skip
    p.add_argument("--population", type=int, default=None, help="default: the product's")
    p.add_argument("--steps-per-child", "--steps", type=int, default=None,
                   help="default: the product's")  # fmt: skip
    p.add_argument("--selection", default=None, help="default: the product's")
    p.add_argument("--ensemble-k", type=int, default=None, help="default: the product's")
    p.add_argument("--quick", action="store_true", help="one seed, 60 s runs, a 300-step CNN")
    p.add_argument("--no-baselines", action="store_true")
    p.add_argument("--tag", default="fidelity", help="file name prefix in bench/results")
    p.add_argument("--md", type=Path, default=None,
                   help="where the table goes (default bench/FIDELITY.md; "
                   "--quick: bench/results/<tag>-quick.md)")  # fmt: skip
    args = p.parse_args(argv)
    if args.quick:
        args.seeds = args.seeds[:1]
        args.budget_s = args.budget_s or QUICK_BUDGET_S
    if args.md is None:
        args.md = RESULTS / f"{args.tag}-quick.md" if args.quick else DOC
    return args


def data_dir() -> str:
    """The data folder both paths read (EVOLAB_DATA_DIR, else var/data, as `make run`)."""
    return os.environ.get("EVOLAB_DATA_DIR") or str(ROOT / "var" / "data")


def ready_datasets(names: list[str], notes: list[str]) -> list[str]:
    from evolab.datasets import DatasetError, describe

    ready = []
    for name in names:
        try:
            entry = describe(name, data_dir())
            problem = None if entry.state == "ready" else entry.reason
        except DatasetError as exc:
            problem = str(exc)
        if problem is None:
            ready.append(name)
            continue
        hint = f" Install it: {INSTALL_HINT}." if name == "fashion-mnist" else ""
        notes.append(f"{name} SKIPPED: it is not installed ({problem}).{hint}")
        print(f"fidelity: {notes[-1]}", file=sys.stderr)
    return ready


def run_config(args: argparse.Namespace, dataset: str, seed: int) -> dict:
    """The config a run is created with: the product's defaults unless a flag says otherwise."""
    cfg = {"dataset": dataset, "seed": seed, "workers": args.workers,
           "max_seconds": int(budget(args, dataset)), "max_individuals": NO_LIMIT}  # fmt: skip
    optional = {"population": args.population, "steps_per_child": args.steps_per_child,
                "selection": args.selection, "ensemble_k": args.ensemble_k}  # fmt: skip
    return {**cfg, **{k: v for k, v in optional.items() if v is not None}}


def budget(args: argparse.Namespace, dataset: str) -> float:
    return args.budget_s or BUDGETS.get(dataset, BUDGETS["digits"])


class Results:
    """Rows and baselines of this call, saved as JSON after each so nothing is lost."""

    def __init__(self, args: argparse.Namespace, notes: list[str]):
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.path = RESULTS / f"{args.tag}-{stamp}.json"
        self.args, self.notes = args, notes
        self.rows: list[dict] = []
        self.baselines: dict[str, dict] = {}

    def add(self, dataset: str, path: str, stack: str, seed: int, facts: dict) -> None:
        row = {"dataset": dataset, "path": path, "stack": stack, "seed": seed, **facts}
        self.rows.append(row)
        print(
            f"  -> {dataset} {path}/{stack} seed {seed}: {row['individuals']} individuals, "
            f"best val {report._acc(row['best_val'])}, test {report._acc(row['best_test'])}",
            file=sys.stderr,
            flush=True,
        )
        self.save()

    def save(self) -> None:
        args = {k: str(v) if isinstance(v, Path) else v for k, v in vars(self.args).items()}
        body = {"args": args, "rows": self.rows, "baselines": self.baselines, "notes": self.notes}
        self.path.write_text(json.dumps(body, indent=1))


def run_product(args, datasets: list[str], results: Results) -> None:
    from fidelity_product import ProductRunner

    for kind in args.stack:
        with ProductRunner(kind, args.workers, RESULTS / f"{args.tag}-logs", data_dir()) as web:
            for dataset in datasets:
                ok, why = web.dataset_state(dataset)
                if not ok:
                    results.notes.append(f"{dataset} SKIPPED on the {kind} web app: {why}")
                    continue
                for seed in args.seeds:
                    cfg = run_config(args, dataset, seed)
                    facts = web.run(cfg, budget(args, dataset), f"fidelity {dataset} s{seed}")
                    results.add(dataset, "product", kind, seed, facts)


def run_headless(args, datasets: list[str], results: Results) -> None:
    import fidelity_headless

    for dataset in datasets:
        for seed in args.seeds:
            cfg = EvolutionConfig(**run_config(args, dataset, seed)).to_json()
            out = RESULTS / f"{args.tag}-{dataset}-seed{seed}.json"
            results.add(dataset, "headless", "-", seed, fidelity_headless.run(cfg, out))


def run_baselines(args, datasets: list[str], results: Results) -> None:
    import baselines

    for dataset in datasets:
        print(f"[baselines] {dataset}, seed {args.seeds[0]} ...", file=sys.stderr, flush=True)
        found = baselines.run(
            dataset, data_dir(), args.seeds[0], args.workers,
            cnn_seconds=None if args.quick else budget(args, dataset), cnn_steps=QUICK_CNN_STEPS,
        )  # fmt: skip
        results.baselines[dataset] = {"seed": args.seeds[0], "results": found}
        results.save()


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.processor() or platform.machine()}, {cores} CPU cores"


def git_commit() -> str:
    try:
        git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True,  # noqa: E731
                                        text=True, check=True).stdout.strip()  # fmt: skip
        dirty = git("status", "--porcelain", "--untracked-files=no")
        return git("rev-parse", "--short", "HEAD") + (" (uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def setup_lines(args, datasets: list[str]) -> list[str]:
    defaults = EvolutionConfig()
    budgets = ", ".join(f"{d} {budget(args, d):.0f} s" for d in datasets)
    return [
        f"paths: {', '.join(args.paths)}; stacks: {', '.join(args.stack)}; seeds: "
        f"{' '.join(map(str, args.seeds))}; wall-time budget per run: {budgets}",
        f"population {args.population or defaults.population}, "
        f"{args.steps_per_child or defaults.steps_per_child} steps per child, "
        f"{args.workers} workers (Celery pool processes, one torch thread each), selection "
        f"{args.selection or defaults.selection}, top-{args.ensemble_k or defaults.ensemble_k} "
        "ensemble; everything else the product's defaults",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    notes: list[str] = []
    datasets = ready_datasets(args.datasets, notes)
    results = Results(args, notes)
    if "product" in args.paths:
        run_product(args, datasets, results)
    if "headless" in args.paths:
        run_headless(args, datasets, results)
    if not args.no_baselines:
        run_baselines(args, datasets, results)
    blocks = report.table(results.rows, results.baselines, {d: budget(args, d) for d in datasets})
    print(report.as_text(blocks))
    for note in notes:
        print(f"note: {note}")
    command = "bench/fidelity " + shlex.join(argv if argv is not None else sys.argv[1:])
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text(
        report.document(
            blocks,
            date=time.strftime("%Y-%m-%d %H:%M"),
            commit=git_commit(),
            command=command.strip(),
            machine=machine(),
            setup=setup_lines(args, datasets),
            notes=notes,
        )  # fmt: skip
    )
    print(f"table: {args.md}; raw JSON: {results.path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
