"""Dashboard at scale: a synthetic run of 50,000 individuals in a fresh SQLite database.

Prints a table: snapshot endpoint time, time until the page is interactive in Chromium, and
the latency of 1,000 events per second pushed through the channel layer (Redis at
127.0.0.1:6379) to a connected page. Run: .venv/bin/python bench/dashboard.py [--n 50000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_env(tmp: Path) -> None:
    (tmp / "var").mkdir(parents=True, exist_ok=True)  # settings create nothing
    os.environ.update(
        DJANGO_SETTINGS_MODULE="evolab.settings",
        DATABASE_URL=f"sqlite:///{tmp / 'bench.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:6379/0",
        EVOLAB_CHANNEL_PREFIX=f"bench-{os.getpid()}",
        EVOLAB_BROKER_PREFIX=f"bench-{os.getpid()}:",
        EVOLAB_VAR_DIR=str(tmp / "var"),
        LOG_LEVEL="WARNING",
    )


def populate(n: int):
    """One finished-looking run of n individuals with parents, mutations and accuracies."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.utils import timezone

    from evolab.accounts.models import Membership, Team
    from evolab.evolution.mutations import MUTATIONS
    from evolab.experiments.models import Experiment, Individual

    call_command("migrate", verbosity=0)
    team = Team.objects.create(name="Bench")
    user = User.objects.create_user("bench", password="pw-bench-12345")
    Membership.objects.create(user=user, team=team, role="member")
    start = timezone.now() - timedelta(hours=10)
    exp = Experiment.objects.create(team=team, creator=user, name="bench 50k", status="running",
                                    config={"dataset": "digits", "population": 1000, "workers": 8,
                                            "steps_per_child": 400, "max_individuals": n},
                                    started=start)  # fmt: skip
    rng, dna = random.Random(1), {"schema": 1, "learning_rate": 0.1, "next_id": 3,
                                  "vertices": [], "edges": []}  # fmt: skip
    rows, best = [], 0.0
    for i in range(n):
        acc = min(0.99, 0.1 + 0.8 * (i / n) * rng.random() ** 0.3)
        rows.append(Individual(experiment=exp, number=i, dna=dna, val_accuracy=acc,
                               mutation="" if i < 1000 else rng.choice(MUTATIONS),
                               state="alive" if i >= n - 1000 else "dead",
                               trained=start + timedelta(seconds=0.7 * i)))  # fmt: skip
        best = max(best, acc)
    Individual.objects.bulk_create(rows, batch_size=2000)
    ids = list(
        Individual.objects.filter(experiment=exp).order_by("number").values_list("pk", flat=True)
    )
    for i in range(1000, n, 500):  # parents, in bulk (the lineage and analytics have work to do)
        Individual.objects.filter(pk__in=ids[i : i + 500]).update(parent_id=ids[rng.randrange(i)])
    totals = {"individuals_trained": n, "individuals_created": n, "total_flops": 1e15}
    Experiment.objects.filter(pk=exp.pk).update(best_val_accuracy=best, **totals)
    return exp.pk, user


def time_snapshot(exp_id: int, user) -> tuple[float, int]:
    from django.test import Client

    client = Client()
    client.force_login(user)
    times, size = [], 0
    for _ in range(5):
        t = time.perf_counter()
        body = client.get(f"/experiments/{exp_id}/snapshot.json", HTTP_HOST="127.0.0.1").content
        times.append(time.perf_counter() - t)
        size = len(body)
    return statistics.median(times), size


def push_events(exp_id: int, last_seq: int, rate: int, seconds: float) -> None:
    """Broadcast `rate` progress events per second, each stamped with its send time."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from evolab.experiments.events import group_name

    layer, send = get_channel_layer(), None
    send = async_to_sync(layer.group_send)
    t0 = time.perf_counter()
    for k in range(int(rate * seconds)):
        while time.perf_counter() < t0 + k / rate:
            time.sleep(0.0002)
        data = {"id": -1, "step": k, "steps": 1, "loss": None, "sent": time.time()}
        event = {"seq": last_seq + 1 + k, "kind": "progress", "data": data}
        send(group_name(exp_id), {"type": "evolab.event", "event": event})


LISTEN = """() => { window.__lat = [];
  evolab.state.socket.addEventListener('message', m => {
    const e = JSON.parse(m.data);
    if (e.data.sent) __lat.push(Date.now() - e.data.sent * 1000);
  });
}"""


def browser_numbers(url: str, exp_id: int, last_seq: int, events: int) -> dict:
    import threading

    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(f"{url}/accounts/login/")
        page.fill("#id_username", "bench")
        page.fill("#id_password", "pw-bench-12345")
        page.click("button[type=submit]")
        page.wait_for_url("**/experiments/")
        t = time.perf_counter()
        page.goto(f"{url}/experiments/{exp_id}/")
        page.wait_for_selector("#conn.live", timeout=60_000)
        page.wait_for_function("document.getElementById('chart').dataset.points !== '0'")
        interactive = time.perf_counter() - t
        page.evaluate(LISTEN)
        pusher = threading.Thread(target=push_events, args=(exp_id, last_seq, 1000, events / 1000))
        pusher.start()
        pusher.join()
        page.wait_for_function(f"window.__lat.length >= {events}", timeout=30_000)
        lat = sorted(page.evaluate("window.__lat"))
        browser.close()
    return {"interactive": interactive, "lat": lat}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=3000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="evolab-bench-"))
    setup_env(tmp)
    import django

    django.setup()
    from tests.integration.harness import Stack, free_port

    exp_id, user = populate(args.n)
    snap_s, snap_bytes = time_snapshot(exp_id, user)
    stack = Stack.__new__(Stack)  # only its process helpers: our DB is already populated
    stack.tmp, stack.procs, stack.env = tmp, {}, dict(os.environ)
    stack.port = free_port()
    stack.url = f"http://127.0.0.1:{stack.port}"
    stack.start_web()
    try:
        from evolab.experiments.models import Experiment

        last_seq = Experiment.objects.get(pk=exp_id).last_seq
        nums = browser_numbers(stack.url, exp_id, last_seq, args.events)
    finally:
        stack.kill("web")
    lat = nums["lat"]
    rows = [
        ("individuals", f"{args.n:,}", ""),
        (
            "snapshot endpoint (median of 5)",
            f"{snap_s * 1000:.0f} ms",
            f"{snap_bytes / 1e6:.2f} MB",
        ),
        ("page interactive (Chromium)", f"{nums['interactive']:.2f} s", "target < 2 s"),
        ("events pushed at 1,000/s", f"{len(lat):,}", "through Redis channel layer"),
        ("event latency p50", f"{lat[len(lat) // 2]:.0f} ms", ""),
        ("event latency p95", f"{lat[int(len(lat) * 0.95)]:.0f} ms", "target < 200 ms"),
        ("event latency max", f"{lat[-1]:.0f} ms", ""),
    ]
    print(f"\n{'measure':36} {'value':>12}  note")
    for name, value, note in rows:
        print(f"{name:36} {value:>12}  {note}")


if __name__ == "__main__":
    main()
