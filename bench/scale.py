#!/usr/bin/env python
"""The coordinator at the paper's scale: 250 concurrent workers on one population.

Training is replaced by a fixed sleep — the only stand-in for training in EvoLab, and only
here: everything else is the real path (claims.claim: tournament, kill, mutate, child row under
a lease; commits.commit: safetensors file through Django storage, conditional commit, events
broadcast through the Redis channel layer) against PostgreSQL + Redis, or SQLite + the
embedded server with --sqlite. Prints sustained steps/s, p50/p99 of the selection (claim)
and commit transactions, and checks the population invariant over every event afterwards.

Usage: .venv/bin/python bench/scale.py [--workers 250] [--processes 5] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def configure(args, tmp: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "evolab.settings"
    os.environ["EVOLAB_VAR_DIR"] = tmp
    os.environ["LOG_LEVEL"] = "ERROR"
    if args.sqlite:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/scale.sqlite3"
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{args.redis_port}/0"
    else:
        os.environ["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{args.dbname}"
        os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    os.environ["EVOLAB_CHANNEL_PREFIX"] = f"scale-{args.tag}"
    # 250 threads, not 250 connections: each process shares a pool (PostgreSQL allows 100).
    os.environ["EVOLAB_DB_POOL"] = str(max(2, 80 // args.processes))


def setup_experiment(args) -> int:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from evolab.accounts.models import Team
    from evolab.experiments import services
    from evolab.experiments.models import Experiment, Status

    call_command("migrate", interactive=False, verbosity=0)
    team = Team.objects.create(name=f"scale {args.tag}")
    user = User.objects.create_user(f"scale-{args.tag}")
    config = {
        "population": args.population,
        "workers": args.workers,
        "steps_per_child": 1,
        "max_individuals": 1_000_000,
        "seed": 1,
    }
    exp = services.create_experiment(team, user, "scale", config)
    Experiment.objects.filter(pk=exp.pk).update(status=Status.RUNNING)
    return exp.pk


def worker_thread(exp_id: int, sleep: float, deadline: float, out: list, seed: int) -> None:
    from django.db import connection

    from evolab.evolution.step import TrainedChild
    from evolab.experiments import claims, commits

    rng = random.Random(seed)
    name = f"sim-{seed}"
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        claim = claims.claim(exp_id, name)
        t1 = time.perf_counter()
        connection.close()  # back to the pool while "training"
        if claim in (claims.WAIT, claims.DONE):
            time.sleep(0.01)
            continue
        time.sleep(sleep)  # stand-in for training: the bench's only fake
        child = TrainedChild(
            val_accuracy=rng.random(),
            flops=1.0,
            params=1,
            steps=1,
            train_seconds=sleep,
            weights=b"\0" * 64,
        )
        t2 = time.perf_counter()
        commits.commit(claim, child)
        t3 = time.perf_counter()
        connection.close()
        out.append((t0, t1 - t0, t3 - t2))
    connection.close()


def count_claim_paths(paths: dict) -> None:
    """Count how claims went: drafted and applied, drafts gone stale, and the locked path."""
    from evolab.experiments import claims
    from evolab.experiments.children import Stale

    apply, locked = claims.apply_draft, claims.claim_locked

    def counted_apply(*args):
        try:
            claim = apply(*args)
        except Stale:
            paths["stale"] = paths.get("stale", 0) + 1
            raise
        paths["drafted"] = paths.get("drafted", 0) + 1
        return claim

    def counted_locked(*args):
        paths["locked"] = paths.get("locked", 0) + 1
        return locked(*args)

    claims.apply_draft, claims.claim_locked = counted_apply, counted_locked


def worker_process(args, tmp: str, exp_id: int, threads: int, start: float, queue) -> None:
    configure(args, tmp)
    import django

    django.setup()
    paths: dict = {}
    count_claim_paths(paths)
    out: list = []
    deadline = start + args.seconds
    while time.time() < start:
        time.sleep(0.01)
    offset = time.monotonic() - time.time()
    pool = [
        threading.Thread(
            target=worker_thread,
            args=(exp_id, args.sleep, deadline + offset, out, i + threads * 1000),
        )
        for i in range(threads)
    ]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    queue.put((out, paths))


def check_invariant(exp_id: int, population: int) -> str:
    from evolab.experiments.models import Event

    members, full, killed = 0, False, set()
    for kind, data in (
        Event.objects.filter(experiment_id=exp_id)
        .order_by("seq")
        .values_list("kind", "data")
        .iterator()
    ):
        if kind == "started" and not data.get("takeover"):
            members += 1
        elif kind in ("death", "failed"):
            if data["id"] in killed:
                return f"FAILED: {data['id']} died twice"
            killed.add(data["id"])
            members -= 1
        if members > population or (full and members < population - 1):
            return f"FAILED: population {members}"
        full = full or members == population
    return "holds"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=250)
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--population", type=int, default=1000)
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds of fake training")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--sqlite", action="store_true", help="SQLite + embedded server")
    args = parser.parse_args()
    args.tag = uuid.uuid4().hex[:8]
    args.dbname = f"evolab_scale_{args.tag}"
    with tempfile.TemporaryDirectory() as tmp:
        run(args, tmp)


def run(args, tmp: str) -> None:
    redis_proc = None
    if args.sqlite:
        import socket
        import subprocess

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            args.redis_port = s.getsockname()[1]
        env = {**os.environ, "EVOLAB_EMBEDDED_REDIS_PORT": str(args.redis_port)}
        redis_proc = subprocess.Popen(
            [sys.executable, "-m", "evolab.embedded_redis"], env=env, stdout=subprocess.DEVNULL
        )
    else:
        import psycopg

        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{args.dbname}"')
    configure(args, tmp)
    try:
        report(args, tmp, setup_experiment(args))
    finally:
        if redis_proc:
            redis_proc.kill()
        if not args.sqlite:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(
                "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.dbname}" WITH (FORCE)')


def report(args, tmp: str, exp_id: int) -> None:
    from django.db import connections

    connections.close_all()
    if hasattr(connections["default"], "close_pool"):  # a pool's threads do not survive fork
        connections["default"].close_pool()
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    start = time.time() + 2
    per = [
        args.workers // args.processes + (i < args.workers % args.processes)
        for i in range(args.processes)
    ]
    procs = [
        ctx.Process(target=worker_process, args=(args, tmp, exp_id, n, start, queue)) for n in per
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    samples = [s for out, _ in results for s in out]
    paths = {k: sum(p.get(k, 0) for _, p in results) for k in ("drafted", "stale", "locked")}
    # Steady state: the paper's regime, once the initial population is in (its P children
    # are all born on the locked path), after 5 s more to settle.
    starts = sorted(s[0] for s in samples)
    warm = starts[min(args.population, len(starts) - 1)] + 5.0
    steady = [s for s in samples if s[0] >= warm]
    span = max(s[0] for s in steady) - warm
    claims = sorted(s[1] * 1000 for s in steady)
    commits = sorted(s[2] * 1000 for s in steady)

    def pct(xs, q):
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    print(
        json.dumps(
            {
                "backend": "sqlite+embedded" if args.sqlite else "postgresql+redis",
                "workers": args.workers,
                "processes": args.processes,
                "population": args.population,
                "fake_training_s": args.sleep,
            }
        )
    )
    print(f"steps committed: {len(samples)} (steady state: {len(steady)} in {span:.1f} s)")
    print(f"sustained steps/s: {len(steady) / span:.1f}   (target >= 200; paper needs 1-2)")
    print(
        f"selection (claim) transaction ms: p50 {statistics.median(claims):.1f}  "
        f"p99 {pct(claims, 0.99):.1f}   (target p99 < 50)"
    )
    print(
        f"commit transaction ms: p50 {statistics.median(commits):.1f}  p99 {pct(commits, 0.99):.1f}"
    )
    print(
        f"claims: {paths['drafted']} drafted and applied, {paths['stale']} drafts gone stale "
        f"(redrafted), {paths['locked']} on the locked path (the initial population included)"
    )
    import django

    django.setup()
    print(f"population invariant over every event: {check_invariant(exp_id, args.population)}")


if __name__ == "__main__":
    main()
