"""Leases with fencing tokens: a worker that lost its lease cannot commit; a child that keeps
killing its workers is failed after a bounded number of attempts, and the run goes on."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from evolab.evolution.step import TrainedChild
from evolab.experiments import claims, commits, leases, retention, services
from evolab.experiments.models import Experiment, Individual, State, Status


@pytest.fixture
def running(team, member, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    exp = services.create_experiment(
        team, member, "fence", {"population": 3, "max_individuals": 10}
    )
    Experiment.objects.filter(pk=exp.pk).update(status=Status.RUNNING)
    return exp


def trained(acc=0.5):
    return TrainedChild(
        val_accuracy=acc, flops=1.0, params=1, steps=1, train_seconds=0.1, weights=b"weights"
    )


def expire(individual_id):
    Individual.objects.filter(pk=individual_id).update(
        lease_expires=timezone.now() - timedelta(seconds=1)
    )


def test_a_worker_paused_past_its_lease_cannot_commit_and_the_new_holder_can(running):
    first = claims.claim(running.pk, "sleepy")
    expire(first.individual_id)
    second = claims.claim(running.pk, "fresh")
    assert second.individual_id == first.individual_id and second.token != first.token
    assert leases.heartbeat(first, 10, 1.0) is False  # the old holder learns it lost the lease
    assert commits.commit(first, trained(0.9)) is False
    assert commits.commit(second, trained(0.4)) is True
    ind = Individual.objects.get(pk=first.individual_id)
    assert ind.state == State.ALIVE and ind.val_accuracy == 0.4
    assert ind.weights and default_storage.exists(ind.weights)
    files = default_storage.listdir(f"experiments/{running.pk}")[1]
    assert files == [ind.weights.rsplit("/", 1)[1]]  # the fenced-out file was removed


def test_a_duplicate_commit_of_the_same_lease_commits_once(running):
    claim = claims.claim(running.pk, "w")
    assert commits.commit(claim, trained()) is True
    assert commits.commit(claim, trained()) is False
    running.refresh_from_db()
    assert running.individuals_trained == 1


def test_a_poison_child_is_failed_after_three_lost_workers_and_the_run_goes_on(running):
    claim = claims.claim(running.pk, "w0")
    for attempt in (2, 3):
        expire(claim.individual_id)
        claim = claims.claim(running.pk, f"w{attempt}")
        assert claim.attempt == attempt
    expire(claim.individual_id)
    nxt = claims.claim(running.pk, "w4")
    poison = Individual.objects.get(pk=claim.individual_id)
    assert poison.state == State.FAILED and "lost 3 times" in poison.failure_reason
    assert nxt.individual_id != poison.pk  # the run moved on to new work


def test_a_paused_run_claims_nothing(running):
    Experiment.objects.filter(pk=running.pk).update(status=Status.PAUSED)
    assert claims.claim(running.pk, "w") == claims.DONE
    assert not Individual.objects.filter(experiment=running).exists()


def test_a_file_left_by_a_worker_that_died_before_its_commit_is_swept(running):
    claim = claims.claim(running.pk, "w")
    commits.commit(claim, trained())
    kept = Individual.objects.get(pk=claim.individual_id).weights
    default_storage.save(
        f"experiments/{running.pk}/7-deadbeef.safetensors", __import__("io").BytesIO(b"half")
    )
    assert retention.sweep_orphan_weights(running.pk, grace_seconds=3600) == 0  # maybe in flight
    assert retention.sweep_orphan_weights(running.pk) == 1
    assert default_storage.listdir(f"experiments/{running.pk}")[1] == [kept.rsplit("/", 1)[1]]


def test_a_failure_between_storing_weights_and_the_commit_leaves_no_file(running, monkeypatch):
    claim = claims.claim(running.pk, "w")

    def broken(*args):
        raise ConnectionError("database went away")

    monkeypatch.setattr(commits, "_commit_row", broken)
    with pytest.raises(ConnectionError):
        commits.commit(claim, trained())
    assert default_storage.listdir(f"experiments/{running.pk}")[1] == []
    assert Individual.objects.get(pk=claim.individual_id).state == State.TRAINING  # retrained
