"""The run report at scale: a synthetic run of 2,000 individuals (real DNAs made by real
mutations, parents, FLOPs, step timings) and three repeats of its config, in a fresh SQLite
database. Prints the time to build the standalone file and to serve the page, and the file's
size. Run: .venv/bin/python bench/report.py [--n 2000] [--out report.html]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard import setup_env  # noqa: E402 (bench/ is not a package)


def dnas(count: int, rng: random.Random) -> list[dict]:
    """`count` DNAs along one chain of real mutations from the initial one."""
    from evolab.evolution.dna import DNA
    from evolab.evolution.mutations import mutate

    dna, out = DNA.initial(), []
    for _ in range(count):
        dna = mutate(dna, rng, in_shape=(1, 8, 8)).dna
        out.append(dna.to_json())
    return out


def make_run(team, user, name: str, seed: int, n: int, rng: random.Random) -> int:
    from django.utils import timezone

    from evolab.evolution.config import EvolutionConfig
    from evolab.evolution.mutations import MUTATIONS
    from evolab.experiments.models import Experiment, Individual

    start = timezone.now() - timedelta(hours=3)
    config = EvolutionConfig(population=100, workers=4, max_individuals=n, seed=seed).to_json()
    exp = Experiment.objects.create(team=team, creator=user, name=name, status="finished",
                                    config=config, started=start,
                                    ended=start + timedelta(seconds=5 * n))  # fmt: skip
    genomes = dnas(60, rng)
    rows = []
    for i in range(n):
        acc = min(0.99, 0.1 + 0.85 * (i / n) ** 0.5 * rng.random() ** 0.2)
        rows.append(Individual(
            experiment=exp, number=i, dna=genomes[min(59, i * 60 // n)], val_accuracy=acc,
            mutation="" if i < 100 else rng.choice(MUTATIONS),
            state="alive" if i >= n - 100 else "dead", flops=10 ** rng.uniform(7, 10),
            params=rng.randrange(100, 100_000), train_seconds=rng.uniform(2, 8),
            timings={"step": rng.uniform(3, 9)}, trained=start + timedelta(seconds=5 * i),
        ))  # fmt: skip
    Individual.objects.bulk_create(rows, batch_size=1000)
    ids = list(exp.individuals.order_by("number").values_list("pk", flat=True))
    for i in range(100, n):  # each child's parent: an earlier individual, mostly a recent one
        parent = ids[max(0, i - 1 - int(rng.expovariate(1 / 60)))]
        Individual.objects.filter(pk=ids[i]).update(parent_id=parent)
    best = exp.individuals.order_by("-val_accuracy").first()
    Experiment.objects.filter(pk=exp.pk).update(
        best=best, best_val_accuracy=best.val_accuracy, individuals_trained=n,
        individuals_created=n, total_flops=sum(r.flops for r in rows), test_accuracy=0.97,
    )  # fmt: skip
    return exp.pk


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", help="write the standalone file here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="evolab-report-bench-"))
    setup_env(tmp)
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from evolab.accounts.models import Membership, Team
    from evolab.experiments import report
    from evolab.experiments.models import Experiment

    call_command("migrate", verbosity=0)
    team = Team.objects.create(name="Bench")
    user = User.objects.create_user("bench", password="pw-bench-12345")
    Membership.objects.create(user=user, team=team, role="member")
    rng = random.Random(1)
    exp_id = make_run(team, user, f"bench {args.n}", 1, args.n, rng)
    for seed in range(2, 2 + args.repeats):
        make_run(team, user, f"repeat seed {seed}", seed, args.n, rng)
    exp = Experiment.objects.get(pk=exp_id)

    times = []
    for _ in range(5):
        connection.queries_log.clear()  # a full log (the inserts) would hide the new ones
        t = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            html = report.standalone(exp, "http://127.0.0.1:8000/experiments/1/")
        times.append(time.perf_counter() - t)
        count = len(queries)  # now: a request resets the log that `queries` reads
    client = Client()
    client.force_login(user)
    page = []
    for _ in range(3):
        t = time.perf_counter()
        r = client.get(f"/experiments/{exp_id}/report/", HTTP_HOST="127.0.0.1")
        page.append(time.perf_counter() - t)
        assert r.status_code == 200
    if args.out:
        Path(args.out).write_text(html, encoding="utf-8")
    print("| individuals | repeats | file (median of 5) | page (median of 3) | queries | size |")
    print("|---|---|---|---|---|---|")
    file_s, page_s = statistics.median(times), statistics.median(page)
    print(f"| {args.n:,} | {args.repeats} | {file_s:.3f} s | {page_s:.3f} s | {count} "
          f"| {len(html) / 1024:.0f} KiB |")  # fmt: skip


if __name__ == "__main__":
    main()
