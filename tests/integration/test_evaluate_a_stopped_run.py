"""A stopped run, on real Celery workers and each database: evaluated on request by the
finished run's own task (once at a time), then resumed."""

import pytest

from .harness import wait_for

pytestmark = pytest.mark.integration

CONFIG = {"dataset": "digits", "population": 3, "workers": 1, "steps_per_child": 30,
          "max_individuals": 500, "seed": 7}  # fmt: skip


def test_a_stopped_run_is_evaluated_by_a_worker_and_then_resumes(stack):
    s = stack.session("mia")
    exp = stack.create(s, CONFIG, name="evaluate-stopped")
    url = f"{stack.url}/api/experiments/{exp['id']}"
    wait_for(lambda: stack.trained(exp["id"]) >= CONFIG["population"], 120, "a population")
    assert s.post(f"{url}/stop/", timeout=30).status_code == 200
    stopped = stack.wait_status(s, exp["id"], ("stopped",), 60)
    assert stopped["test_accuracy"] is None and "evaluate" in stopped["actions"]

    r = s.post(f"{url}/evaluate/", timeout=30)
    assert r.status_code == 202 and r.json()["evaluating"] is True, r.text
    again = s.post(f"{url}/evaluate/", timeout=30)  # in flight, or done already: never twice
    assert again.status_code == 409 and "evaluated already" in again.json()["detail"]

    def evaluated():
        body = s.get(f"{url}/", timeout=10).json()
        return body if body["test_accuracy"] is not None and not body["evaluating"] else None

    done = wait_for(evaluated, 90, "the test evaluation of the stopped run")
    assert done["status"] == "stopped" and 0 < done["ensemble_test_accuracy"] <= 1
    best = s.get(f"{stack.url}/api/individuals/{done['best']['id']}/", timeout=10).json()
    assert best["test_accuracy"] == done["test_accuracy"] > 0  # the best by validation
    log = s.get(f"{url}/events/?after={stopped['last_seq']}", timeout=10).json()["events"]
    assert [e["kind"] for e in log] == ["status", "result", "status"]
    assert log[0]["data"]["evaluating"] is True and log[2]["data"]["evaluating"] is False

    trained = stack.trained(exp["id"])
    r = s.post(f"{url}/resume/", timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "running" and r.json()["ended"] is None
    assert r.json()["test_accuracy"] is None  # the stopped run's numbers are not the end's
    wait_for(lambda: stack.trained(exp["id"]) > trained, 90, "training to go on")
    assert s.post(f"{url}/stop/", timeout=30).status_code == 200
    stack.wait_status(s, exp["id"], ("stopped",), 60)
