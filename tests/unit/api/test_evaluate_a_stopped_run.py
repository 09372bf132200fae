"""A stopped run is evaluated on request by the finished run's own task (in place here:
Celery eager), once at a time; controls its state does not allow answer 409 and change
nothing; a stopped run resumes. The multi-process version: tests/integration."""

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from evolab.experiments.models import Chain, Event, Status

from .conftest import api, store_individual


@pytest.fixture
def stopped(exp):
    """A stopped run whose best two have weights: what stopping mid-run leaves."""
    store_individual(exp, 0, 0.4)
    best = store_individual(exp, 1, 0.6)
    exp.status, exp.best, exp.best_val_accuracy = Status.STOPPED, best, 0.6
    exp.save()
    return exp


def kinds_after(exp, seq: int) -> list[str]:
    return list(Event.objects.filter(experiment=exp, seq__gt=seq).values_list("kind", flat=True))


def test_a_stopped_run_is_evaluated_on_request_like_a_finished_one(
    eager, stopped, member, django_capture_on_commit_callbacks
):
    before = stopped.last_seq
    with django_capture_on_commit_callbacks(execute=True):
        r = api(member).post(f"/api/experiments/{stopped.pk}/evaluate/")
        assert r.status_code == 202, r.content
        assert r.json()["evaluating"] is True and "evaluate" not in r.json()["actions"]
    stopped.refresh_from_db()
    assert stopped.status == Status.STOPPED and stopped.evaluating_since is None
    assert 0 <= stopped.test_accuracy <= 1 and 0 <= stopped.ensemble_test_accuracy <= 1
    stopped.best.refresh_from_db()
    assert stopped.best.test_accuracy == stopped.test_accuracy  # the best by validation: #1
    assert kinds_after(stopped, before) == ["status", "result", "status"]
    first, _, last = Event.objects.filter(experiment=stopped, seq__gt=before)
    assert first.data["evaluating"] is True and last.data["evaluating"] is False
    assert last.data["test_accuracy"] == stopped.test_accuracy
    body = api(member).get(f"/api/experiments/{stopped.pk}/").json()
    assert body["test_accuracy"] == stopped.test_accuracy and "evaluate" not in body["actions"]


def test_evaluating_twice_or_a_run_that_is_not_stopped_is_a_409(
    stopped, member, django_capture_on_commit_callbacks
):
    client = api(member)
    with django_capture_on_commit_callbacks(execute=False):  # no worker: still in flight
        assert client.post(f"/api/experiments/{stopped.pk}/evaluate/").status_code == 202
    stopped.refresh_from_db()
    assert stopped.evaluating_since is not None
    seq = stopped.last_seq
    with django_capture_on_commit_callbacks(execute=False) as queued:
        r = client.post(f"/api/experiments/{stopped.pk}/evaluate/")
        assert r.status_code == 409 and "being evaluated already" in r.json()["detail"]
        for status in (Status.RUNNING, Status.FINISHED, Status.QUEUED):
            type(stopped).objects.filter(pk=stopped.pk).update(status=status)
            r = client.post(f"/api/experiments/{stopped.pk}/evaluate/")
            assert r.status_code == 409, status
            assert r.json()["detail"] == f"Cannot evaluate an experiment that is {status}."
    assert not queued and kinds_after(stopped, seq) == []


@pytest.mark.parametrize("status", [Status.FINISHED, Status.STOPPED, Status.STOPPING])
def test_workers_and_escape_on_a_run_that_cannot_train_are_409_and_change_nothing(
    stopped, member, status
):
    stopped.individuals.update(state="alive")
    type(stopped).objects.filter(pk=stopped.pk).update(status=status)
    client, url = api(member), f"/api/experiments/{stopped.pk}"
    for path, body, words in (
        ("workers/", {"workers": 5}, "change the workers of"),
        ("escape/", {"boost_children": 7}, "use the escape knobs on"),
        ("escape/", {"reset_weights": True}, "use the escape knobs on"),
        ("escape/", {"boost_children": 7, "reset_weights": True}, "use the escape knobs on"),
    ):
        r = client.post(f"{url}/{path}", body, format="json")
        assert r.status_code == 409, (path, body, r.content)
        assert r.json() == {"detail": f"Cannot {words} an experiment that is {status}."}
    stopped.refresh_from_db()
    assert stopped.config["workers"] == 2 and stopped.boost_remaining == 0
    assert not stopped.individuals.filter(weights_reset=True).exists()
    assert not Event.objects.filter(experiment=stopped).exists()


def test_the_page_refuses_with_a_message_and_changes_nothing(stopped, member):
    type(stopped).objects.filter(pk=stopped.pk).update(status=Status.FINISHED)
    client = Client()
    client.force_login(member)
    for action, form, what in (
        ("workers", {"workers": 5}, "change the workers of"),
        ("boost", {"children": 3}, "use the escape knobs on"),
        ("reset", {}, "use the escape knobs on"),
        ("evaluate", {}, "evaluate"),
        ("pause", {}, "pause"),
    ):
        message = f"Cannot {what} an experiment that is finished."
        r = client.post(f"/experiments/{stopped.pk}/{action}/", form, follow=True)
        page = r.content.decode()
        assert r.status_code == 200 and message in page, action
        assert 'class="message error"' in page
    stopped.refresh_from_db()
    assert stopped.config["workers"] == 2 and stopped.boost_remaining == 0
    assert stopped.evaluating_since is None and stopped.last_seq == 0


def test_a_stopped_run_resumes_with_its_old_test_numbers_cleared(
    stopped, member, django_capture_on_commit_callbacks
):
    type(stopped).objects.filter(pk=stopped.pk).update(test_accuracy=0.5, evaluating_since=None)
    with django_capture_on_commit_callbacks(execute=False):
        r = api(member).post(f"/api/experiments/{stopped.pk}/resume/")
    assert r.status_code == 200 and r.json()["status"] == "running"
    assert r.json()["test_accuracy"] is None and r.json()["ended"] is None
    assert Chain.objects.filter(experiment=stopped).count() == stopped.cfg.workers


def test_a_run_being_evaluated_does_not_resume(stopped, member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        api(member).post(f"/api/experiments/{stopped.pk}/evaluate/")
        r = api(member).post(f"/api/experiments/{stopped.pk}/resume/")
    assert r.status_code == 409 and "being evaluated" in r.json()["detail"]
    stopped.refresh_from_db()
    assert stopped.status == Status.STOPPED


def test_a_failed_evaluation_clears_the_mark_and_says_why(
    eager, stopped, member, django_capture_on_commit_callbacks
):
    for ind in stopped.individuals.all():
        default_storage.delete(ind.weights)  # the weights went missing
    with django_capture_on_commit_callbacks(execute=True):
        assert api(member).post(f"/api/experiments/{stopped.pk}/evaluate/").status_code == 202
    stopped.refresh_from_db()
    assert stopped.evaluating_since is None and stopped.test_accuracy is None
    last = Event.objects.filter(experiment=stopped).last()
    assert last.kind == "status" and "FileNotFoundError" in last.data["evaluation_error"]
    assert str(default_storage.location) not in last.data["evaluation_error"]  # paths redacted
    assert "evaluate" in api(member).get(f"/api/experiments/{stopped.pk}/").json()["actions"]


@pytest.mark.parametrize("who,code", [("viewer", 403), ("outsider", 404), (None, 401)])
def test_only_the_teams_members_evaluate_and_a_refusal_changes_nothing(
    stopped, who, code, request, django_capture_on_commit_callbacks
):
    user = request.getfixturevalue(who) if who else None
    with django_capture_on_commit_callbacks(execute=False) as queued:
        r = api(user).post(f"/api/experiments/{stopped.pk}/evaluate/")
    assert r.status_code == code and "detail" in r.json()
    stopped.refresh_from_db()
    assert not queued and stopped.evaluating_since is None and stopped.last_seq == 0


def test_the_page_enables_exactly_what_the_state_allows(stopped, member):
    client = Client()
    client.force_login(member)
    page = client.get(f"/experiments/{stopped.pk}/").content.decode()
    assert '<button data-action="evaluate" class="primary-lite"' in page
    evaluate = page.split('data-action="evaluate"')[1].split(">")[0]
    assert "hidden" not in evaluate and "disabled" not in evaluate
    assert '<button data-action="workers" disabled>' in page
    assert (
        '<button data-action="resume">' in page and '<button data-action="pause" disabled>' in page
    )
    type(stopped).objects.filter(pk=stopped.pk).update(status=Status.FINISHED)
    page = client.get(f"/experiments/{stopped.pk}/").content.decode()
    assert page.count('data-action="escape" disabled') == 3  # boost's input and button, reset
    assert "Evaluate the best now" in page and " hidden disabled>" in page  # not offered
    snapshot = client.get(f"/experiments/{stopped.pk}/snapshot.json").json()["experiment"]
    assert snapshot["actions"] == ["clone"] and snapshot["evaluating"] is False
