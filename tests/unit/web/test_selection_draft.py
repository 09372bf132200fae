"""A tournament step is drafted before the selection lock (pair, parent, mutation) and checked
under it: a fresh draft is used as planned, a stale one (one of the pair died meanwhile) is
planned again inside the lock, and neither kills anyone twice or breaks the set-point."""

import pytest

from evolab.experiments import services, steps
from evolab.experiments.models import Experiment, Individual, State, Status

P = 4


@pytest.fixture
def full(team, member, settings, tmp_path):
    """A running experiment whose P initial individuals are trained and alive."""
    settings.MEDIA_ROOT = tmp_path
    config = {"dataset": "digits", "population": P, "workers": 1, "steps_per_child": 1,
              "max_individuals": 50, "seed": 1}  # fmt: skip
    exp = services.create_experiment(team, member, "draft", config)
    Experiment.objects.filter(pk=exp.pk).update(status=Status.RUNNING)
    for accuracy in (0.1, 0.2, 0.3, 0.4):
        claim = steps.claim(exp.pk, "w")
        assert steps.commit(claim, _trained(accuracy))
    return exp


def _trained(accuracy):
    return steps.TrainedChild(val_accuracy=accuracy, flops=1.0, params=1, steps=1,
                              train_seconds=0.0, weights=b"\0" * 8)  # fmt: skip


def _members(exp):
    return Individual.objects.filter(experiment=exp, state__in=[State.ALIVE, State.TRAINING])


@pytest.mark.django_db(transaction=True)
def test_a_fresh_draft_is_the_step(full, monkeypatch):
    draft = steps._draft(full.pk)
    parent, rival = (Individual.objects.get(pk=i) for i in (draft.parent, draft.rival))
    assert parent.val_accuracy > rival.val_accuracy  # the better of the pair breeds
    monkeypatch.setattr(steps, "_draft", lambda _id: draft)
    claim = steps.claim(full.pk, "w")
    child = Individual.objects.get(pk=claim.individual_id)
    assert child.parent_id == draft.parent and child.dna == draft.mutated.dna.to_json()
    assert Individual.objects.get(pk=draft.rival).state == State.DEAD
    assert _members(full).count() == P


@pytest.mark.django_db(transaction=True)
def test_a_stale_draft_is_planned_again_under_the_lock(full, monkeypatch):
    draft = steps._draft(full.pk)
    # Another worker's tournament killed the draft's rival between the draft and the lock.
    Individual.objects.filter(pk=draft.rival).update(state=State.DEAD)
    monkeypatch.setattr(steps, "_draft", lambda _id: draft)
    claim = steps.claim(full.pk, "w")
    child = Individual.objects.get(pk=claim.individual_id)
    assert child.parent.state == State.ALIVE
    # Three alive and none training was below P: the replanned step kills no one.
    assert Individual.objects.filter(experiment=full, state=State.DEAD).count() == 1
    assert _members(full).count() == P


@pytest.mark.django_db(transaction=True)
def test_no_draft_while_the_escape_knob_boosts_mutations(full):
    Experiment.objects.filter(pk=full.pk).update(boost_remaining=3)
    assert steps._draft(full.pk) is None
    claim = steps.claim(full.pk, "w")
    child = Individual.objects.get(pk=claim.individual_id)
    assert len(child.mutation_records) == steps.ESCAPE_MUTATIONS
