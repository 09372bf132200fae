#!/usr/bin/env python
"""`make chaos-soak`: one long run on PostgreSQL + Redis under a random fault every 1-3 min.

8 worker processes evolve one population (digits) for --minutes while a fault is injected at
random moments: a worker SIGKILLed, a worker stopped (SIGSTOP) past its lease then resumed,
the broker restarted, the web server killed with 0-20 s of downtime, PostgreSQL restarted,
the weights' disk full for 30 s. The database and the broker are private to the soak (a
PostgreSQL cluster made with initdb, a redis-server, on free ports) so that restarting them
touches nothing else; the weights live on a small tmpfs that the disk-full fault fills.
Afterwards the same checks as `make chaos` (bench/chaos.py `accounting`), expected == found,
into bench/CHAOS_SOAK_RESULTS.md with the fault log. Needs root (tmpfs, runuser postgres).

Usage: .venv/bin/python bench/chaos_soak.py [--minutes 30] [--workers 8] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chaos import accounting  # noqa: E402

from tests.integration import harness  # noqa: E402
from tests.integration.harness import Stack, free_port, listening, wait_for  # noqa: E402

PG_BIN = Path("/usr/lib/postgresql/15/bin")
POPULATION = 8


class PrivateServices:
    """A PostgreSQL cluster and a redis-server of the soak's own, restartable at will."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.pg_port, self.redis_port = tmp, free_port(), free_port()
        self.pgdata = tmp / "pg"
        self.redis: subprocess.Popen | None = None

    def _as_postgres(self, *argv: str) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *argv],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout[-500:]}{done.stderr[-1500:]}")

    def start(self) -> None:
        self.tmp.chmod(0o755)  # the postgres user must reach its data directory
        self.pgdata.mkdir()
        shutil.chown(self.pgdata, "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.pgdata), "-A", "trust",
                          "-U", "postgres")  # fmt: skip
        self.pg("start")
        self.start_redis()

    def pg(self, action: str) -> None:
        options = f"-p {self.pg_port} -c listen_addresses=127.0.0.1 -k {self.pgdata}"
        log = str(self.pgdata / "server.log")
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "-o", options,
                          "-l", log, "-w", "-m", "fast", action)  # fmt: skip

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: listening(self.redis_port), 10, "redis-server")

    def stop_redis(self) -> None:
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait()

    def stop(self) -> None:
        self.stop_redis()
        try:
            self.pg("stop")
        except RuntimeError:
            pass


# --- the faults (each returns a line for the log) ---------------------------------------------
def _workers(stack: Stack) -> list[str]:
    """The Celery worker processes: w0, w1, ... (not "web")."""
    return [n for n in stack.procs if n[0] == "w" and n[1:].isdigit()]


def worker_kill(stack: Stack, services: PrivateServices, rng: random.Random) -> str:
    name = rng.choice(_workers(stack))
    stack.kill(name, signal.SIGKILL)
    time.sleep(3)
    stack.start_worker(name, 1)
    return f"SIGKILL {name}, restarted after 3 s"


def worker_stop(stack: Stack, services: PrivateServices, rng: random.Random) -> str:
    name = rng.choice(_workers(stack))
    pause = float(stack.env["EVOLAB_LEASE_SECONDS"]) * 2 + 2
    os.killpg(stack.procs[name].pid, signal.SIGSTOP)
    time.sleep(pause)
    os.killpg(stack.procs[name].pid, signal.SIGCONT)
    return f"SIGSTOP {name} for {pause:.0f} s (past its lease), SIGCONT"


def broker_restart(stack: Stack, services: PrivateServices, rng: random.Random) -> str:
    services.stop_redis()
    time.sleep(2)
    services.start_redis()
    return "redis-server killed, restarted empty after 2 s"


def web_restart(stack: Stack, services: PrivateServices, rng: random.Random) -> str:
    down = rng.uniform(0, 20)
    stack.kill("web", signal.SIGKILL)
    time.sleep(down)
    stack.start_web()
    return f"web SIGKILL, {down:.0f} s down"


def database_restart(stack: Stack, services: PrivateServices, rng: random.Random) -> str:
    services.pg("restart")
    return "PostgreSQL restarted (fast: every connection dropped)"


def disk_full(stack: Stack, services: PrivateServices, rng: random.Random) -> str:
    filler = stack.tmp / "var" / "media" / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 2**20)
        except OSError:
            pass
    time.sleep(30)
    filler.unlink()
    return "the weights' disk full for 30 s"


FAULTS = [worker_kill, worker_stop, broker_restart, web_restart, database_restart, disk_full]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--every", type=float, nargs=2, default=[60, 180],
                        help="seconds between faults, drawn uniformly in this range")  # fmt: skip
    parser.add_argument("--faults", nargs="*", help="names of the faults to draw from (all)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "CHAOS_SOAK_RESULTS.md"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    faults = [f for f in FAULTS if not args.faults or f.__name__ in args.faults]
    log: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        services = PrivateServices(tmp)
        media = tmp / "stack" / "var" / "media"
        media.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(media)],
                       check=True)  # fmt: skip
        stack = None
        try:
            services.start()
            harness.PG_ADMIN = f"postgresql://postgres@127.0.0.1:{services.pg_port}/postgres"
            stack = Stack("postgres", tmp / "stack")
            stack.env["DATABASE_URL"] = (
                f"postgresql://postgres@127.0.0.1:{services.pg_port}/{stack.dbname}"
            )
            stack.env["REDIS_URL"] = f"redis://127.0.0.1:{services.redis_port}/0"
            stack.start(workers=args.workers, concurrency=1)
            s = stack.session()
            config = {"dataset": "digits", "population": POPULATION, "workers": args.workers,
                      "steps_per_child": 200, "max_seconds": int(args.minutes * 60),
                      "max_individuals": 20000,
                      "seed": args.seed}  # fmt: skip
            exp = stack.create(s, config, name="soak")
            started = time.monotonic()
            deadline = started + args.minutes * 60 - 30  # the last fault well before the end
            while True:
                wait = rng.uniform(*args.every)
                if time.monotonic() + wait > deadline:
                    break
                time.sleep(wait)
                fault = rng.choice(faults)
                line = fault(stack, services, rng)
                log.append(f"{(time.monotonic() - started) / 60:5.1f} min  {line}")
                print(log[-1], flush=True)
            s = stack.session()
            stack.wait_status(s, exp["id"], ("finished",), timeout=args.minutes * 60 + 600)
            wait_for(
                lambda: stack.sql(
                    "SELECT test_accuracy FROM experiments_experiment WHERE id = ?", (exp["id"],)
                )[0][0] is not None,
                300,
                "final evaluation",
            )  # fmt: skip
            rows = accounting(stack, exp["id"], POPULATION, None)
            trained = stack.trained(exp["id"])
        finally:
            if stack is not None:
                stack.stop()
            services.stop()
            subprocess.run(["umount", str(media)], check=False)
    ok = all(expected == found for _, expected, found in rows)
    lines = [
        f"# make chaos-soak: {args.minutes:.0f} min, {args.workers} worker processes, "
        f"PostgreSQL + Redis, seed {args.seed}",
        "",
        f"{len(log)} faults; {trained} children trained.",
        "",
        "```",
        *log,
        "```",
        "",
        "| check | expected | found |",
        "|---|---|---|",
        *(f"| {check} | {expected} | {found} |" for check, expected, found in rows),
        "",
        "all rows expected == found" if ok else "SOME ROWS DIFFER",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
