"""A child whose loss went NaN (diverged) reports its progress as valid JSON: NaN is not JSON,
and the page's JSON.parse throws on the live message (and on the snapshot, on PostgreSQL)."""

import json

import pytest

from evolab.experiments import claims, events, services
from evolab.experiments.models import Experiment, Individual, Status
from evolab.experiments.store import DatabaseStore
from workers import tasks


@pytest.fixture
def claimed(team, member):
    exp = services.create_experiment(team, member, "nan", {"population": 3, "max_individuals": 9})
    Experiment.objects.filter(pk=exp.pk).update(status=Status.RUNNING)
    return claims.claim(exp.pk, "w")


@pytest.mark.parametrize("loss", [float("nan"), float("inf")])
def test_a_non_finite_loss_is_reported_as_no_loss(claimed, monkeypatch, loss):
    sent = []
    monkeypatch.setattr(events, "progress", lambda experiment_id, data: sent.append(data))

    def diverging(claim, storage, settings, progress):
        assert progress.progress(7, loss)  # training.py's last report of a diverged child
        return None  # stop here (as a lost lease would): only the report matters

    monkeypatch.setattr(tasks, "train_claimed_child", diverging)
    store = DatabaseStore(claimed.experiment_id, "w")
    tasks._train_and_commit(store, claimed, tasks._ChainProgress(store, claimed, 0, claimed.token))
    assert [d["loss"] for d in sent] == [None]
    json.dumps(sent, allow_nan=False)  # what the websocket sends must parse in a browser
    assert Individual.objects.get(pk=claimed.individual_id).progress_loss is None
