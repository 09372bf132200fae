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
