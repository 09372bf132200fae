#!/usr/bin/env python
"""Overhead of a distributed step outside training and validation, and throughput vs workers.

Runs real runs of the paper's loop on digits through the real stack (Celery workers, the
embedded Redis-compatible server, SQLite — or PostgreSQL + Redis with --postgres), then reads
the per-phase timings every child recorded (Individual.timings):

  overhead = step wall time - (training + validation)   [selection, DB, storage, events]

and the throughput (children per minute) with 1 and with 2 worker processes on this machine.
Usage: .venv/bin/python bench/step_overhead.py [--steps 300] [--children 60] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.harness import Stack  # noqa: E402  (the test harness starts real processes)

PHASES = (
    "claim",
    "data",
    "build",
    "inherit",
    "train",
    "evaluate",
    "serialise",
    "commit",
    "retention_and_next",
)


def one_run(kind: str, processes: int, steps: int, children: int, population: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(kind, Path(tmp)).start(workers=processes, concurrency=1)
        try:
            s = stack.session()
            config = {
                "dataset": "digits",
                "population": population,
                "workers": processes,
                "steps_per_child": steps,
                "max_individuals": children,
                "seed": 1,
            }
            started = time.perf_counter()
            exp = stack.create(s, config, name=f"bench {processes}")
            stack.wait_status(s, exp["id"], ("finished",), timeout=3600)
            wall = time.perf_counter() - started
            rows = stack.sql(
                "SELECT timings FROM experiments_individual WHERE experiment_id = ?", (exp["id"],)
            )
        finally:
            stack.stop()
    timings = [json.loads(t) if isinstance(t, str) else t for (t,) in rows]
    # The first child of each process pays the one-off dataset load; it is shown apart.
    steady = [t for t in timings if t.get("data", 0) < 0.5 and "step" in t]
    return {"processes": processes, "wall": wall, "children": len(timings), "timings": steady}


def summarise(run: dict) -> dict:
    t = run["timings"]
    step = sum(x["step"] for x in t)
    work = sum(x["train"] + x["evaluate"] for x in t)
    phases = {p: statistics.median(x.get(p, 0.0) for x in t) * 1000 for p in PHASES}
    return {
        "children_per_min": 60 * run["children"] / run["wall"],
        "median_step_ms": statistics.median(x["step"] for x in t) * 1000,
        "overhead_share": 1 - work / step,
        "phases_ms": phases,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per child")
    parser.add_argument("--children", type=int, default=60)
    parser.add_argument("--population", type=int, default=10)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL + Redis stack")
    args = parser.parse_args()
    kind = "postgres" if args.postgres else "embedded"
    results = [
        summarise(one_run(kind, n, args.steps, args.children, args.population)) for n in (1, 2)
    ]
    print(
        f"\nstack={kind} steps/child={args.steps} children={args.children} "
        f"population={args.population}"
    )
    print(
        f"{'worker processes':>18} {'children/min':>13} {'median step ms':>15} "
        f"{'overhead share':>15}"
    )
    for n, r in zip((1, 2), results, strict=True):
        print(
            f"{n:>18} {r['children_per_min']:>13.1f} {r['median_step_ms']:>15.1f} "
            f"{100 * r['overhead_share']:>14.2f}%"
        )
    print(
        f"throughput ratio 2 vs 1 processes: "
        f"{results[1]['children_per_min'] / results[0]['children_per_min']:.2f}x"
    )
    print(
        "median ms per phase (1 process): "
        + ", ".join(f"{p} {v:.1f}" for p, v in results[0]["phases_ms"].items())
    )


if __name__ == "__main__":
    main()
