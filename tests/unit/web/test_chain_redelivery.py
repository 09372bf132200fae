"""A step message delivered twice (Redis redelivers after visibility_timeout while the first
copy still runs) does its work once: the chain's token admits one live holder."""

from datetime import timedelta

import pytest
from django.utils import timezone

from evolab.experiments import chains, services
from evolab.experiments.models import Chain, ChainState, Experiment, Status


@pytest.fixture
def chain(team, member, django_capture_on_commit_callbacks):
    exp = services.create_experiment(team, member, "chains", {"population": 2, "workers": 1})
    Experiment.objects.filter(pk=exp.pk).update(status=Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=False):  # no broker in unit tests
        chains.queue(exp.pk, [0])
    return Chain.objects.get(experiment=exp, slot=0)


def test_a_redelivered_copy_does_nothing_while_the_first_copy_runs(chain):
    token = str(chain.token)
    assert chains.begin(chain.experiment_id, 0, token) is True
    assert chains.begin(chain.experiment_id, 0, token) is False  # the duplicate backs off


def test_a_redelivered_copy_takes_over_once_the_first_copy_stopped_beating(chain, settings):
    token = str(chain.token)
    assert chains.begin(chain.experiment_id, 0, token)
    Chain.objects.filter(pk=chain.pk).update(
        beat=timezone.now() - timedelta(seconds=settings.EVOLAB_LEASE_SECONDS + 1)
    )
    assert chains.begin(chain.experiment_id, 0, token) is True


def test_a_message_for_a_replaced_token_does_nothing(chain, django_capture_on_commit_callbacks):
    old = str(chain.token)
    with django_capture_on_commit_callbacks(execute=False):
        chains.queue(chain.experiment_id, [0])  # the reconciler replaced the chain
    assert chains.begin(chain.experiment_id, 0, old) is False
    assert Chain.objects.get(pk=chain.pk).state == ChainState.QUEUED


def test_the_reconciler_replaces_a_chain_whose_message_is_lost(chain):
    Chain.objects.filter(pk=chain.pk).update(
        queued_at=timezone.now() - timedelta(seconds=chains.QUEUE_GRACE_SECONDS + 1)
    )
    old = chain.token
    assert chains.reconcile(broker_has=lambda token: False) == [(chain.experiment_id, 0)]
    assert Chain.objects.get(pk=chain.pk).token != old


def test_the_reconciler_leaves_a_chain_whose_message_is_waiting_in_the_broker(chain):
    Chain.objects.filter(pk=chain.pk).update(
        queued_at=timezone.now() - timedelta(seconds=chains.QUEUE_GRACE_SECONDS + 1)
    )
    assert chains.reconcile(broker_has=lambda token: token == str(chain.token)) == []


@pytest.fixture
def stepping(team, member, settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks):
    """A running run of tiny children, its chain's token, and a way to run the chain's task as
    a worker would; the messages its steps queue are kept instead of sent (no broker here)."""
    from evolab.experiments import evaluation
    from workers import tasks

    settings.MEDIA_ROOT = tmp_path
    config = {"population": 2, "workers": 1, "steps_per_child": 2, "max_individuals": 5}
    exp = services.create_experiment(team, member, "loop", config)
    Experiment.objects.filter(pk=exp.pk).update(status=Status.RUNNING)
    sent = []
    monkeypatch.setattr(chains, "send_step", lambda *message: sent.append(message))
    monkeypatch.setattr(evaluation, "send_final_evaluation", lambda experiment_id: None)
    with django_capture_on_commit_callbacks(execute=True):
        chains.queue(exp.pk, [0])

    def task(token: str) -> str:
        with django_capture_on_commit_callbacks(execute=True):  # what follows each commit
            return tasks.step.run(exp.pk, 0, token)

    return exp, sent, task


def test_one_task_steps_its_chain_while_it_has_time(stepping, monkeypatch):
    from workers import tasks

    exp, sent, task = stepping
    monkeypatch.setattr(tasks, "CHAIN_TASK_SECONDS", 3600)
    assert task(sent[0][2]) == "done"  # the whole budget in one task
    exp.refresh_from_db()
    assert exp.status == Status.FINISHED and exp.individuals_trained == 5 and len(sent) == 1
    assert not Chain.objects.filter(experiment=exp).exists()  # the chain ended with the run
    # What the last steps' kills left was collected when the run came to rest.
    assert exp.individuals.filter(state="dead").exclude(weights="").count() <= exp.cfg.ensemble_k


def test_a_task_out_of_time_queues_its_chain_behind_the_others(stepping, monkeypatch):
    from workers import tasks

    exp, sent, task = stepping
    monkeypatch.setattr(tasks, "CHAIN_TASK_SECONDS", 0)
    assert task(sent[0][2]) == "stepped"
    assert Experiment.objects.get(pk=exp.pk).individuals_trained == 1
    chain = Chain.objects.get(experiment=exp, slot=0)
    assert chain.state == ChainState.QUEUED and sent[1:] == [(exp.pk, 0, str(chain.token), 0)]


def test_a_task_whose_chain_was_replaced_mid_step_stops_after_that_step(stepping, monkeypatch):
    from workers import tasks

    exp, sent, task = stepping
    train = tasks.train_claimed_child

    def replaced_meanwhile(*args):  # the reconciler took the chain for lost while it trained
        chains.queue(exp.pk, [0])
        return train(*args)

    monkeypatch.setattr(tasks, "CHAIN_TASK_SECONDS", 3600)
    monkeypatch.setattr(tasks, "train_claimed_child", replaced_meanwhile)
    assert task(sent[0][2]) == "stale"
    assert Experiment.objects.get(pk=exp.pk).individuals_trained == 1  # its own step counts
    assert str(Chain.objects.get(experiment=exp, slot=0).token) == sent[-1][2] != sent[0][2]
