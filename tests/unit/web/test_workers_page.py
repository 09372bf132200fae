"""The workers page's JSON: every live worker process as it reports itself to Redis (the real
one on 127.0.0.1:6379, under a prefix of this test's own), what it trains, and nothing of
another team's run; the experiment page's note when a run asks for more workers than there
are processes."""

from __future__ import annotations

import time
import uuid

import pytest
import redis
import torch

from evolab.evolution.dna import DNA
from evolab.experiments import processes, services
from evolab.experiments.models import Individual, State, Status
from workers import process_beat

CPU = torch.device("cpu")


@pytest.fixture
def registry(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    prefix = f"ut-{uuid.uuid4().hex[:8]}:"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": prefix}
    yield
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def training_child(team, user, name: str, workers: int = 2) -> Individual:
    exp = services.create_experiment(team, user, name, {"population": 2, "workers": workers})
    exp.status = Status.RUNNING
    exp.save(update_fields=["status"])
    fields = {"state": State.TRAINING, "progress_step": 7, "progress_loss": 0.25}
    return Individual.objects.create(
        experiment=exp, number=1, dna=DNA.initial().to_json(), **fields
    )


def report(pid: int, child: Individual | None = None, done: int = 0, queue: str = "") -> None:
    """What the worker-side code (workers/process_beat.py) writes for one process; `queue`:
    it consumes that queue instead of its own (this process's, the default: cpu)."""
    activity = process_beat.Activity()
    for _ in range(done):
        activity.training(0, 0, 0, "w0@lab")
        activity.idle(trained=True)
    if child is not None:
        activity.training(child.experiment_id, child.pk, child.number, "w0@lab")
    record = process_beat.record(CPU, process_beat.describe_device(CPU), activity)
    if queue:
        record["queues"] = [queue]
    processes.report({**record, "name": f"lab-{pid}:{pid}", "host": f"lab-{pid}", "pid": pid})


@pytest.mark.django_db
def test_each_user_sees_every_process_but_only_their_teams_children(
    registry, client, team, member, other_team, outsider
):
    ours = training_child(team, member, "vision-secret-run")
    theirs = training_child(other_team, outsider, "other-lab-secret-run")
    report(1, ours)
    report(2, theirs)
    report(3, done=3)
    client.force_login(member)
    body = client.get("/experiments/workers.json").json()
    rows = {p["pid"]: p for p in body["processes"]}
    assert [p["pid"] for p in body["processes"]] == [1, 2, 3]
    assert rows[1]["state"] == "training" and rows[1]["child"] == {
        "experiment": ours.experiment_id, "experiment_name": "vision-secret-run",
        "team": "Vision", "id": ours.pk, "number": 1, "mutation": None, "step": 7,
        "steps": 300, "loss": 0.25, "state": "training",
    }  # fmt: skip
    assert rows[2]["state"] == "busy" and rows[2]["child"] is None
    assert rows[3]["state"] == "idle" and rows[3]["children_done"] == 3
    assert rows[3]["children_per_hour"] > 0 and rows[1]["device"].startswith("CPU, ")
    assert rows[1]["rss_bytes"] > 10_000_000 and rows[1]["node"] == "w0@lab"
    assert rows[1]["queues"] == ["cpu"]  # what this process would consume: the default queue
    assert body["summary"] | {"children_per_hour": 0} == {
        "processes": 3, "training": 1, "busy": 1, "idle": 1, "children_per_hour": 0}  # fmt: skip
    text = client.get("/experiments/workers.json").content.decode()
    assert "other-lab-secret-run" not in text and "Other lab" not in text
    assert (
        f'"id": {theirs.pk},' not in text and f'"experiment": {theirs.experiment_id},' not in text
    )
    client.force_login(outsider)
    seen = {
        p["pid"]: p["state"] for p in client.get("/experiments/workers.json").json()["processes"]
    }
    assert seen == {1: "busy", 2: "training", 3: "idle"}


@pytest.mark.django_db
def test_a_process_that_says_it_is_gone_or_stops_reporting_drops_out(registry, settings):
    report(1)
    report(2)
    assert [r["pid"] for r in processes.live()] == [1, 2]
    processes.forget("lab-1:1")
    assert [r["pid"] for r in processes.live()] == [2]
    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    assert 0 < client.ttl(f"{prefix}evolab:processes:p:lab-2:2") <= processes.LIVE_SECONDS
    client.zadd(f"{prefix}evolab:processes:live", {"lab-2:2": time.time() - 60})  # long silent
    assert processes.live() == []


def test_children_per_hour_counts_the_last_hour_only():
    activity = process_beat.Activity()
    activity.started = time.time() - 3 * 3600
    now = time.monotonic()
    activity.finished.extend([now - 7000, now - 5000, now - 60, now - 30])
    assert activity.per_hour(now) == 2.0
    young = process_beat.Activity()
    young.started = time.time() - 1800  # half an hour old, 3 children: 6 an hour
    young.finished.extend([now - 100, now - 50, now - 10])
    assert young.per_hour(now) == pytest.approx(6.0, rel=0.01)


@pytest.mark.parametrize(
    "asked,live,notice",
    [
        (4, 1, "This run asks for 4 parallel workers, 1 worker process of its queue (gpu) is "
               "running: its children train one at a time."),
        (4, 2, "This run asks for 4 parallel workers, 2 worker processes of its queue (gpu) are "
               "running: its children train at most 2 at a time."),
        (2, 0, "This run asks for 2 parallel workers, and no worker process of its queue (gpu) "
               "is running: no child trains until one starts."),
        (2, 2, None),
        (2, None, None),  # Redis unreachable: nothing is known, nothing is said
    ],
)  # fmt: skip
def test_the_capacity_notice_says_how_children_will_train(asked, live, notice):
    assert processes.capacity_notice(asked, live, "gpu") == notice


@pytest.mark.django_db
def test_the_experiment_page_says_when_a_run_asks_for_more_workers_than_processes(
    registry, settings, client, team, member
):
    """Only the processes of the run's queue count: a gpu process never takes a cpu run's
    steps (and the other way round)."""
    child = training_child(team, member, "wide", workers=4)
    report(1, child)
    for pid in (2, 3, 4):
        report(pid, queue="gpu")  # live, but of the other queue
    client.force_login(member)
    page = client.get(f"/experiments/{child.experiment_id}/").content.decode()
    expected = (
        "asks for 4 parallel workers, 1 worker process of its queue (cpu) is running: its "
        "children train one at a time"
    )
    assert expected in page
    live = client.get(f"/experiments/{child.experiment_id}/capacity.json").json()
    assert live == {"workers": 4, "processes": 1, "queue": "cpu", "notice": f"This run {expected}."}
    assert client.get("/experiments/workers.json").json()["summary"]["processes"] == 4
    settings.CELERY_TASK_DEFAULT_QUEUE = "gpu"  # an installation whose runs go to the gpu queue
    assert client.get(f"/experiments/{child.experiment_id}/capacity.json").json()["processes"] == 3
    settings.CELERY_TASK_DEFAULT_QUEUE = "cpu"
    for pid in (5, 6, 7):
        report(pid)
    assert client.get(f"/experiments/{child.experiment_id}/capacity.json").json()["notice"] is None
    page = client.get(f"/experiments/{child.experiment_id}/").content.decode()
    assert 'id="capacity-notice"' in page and "asks for" not in page


@pytest.mark.django_db
def test_without_redis_the_pages_still_answer_and_say_so(settings, client, team, member):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    child = training_child(team, member, "no-redis", workers=4)
    client.force_login(member)
    body = client.get("/experiments/workers.json").json()
    assert body["reachable"] is False and body["processes"] == []
    assert client.get(f"/experiments/{child.experiment_id}/").status_code == 200
    assert client.get("/experiments/workers/").status_code == 200
