#!/usr/bin/env python
"""`make chaos`: inject faults into real runs and check exact accounting afterwards.

Each fault gets a fresh run (digits, several worker processes) on a real stack — PostgreSQL +
Redis, and SQLite + the embedded server — and, once the run has finished, these must hold:
every child started was committed once or failed with a reason; the population is at its
set-point; every committed child's parent existed; stored weight files and rows match one to
one. Prints one table: fault, check, expected, found. Exits 1 if any row differs.

Usage: .venv/bin/python bench/chaos.py [--kinds postgres embedded] [--only NAME ...]
       [--repeat N]   (each fault N times, each after a random delay: `make chaos-x10`)
The 30-minute soak with random faults is bench/chaos_soak.py (`make chaos-soak`).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.harness import Stack, wait_for  # noqa: E402

P, BUDGET = 4, 16
CONFIG = {
    "dataset": "digits",
    "population": P,
    "workers": 2,
    # Long enough that a run outlasts the random delay (up to 3 s) and a fault's wait for a
    # child in training: at 200 steps a 16-child run ended within about a second on a machine
    # with native bf16, and the faults timed out waiting for a worker to train.
    "steps_per_child": 3000,
    "max_individuals": BUDGET,
    "seed": 21,
}


def count(stack: Stack, query: str, *params) -> int:
    return stack.sql(query, params)[0][0]


def accounting(
    stack: Stack, exp_id: int, population: int = P, budget: int | None = BUDGET
) -> list[tuple[str, object, object]]:
    """The checks every fault must pass, as (check, expected, found). A run on a time budget
    (budget None) has no known number of children: each must still be accounted for once."""
    rows = dict(
        stack.sql(
            "SELECT state, COUNT(*) FROM experiments_individual "
            "WHERE experiment_id = ? GROUP BY state",
            (exp_id,),
        )
    )
    failed = rows.get("failed", 0)
    births = count(
        stack,
        "SELECT COUNT(*) FROM experiments_event WHERE experiment_id = ? AND kind = 'birth'",
        exp_id,
    )
    unexplained = count(
        stack,
        "SELECT COUNT(*) FROM experiments_individual WHERE "
        "experiment_id = ? AND state = 'failed' AND failure_reason = ''",
        exp_id,
    )
    orphan_parent = count(
        stack,
        "SELECT COUNT(*) FROM experiments_individual c WHERE "
        "c.experiment_id = ? AND c.number >= ? AND c.state != 'failed' "
        "AND c.parent_id IS NULL",
        exp_id,
        population,
    )
    folder = stack.tmp / "var" / "media" / "experiments" / str(exp_id)
    stored = {f for f in os.listdir(folder) if f.endswith(".safetensors")}
    referenced = {
        name.rsplit("/", 1)[1]
        for (name,) in stack.sql(
            "SELECT weights FROM experiments_individual WHERE experiment_id = ? AND weights != ''",
            (exp_id,),
        )
    }
    started = sum(rows.values())
    # A failed child's place is conceived again (docs/ALGORITHM.md §1.5): budget + failed.
    conceived = budget + min(failed, population) if budget is not None else None
    return [
        *([("children started (budget + failed)", conceived, started)] if budget else []),
        (
            "committed once (births) + failed with a reason",
            conceived or started,
            births + failed - unexplained,
        ),
        ("alive at the end (set-point)", population, rows.get("alive", 0)),
        ("left in training", 0, rows.get("training", 0)),
        ("children without a parent", 0, orphan_parent),
        ("weight files without a row", 0, len(stored - referenced)),
        ("rows without a weight file", 0, len(referenced - stored)),
    ]


def training_worker(stack: Stack, exp_id: int, names: list[str]) -> str | None:
    rows = stack.sql(
        "SELECT worker FROM experiments_individual WHERE experiment_id = ? AND state = 'training'",
        (exp_id,),
    )
    for (worker,) in rows:
        for name in names:
            if f"{name}-{stack.tag}" in worker:
                return name
    return None


# --- the faults -----------------------------------------------------------------------------
def kill_worker(stack: Stack, exp_id: int) -> None:
    """SIGKILL a worker while it trains a child; a fresh one joins later."""
    victim = wait_for(
        lambda: training_worker(stack, exp_id, ["w1", "w2"]), 60, "w1 or w2 training", 0.05
    )
    stack.kill(victim, signal.SIGKILL)
    time.sleep(3)
    stack.start_worker(victim, 1)


def pause_past_lease(stack: Stack, exp_id: int) -> None:
    """SIGSTOP a worker mid-training past its lease, then SIGCONT: it must not commit."""
    victim = wait_for(
        lambda: training_worker(stack, exp_id, ["w1", "w2"]), 60, "w1 or w2 training", 0.05
    )
    os.killpg(stack.procs[victim].pid, signal.SIGSTOP)
    time.sleep(float(stack.env["EVOLAB_LEASE_SECONDS"]) * 2 + 2)
    os.killpg(stack.procs[victim].pid, signal.SIGCONT)


def lose_broker(stack: Stack, exp_id: int) -> None:
    """Restart the embedded server, or empty this stack's keys on the shared Redis."""
    wait_for(lambda: stack.trained(exp_id) >= 3, 60, "progress")
    if stack.kind == "embedded":
        stack.kill("redis", signal.SIGKILL)
        time.sleep(1)
        stack.spawn("redis", [sys.executable, "-m", "evolab.embedded_redis"])
        return
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    for prefix in (stack.env["EVOLAB_BROKER_PREFIX"], stack.env["EVOLAB_CHANNEL_PREFIX"]):
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)


def web_down(seconds: int) -> Callable[[Stack, int], None]:
    def fault(stack: Stack, exp_id: int) -> None:
        wait_for(lambda: stack.trained(exp_id) >= 2, 60, "progress")
        stack.kill("web", signal.SIGKILL)
        time.sleep(seconds)
        stack.start_web()

    fault.__doc__ = f"kill the web server, {seconds} s of downtime"
    return fault


def sigterm_worker(stack: Stack, exp_id: int) -> None:
    """SIGTERM a worker mid-training: it finishes the child in flight and exits."""
    victim = wait_for(
        lambda: training_worker(stack, exp_id, ["w1", "w2"]), 60, "w1 or w2 training", 0.05
    )
    stack.kill(victim, signal.SIGTERM)
    stack.start_worker(victim, 1)


def poison_child(stack: Stack, exp_id: int) -> None:
    """One child kills every worker that trains it: bounded retries, then failed."""
    wait_for(lambda: stack.trained(exp_id) >= P, 60, "the initial population")
    target = wait_for(
        lambda: stack.sql(
            "SELECT id FROM experiments_individual WHERE experiment_id = ? AND state = 'training' "
            "ORDER BY number DESC",
            (exp_id,),
        ),
        60,
        "a child in training",
        0.05,
    )[0][0]
    for attempt in (1, 2, 3):  # kill whoever holds attempt 1, 2 and 3 of it
        holder = wait_for(
            lambda a=attempt: _holder(stack, target, a),
            60,
            f"attempt {attempt} of the poison child",
            0.02,
        )
        if holder == "done":
            return
        stack.kill(holder, signal.SIGKILL)
        stack.start_worker(holder, 1)


def _holder(stack: Stack, individual_id: int, attempt: int) -> str | None:
    """The worker process training `attempt` of the child, "done" if it left training."""
    ((state, worker, attempts),) = stack.sql(
        "SELECT state, worker, attempts FROM experiments_individual WHERE id = ?", (individual_id,)
    )
    if state != "training":
        return "done"
    if attempts != attempt:
        return None
    return next((n for n in ("w0", "w1", "w2") if f"{n}-{stack.tag}" in worker), None)


def drop_database_connections(stack: Stack, exp_id: int) -> None:
    """Terminate every server connection of the run's database mid-run (PostgreSQL)."""
    import psycopg

    wait_for(lambda: stack.trained(exp_id) >= 3, 60, "progress")
    for _ in range(3):
        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
        ) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (stack.dbname,),
            )
        time.sleep(1.5)


FAULTS: dict[str, Callable[[Stack, int], None]] = {
    "worker SIGKILL mid-training": kill_worker,
    "worker SIGSTOP past its lease, SIGCONT": pause_past_lease,
    "broker restarted / emptied": lose_broker,
    "web down 0 s": web_down(0),
    "web down 20 s": web_down(20),
    "web down 60 s": web_down(60),
    "worker SIGTERM mid-training": sigterm_worker,
    "poison child (kills its worker 3 times)": poison_child,
    "database connections dropped (PostgreSQL)": drop_database_connections,
}


def run_fault(
    stack: Stack, name: str, fault, delay: float = 0.0
) -> list[tuple[str, object, object]]:
    s = stack.session()
    # The poison child must still be training when its next worker is killed: longer children.
    config = {**CONFIG, "steps_per_child": 3000} if name.startswith("poison") else CONFIG
    exp = stack.create(s, config, name=name)
    time.sleep(delay)  # --repeat: each time at another moment of the run
    fault(stack, exp["id"])
    stack.wait_status(s, exp["id"], ("finished",), timeout=300)
    wait_for(
        lambda: (
            stack.sql(
                "SELECT test_accuracy FROM experiments_experiment WHERE id = ?", (exp["id"],)
            )[0][0]
            is not None
        ),
        120,
        "final evaluation",
    )
    rows = accounting(stack, exp["id"])
    if name.startswith("poison"):
        failed = count(
            stack,
            "SELECT COUNT(*) FROM experiments_individual WHERE "
            "experiment_id = ? AND failure_reason LIKE ?",
            exp["id"],
            "%lost 3 times%",
        )
        rows.append(("poison child failed after 3 lost workers", 1, failed))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=["postgres", "embedded"])
    parser.add_argument("--only", nargs="*", help="substrings of fault names to run")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="inject each fault this many times, each after a random delay",
    )
    parser.add_argument("--seed", type=int, default=0, help="of the random delays")
    args = parser.parse_args()
    moments = random.Random(args.seed)
    faults = {n: f for n, f in FAULTS.items() if not args.only or any(o in n for o in args.only)}
    table, ok = [], True
    for kind in args.kinds:
        with tempfile.TemporaryDirectory() as tmp:
            stack = Stack(kind, Path(tmp)).start(workers=2, concurrency=1)
            stack.start_worker("w2", 1)  # a third process, so a poisoned one is never alone
            try:
                for name, fault in faults.items():
                    if "PostgreSQL" in name and kind != "postgres":
                        continue
                    for time_ in range(args.repeat):
                        started, delay = time.monotonic(), moments.uniform(0, 3)
                        label = name if args.repeat == 1 else f"{name} #{time_ + 1}"
                        try:
                            rows = run_fault(stack, name, fault, delay)
                        except Exception as exc:  # a wait that timed out: say so and go on
                            rows = [("ran to its end", "yes", f"{type(exc).__name__}: {exc}"[:70])]
                        for check, expected, found in rows:
                            ok &= expected == found
                            table.append((kind, label, check, expected, found))
                        print(f"[{kind}] {label}: {time.monotonic() - started:.0f} s", flush=True)
                        for check, expected, found in rows:  # a long --repeat shows them early
                            if expected != found:
                                print(
                                    f"    {check}: expected {expected}, found {found}", flush=True
                                )
            finally:
                stack.stop()
    print(f"\n{'stack':<9} {'fault':<40} {'check':<50} {'expected':>8} {'found':>6}")
    for kind, name, check, expected, found in table:
        mark = "" if expected == found else "   <-- DIFFERS"
        print(f"{kind:<9} {name:<40} {check:<50} {expected!s:>8} {found!s:>6}{mark}")
    print(f"\n{'all rows expected == found' if ok else 'SOME ROWS DIFFER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
