"""The run list at scale: a team with hundreds to thousands of runs (and another team with as
many), each with tags and a few trained individuals, in a fresh database.

Prints, for each size, the median time of GET /api/experiments/ (50 a page: the first page,
each sort order, the last page, a tag, a text and an archived filter) and of the list page
(first page, sorted by best accuracy, last page). "Without slowing" means the times barely
grow with the number of runs. Run:
  .venv/bin/python bench/run_list.py [--sizes 200 2000 10000] [--postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
INDIVIDUALS_PER_RUN = 10
SORTS = ("name", "-created", "status", "dataset", "-individuals_trained", "-best_val_accuracy",
         "-started", "owner")  # fmt: skip


def setup_env(tmp: Path, database_url: str) -> None:
    (tmp / "var").mkdir(parents=True, exist_ok=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="evolab.settings",
        DATABASE_URL=database_url,
        EVOLAB_VAR_DIR=str(tmp / "var"),
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="testserver",
    )
    os.environ.pop("REDIS_URL", None)


def populate(team, user, runs: int, start: int) -> None:
    from django.utils import timezone

    from evolab.experiments.models import Experiment, ExperimentTag, Individual

    rng, now = random.Random(start), timezone.now()
    made = Experiment.objects.bulk_create(
        [Experiment(team=team, creator=user, name=f"run {start + i} {rng.choice('abcxyz')}",
                    config={"dataset": rng.choice(["digits", "mnist", "cifar10"])},
                    status=rng.choice(["finished", "stopped", "queued", "failed"]),
                    individuals_trained=rng.randrange(1000), archived=rng.random() < 0.2,
                    best_val_accuracy=rng.random(), started=now - timedelta(minutes=i),
                    notes="lr sweep" if i % 50 == 0 else "") for i in range(runs)],
        batch_size=1000,
    )  # fmt: skip
    tags = [ExperimentTag(experiment=e, name=t) for e in made
            for t in rng.sample(["baseline", "sweep", "p40", "seed-1", "seed-2"], 2)]  # fmt: skip
    ExperimentTag.objects.bulk_create(tags, batch_size=5000)
    dna = {"schema": 1, "learning_rate": 0.1, "next_id": 3, "vertices": [], "edges": []}
    rows = [Individual(experiment=e, number=n, dna=dna, val_accuracy=rng.random(), state="dead",
                       trained=now - timedelta(seconds=n)) for e in made
            for n in range(INDIVIDUALS_PER_RUN)]  # fmt: skip
    Individual.objects.bulk_create(rows, batch_size=5000)


def median_ms(client, url: str, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        r = client.get(url)
        times.append(time.perf_counter() - started)
        assert r.status_code == 200, (url, r.status_code)
    return 1000 * statistics.median(times)


def measure(size: int, member, api, web) -> dict[str, float]:
    last = max(0, (size * 8 // 10) // 50 * 50 - 50)  # about the last page of the unarchived
    cases = {"api first page": "/api/experiments/?limit=50"}
    cases |= {f"api ?ordering={s}": f"/api/experiments/?limit=50&ordering={s}" for s in SORTS}
    cases |= {
        "api last page": f"/api/experiments/?limit=50&offset={last}",
        "api ?tag=sweep": "/api/experiments/?limit=50&tag=sweep",
        "api ?q=sweep": "/api/experiments/?limit=50&q=sweep",
        "api ?archived=true": "/api/experiments/?limit=50&archived=true",
    }
    out = {name: median_ms(api, url) for name, url in cases.items()}
    out["page first"] = median_ms(web, "/experiments/")
    out["page ?ordering=-best_val_accuracy"] = median_ms(
        web, "/experiments/?ordering=-best_val_accuracy"
    )
    out["page last"] = median_ms(web, f"/experiments/?page={max(1, last // 50)}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000, 10000])
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-list-"))
    dbname = f"evolab_bench_list_{uuid.uuid4().hex[:8]}"
    if args.postgres:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        url = f"postgresql://postgres@127.0.0.1:5432/{dbname}"
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    setup_env(tmp, url)
    try:
        run(args.sizes, "PostgreSQL" if args.postgres else "SQLite")
    finally:
        if args.postgres:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def run(sizes: list[int], database: str) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from rest_framework.test import APIClient

    from evolab.accounts.models import Membership, Team

    call_command("migrate", verbosity=0)
    team, other = Team.objects.create(name="Bench"), Team.objects.create(name="Other")
    member = User.objects.create_user("bench", password="pw-bench-12345")
    stranger = User.objects.create_user("other", password="pw-other-12345")
    Membership.objects.create(user=member, team=team, role="member")
    Membership.objects.create(user=stranger, team=other, role="member")
    api, web = APIClient(), Client()
    api.force_authenticate(member)
    web.force_login(member)
    results, have = {}, 0
    for size in sorted(sizes):
        populate(team, member, size - have, have)
        populate(other, stranger, size - have, have + 10_000_000)
        have = size
        if database == "PostgreSQL":
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # as autovacuum would, after a team's runs piled up
        results[size] = measure(size, member, api, web)
    print(f"\nRun list, {database}, 50 runs a page, ms (median of 5); runs of one team (another "
          f"team has as many), {INDIVIDUALS_PER_RUN} individuals each\n")  # fmt: skip
    print("| request | " + " | ".join(f"{s:,} runs" for s in sorted(results)) + " |")
    print("|---|" + "---:|" * len(results))
    for name in next(iter(results.values())):
        print(f"| {name} | " + " | ".join(f"{results[s][name]:.1f}" for s in results) + " |")


if __name__ == "__main__":
    main()
