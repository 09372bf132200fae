"""Faults from the Celery issue: a worker killed mid-training, the broker lost, pause/resume.

Each leaves exact accounting: every individual trained once, the population at its set-point.
"""

import signal
import sys
import time

import pytest
import redis

from .harness import Stack, wait_for
from .invariants import assert_exact_accounting, assert_population_invariant

pytestmark = pytest.mark.integration

P, BUDGET = 4, 14
CONFIG = {
    "dataset": "digits",
    "population": P,
    "workers": 2,
    "steps_per_child": 150,
    "max_individuals": BUDGET,
    "seed": 11,
}


@pytest.fixture(scope="module", params=["postgres", "embedded"])
def faulty(request, tmp_path_factory):
    s = Stack(request.param, tmp_path_factory.mktemp(f"faults-{request.param}"))
    s.start(workers=2, concurrency=1)
    yield s
    s.stop()


def assert_exact(stack, exp_id):
    assert_exact_accounting(stack, exp_id, P, BUDGET)
    assert_population_invariant(stack, exp_id, P)


def training_on(stack, exp_id, worker_prefix):
    return stack.sql(
        "SELECT id FROM experiments_individual WHERE experiment_id = ? AND "
        "state = 'training' AND worker LIKE ?",
        (exp_id, f"%{worker_prefix}-%"),
    )


def test_killing_a_worker_mid_training_loses_nothing(faulty):
    s = faulty.session()
    exp = faulty.create(s, CONFIG, name="kill -9")
    wait_for(lambda: training_on(faulty, exp["id"], "w1"), 60, "w1 to train a child", 0.05)
    faulty.kill("w1", signal.SIGKILL)
    body = faulty.wait_status(s, exp["id"], ("finished",), timeout=180)
    assert body["individuals_trained"] == BUDGET
    assert_exact(faulty, exp["id"])
    retrained = faulty.sql(
        "SELECT COUNT(*) FROM experiments_individual WHERE experiment_id = ? AND attempts > 1",
        (exp["id"],),
    )[0][0]
    assert retrained >= 1  # the orphaned child was taken over, not lost
    faulty.start_worker("w1", 1)


def test_losing_the_broker_mid_run_the_run_resumes(faulty):
    s = faulty.session()
    exp = faulty.create(s, CONFIG, name="broker lost")
    wait_for(lambda: faulty.trained(exp["id"]) >= 2, 60, "progress")
    if faulty.kind == "embedded":  # restart the embedded server: it keeps nothing
        faulty.kill("redis", signal.SIGKILL)
        time.sleep(1)
        faulty.spawn("redis", [sys.executable, "-m", "evolab.embedded_redis"])
    else:  # the machine's Redis is shared: empty every key of this stack instead
        client = redis.Redis.from_url(faulty.env["REDIS_URL"])
        for prefix in (faulty.env["EVOLAB_BROKER_PREFIX"], faulty.env["EVOLAB_CHANNEL_PREFIX"]):
            keys = list(client.scan_iter(f"{prefix}*"))
            if keys:
                client.delete(*keys)
    body = faulty.wait_status(s, exp["id"], ("finished",), timeout=240)
    assert body["individuals_trained"] == BUDGET
    assert_exact(faulty, exp["id"])


def test_a_paused_run_resumes_where_it_was(faulty):
    s = faulty.session()
    exp = faulty.create(s, CONFIG, name="pause")
    wait_for(lambda: faulty.trained(exp["id"]) >= P, 60, "progress")
    assert s.post(f"{faulty.url}/api/experiments/{exp['id']}/pause/", timeout=10).ok
    paused = faulty.wait_status(s, exp["id"], ("paused",), timeout=60)
    time.sleep(2)
    still = s.get(f"{faulty.url}/api/experiments/{exp['id']}/", timeout=10).json()
    assert still["individuals_trained"] == paused["individuals_trained"] < BUDGET
    assert not training_on(faulty, exp["id"], "w")
    assert s.post(f"{faulty.url}/api/experiments/{exp['id']}/resume/", timeout=10).ok
    faulty.wait_status(s, exp["id"], ("finished",), timeout=180)
    assert_exact(faulty, exp["id"])
    refused = s.post(f"{faulty.url}/api/experiments/{exp['id']}/resume/", timeout=10)
    assert refused.status_code == 409 and "finished" in refused.json()["detail"]
