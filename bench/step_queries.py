#!/usr/bin/env python
"""Queries and time per phase of one distributed step, in one process, on the embedded stack's
database (a SQLite file in WAL mode, as `make run` and bench/step_overhead.py use) or on
PostgreSQL (--postgres).

The step task itself runs (workers.tasks.step) with its chain messages captured instead of
sent, one after another as a single worker would run them; between two tasks the connection
is closed as Celery's Django fix-up does. Every SQL statement is counted against the phase it
ran in; time is wall time per phase (median over the steady-state steps).
Usage: .venv/bin/python bench/step_queries.py [--steps 300] [--children 40] [--postgres] [--sql]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import itertools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.harness import free_port, listening, wait_for  # noqa: E402


def _environment(tmp: Path, postgres: str | None) -> None:
    (tmp / "var").mkdir()
    if not postgres:
        os.environ["EVOLAB_EMBEDDED_REDIS_PORT"] = str(free_port())
        os.environ.pop("REDIS_URL", None)
    else:
        os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/0"
        os.environ["EVOLAB_BROKER_PREFIX"] = os.environ["EVOLAB_CHANNEL_PREFIX"] = (
            f"bench-{uuid.uuid4().hex[:8]}:"
        )
    os.environ.update(
        DJANGO_SETTINGS_MODULE="evolab.settings",
        EVOLAB_VAR_DIR=str(tmp / "var"),
        EVOLAB_TORCH_THREADS="1",
        EVOLAB_LEASE_SECONDS="6",
        DATABASE_URL=postgres or f"sqlite:///{tmp / 'evolab.sqlite3'}",
    )


class Recorder:
    """Counts and times SQL per phase (connection.execute_wrapper) and wall time per phase."""

    def __init__(self) -> None:
        self.phase = "outside"
        self.queries: Counter[str] = Counter()
        self.sql: dict[str, Counter[str]] = defaultdict(Counter)
        self.seconds: dict[str, float] = defaultdict(float)
        self.in_db: dict[str, float] = defaultdict(float)  # inside cursor.execute
        self.cpu: dict[str, float] = defaultdict(float)  # this thread's CPU time
        self.gc: dict[str, float] = defaultdict(float)  # the cycle collector's pauses
        self._gc_started = 0.0
        gc.callbacks.append(self._collecting)

    def _collecting(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc[self.phase] += time.perf_counter() - self._gc_started

    def __call__(self, execute, sql, params, many, context):
        self.queries[self.phase] += 1
        self.sql[self.phase][" ".join(sql.split())[:110]] += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.in_db[self.phase] += time.perf_counter() - started

    @contextmanager
    def inside(self, phase: str):
        outer, self.phase = self.phase, phase
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - started
            self.cpu[phase] += time.thread_time() - cpu
            self.phase = outer

    def wrap(self, module, name: str, phase: str) -> None:
        original = getattr(module, name)

        def wrapped(*args, **kwargs):
            with self.inside(phase):
                return original(*args, **kwargs)

        setattr(module, name, wrapped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per child")
    parser.add_argument("--children", type=int, default=40)
    parser.add_argument("--population", type=int, default=10)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--sql", action="store_true", help="list the statements per phase")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the steps into FILE")
    parser.add_argument("--detail", action="store_true", help="time the parts of claim, commit")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dbname = f"evolab_bench_{uuid.uuid4().hex[:8]}"
        pg = f"postgresql://postgres@127.0.0.1:5432/{dbname}" if args.postgres else None
        if pg:
            import psycopg

            admin = "postgresql://postgres@127.0.0.1:5432/postgres"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{dbname}"')
        _environment(Path(tmp), pg)
        redis = None
        if not pg:
            argv = [sys.executable, "-m", "evolab.embedded_redis"]
            redis = subprocess.Popen(argv, cwd=ROOT, start_new_session=True)
            wait_for(lambda: listening(int(os.environ["EVOLAB_EMBEDDED_REDIS_PORT"])), 30, "redis")
        try:
            run(args)
        finally:
            if redis:
                os.killpg(redis.pid, signal.SIGKILL)
                redis.wait(10)
            if pg:
                from django.db import connections

                connections.close_all()
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def run(args) -> None:
    import django

    django.setup()
    import torch
    from django.core.management import call_command
    from django.db import close_old_connections, connection
    from django.test.utils import override_settings

    call_command("migrate", "--noinput", "-v", "0")
    torch.set_num_threads(1)
    from django.contrib.auth.models import User

    from evolab.accounts.models import Membership, Role, Team
    from evolab.experiments import chains, commits, evaluation, retention, services
    from evolab.experiments.models import Experiment, Individual
    from workers import tasks

    sent: list[tuple[int, int, str]] = []
    send_step = chains.send_step

    def send_and_keep(experiment_id, slot, token, countdown=0):
        send_step(experiment_id, slot, token, countdown)  # to the broker, as a worker does
        sent.append((experiment_id, slot, token))  # and run here, in order

    chains.send_step = send_and_keep
    evaluation.send_final_evaluation = lambda *a: None  # the test evaluation: not a step
    rec = Recorder()
    rec.wrap(chains, "begin", "begin")
    rec.wrap(tasks.DatabaseStore, "claim", "claim")
    rec.wrap(tasks.DatabaseStore, "heartbeat", "heartbeat (in train)")
    rec.wrap(tasks.DatabaseStore, "commit", "commit")
    rec.wrap(retention, "collect_garbage", "retention")
    rec.wrap(chains, "queue", "queue next")
    rec.wrap(commits, "record_timings", "record timings")
    rec.wrap(tasks, "train_claimed_child", "train (data..serialise)")
    if args.detail:
        from evolab.experiments import claims, events, portable, reads
        from evolab.notifications import triggers

        for module, name in [
            (claims, "draft_step"), (claims, "_plan"), (reads, "population_view"),
            (portable, "apply_draft"), (portable, "create_individual"), (portable, "kill"),
            (commits, "_commit_row"), (portable, "commit_row"), (events, "broadcast"),
            (triggers, "on_events"), (events, "append"),
        ]:  # fmt: skip
            rec.wrap(module, name, f"  {module.__name__.rsplit('.', 1)[1]}.{name}")

    team = Team.objects.create(name="Bench")
    user = User.objects.create_user("bench", password="pw-bench-12345")
    Membership.objects.create(user=user, team=team, role=Role.MEMBER)
    config = {
        "dataset": "digits",
        "population": args.population,
        "workers": 1,
        "steps_per_child": args.steps,
        "max_individuals": args.children,
        "seed": 1,
    }
    with override_settings(CHANNEL_LAYERS={}):
        exp = services.create_experiment(team, user, "bench", config, start=True)
    marks: list[tuple] = []  # the counters as each step began, then as the run ended

    def mark() -> None:
        marks.append(
            (Counter(rec.queries), dict(rec.seconds), dict(rec.in_db), dict(rec.cpu), dict(rec.gc))
        )

    def marked(run):  # a step (or, for code of one step per task, a task) with its counters
        def step_marked(*args, **kwargs):
            mark()
            profiling = profiler is not None and len(marks) > population + 1
            if profiling:
                profiler.enable()
            try:
                with rec.inside("step"):
                    return run(*args, **kwargs)
            finally:
                if profiling:
                    profiler.disable()

        return step_marked

    population = args.population
    profiler = cProfile.Profile() if args.profile else None
    if hasattr(tasks, "_one_step"):
        tasks._one_step = marked(tasks._one_step)
        run_task = tasks.step.run
    else:
        run_task = marked(tasks.step.run)
    with connection.execute_wrapper(rec):
        while sent:
            exp_id, slot, token = sent.pop(0)
            close_old_connections()
            run_task(exp_id, slot, token)
            connection.close()  # as Celery's Django fix-up does after a task (CONN_MAX_AGE=0)
        mark()
    per_step = []
    for before, after in itertools.pairwise(marks):
        q = after[0] - before[0]
        s, db, cpu, collector = (
            {k: v - old.get(k, 0.0) for k, v in new.items()}
            for old, new in zip(before[1:], after[1:], strict=True)
        )
        per_step.append((q, s, db, cpu, collector))
    exp = Experiment.objects.get(pk=exp.pk)
    steady = per_step[args.population + 1 : -1]  # past the initial population and its load
    phases = list(dict.fromkeys(p for q, s, *_ in steady for p in [*s, *q]))
    print(f"\nstatus={exp.status} children={Individual.objects.filter(experiment=exp).count()} "
          f"steps counted={len(steady)} db={connection.vendor}")  # fmt: skip
    print(f"{'phase':>26} {'queries/step':>13} {'median ms':>10} {'mean ms':>8} {'in SQL':>7} "
          f"{'CPU ms':>7} {'GC ms':>6}")  # fmt: skip
    for p in phases:
        queries = statistics.mean(q.get(p, 0) for q, *_ in steady)
        ms, mean, db, cpu, collector = (
            average(part[i].get(p, 0.0) for part in steady) * 1000
            for i, average in ((1, statistics.median), (1, statistics.mean), (2, statistics.mean),
                               (3, statistics.mean), (4, statistics.mean))
        )  # fmt: skip
        print(f"{p:>26} {queries:>13.1f} {ms:>10.2f} {mean:>8.2f} {db:>7.2f} {cpu:>7.2f} "
              f"{collector:>6.2f}")  # fmt: skip
    print(f"{'all':>26} {statistics.mean(sum(q.values()) for q, *_ in steady):>13.1f}")
    timings = [t for (t,) in Individual.objects.filter(experiment=exp).values_list("timings")]
    timings = [t for t in timings if "step" in t and t.get("data", 0) < 0.5]
    for name, average in (("median", statistics.median), ("mean", statistics.mean)):
        print(f"child phases ({name} ms): " + ", ".join(
            f"{k} {average(t.get(k, 0) for t in timings) * 1000:.1f}" for k in timings[0]
        ))  # fmt: skip
    step = sum(t["step"] for t in timings)
    work = sum(t["train"] + t["evaluate"] for t in timings)
    print(f"overhead share: {100 * (1 - work / step):.2f}%")
    if profiler:
        profiler.dump_stats(args.profile)
    if args.sql:
        for p in phases:
            print(f"\n-- {p}")
            for sql, n in rec.sql[p].most_common():
                print(f"{n / len(per_step):6.2f}  {sql}")


if __name__ == "__main__":
    main()
