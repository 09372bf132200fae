"""A child whose loss went NaN (diverged) reports its progress as valid JSON: NaN is not JSON,
and the page's JSON.parse throws on the live message (and on the snapshot, on PostgreSQL)."""

import json

import pytest

from evolab.experiments import events, services, steps
from evolab.experiments.models import Experiment, Individual, Status
from workers import child, tasks


@pytest.fixture
def claimed(team, member):
    exp = services.create_experiment(team, member, "nan", {"population": 3, "max_individuals": 9})
    Experiment.objects.filter(pk=exp.pk).update(status=Status.RUNNING)
    return steps.claim(exp.pk, "w")


@pytest.mark.parametrize("loss", [float("nan"), float("inf")])
def test_a_non_finite_loss_is_reported_as_no_loss(claimed, monkeypatch, loss):
    sent = []
    monkeypatch.setattr(events, "progress", lambda experiment_id, data: sent.append(data))

    def diverging(claim, storage, settings, progress):
        progress(7, loss)  # training.py's last report of a diverged child
        raise tasks.LeaseLost()  # stop here: only the report matters

    monkeypatch.setattr(child, "train_claimed_child", diverging)
    tasks._train_and_commit(claimed, lambda: None)
    assert [d["loss"] for d in sent] == [None]
    json.dumps(sent, allow_nan=False)  # what the websocket sends must parse in a browser
    assert Individual.objects.get(pk=claimed.individual_id).progress_loss is None
