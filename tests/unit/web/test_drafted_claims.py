"""A steady-state step is drafted without a lock and applied only if it still holds.

These run on SQLite with the unit suite and again on PostgreSQL (where the apply is the
server-side evolab_birth) from tests/integration/test_step_tests_on_postgresql.py.
"""

import pytest
from django.db import connection, transaction
from django.utils import timezone

from evolab.evolution.step import TrainedChild
from evolab.experiments import claims, commits, events, leases, reads, services
from evolab.experiments.children import Claim, Stale
from evolab.experiments.models import Event, Experiment, Individual, State, Status

P = 4


@pytest.fixture
def full(team, member, settings, tmp_path):
    """A running experiment whose initial population of P is trained."""
    settings.MEDIA_ROOT = tmp_path
    exp = services.create_experiment(
        team, member, "drafts", {"population": P, "max_individuals": 40, "seed": 5}
    )
    Experiment.objects.filter(pk=exp.pk).update(status=Status.RUNNING)
    for n in range(P):
        claim = claims.claim(exp.pk, "filler")
        assert commits.commit(claim, trained(0.1 * (n + 1)))
    return exp


def trained(acc=0.5):
    return TrainedChild(
        val_accuracy=acc, flops=1.0, params=1, steps=1, train_seconds=0.1, weights=b"weights"
    )


def snapshot(exp):
    """Everything an apply may change."""
    row = Experiment.objects.values(
        "individuals_created", "last_seq", "boost_remaining", "best_changed_at"
    ).get(pk=exp.pk)
    states = dict(Individual.objects.filter(experiment=exp).values_list("pk", "state"))
    return row, states, Event.objects.filter(experiment=exp).count()


def fail(individual_id, reason="failed"):
    """Fail an individual as every caller does: under the experiment's row lock, counted."""
    with transaction.atomic():
        ind = Individual.objects.get(pk=individual_id)
        locked = Experiment.objects.select_for_update().get(pk=ind.experiment_id)
        leases.fail_individual(ind, reason, events.Outbox(locked))


def members(exp):
    return Individual.objects.filter(
        experiment=exp, state__in=[State.ALIVE, State.TRAINING]
    ).count()


def test_a_steady_state_step_is_drafted_and_applied_with_gap_free_events(full):
    draft = claims.draft_step(full.pk, "w", 0)
    assert draft is not None and draft.parent_id != draft.victim
    claim = claims.apply_draft(draft, "w")
    child = Individual.objects.get(pk=claim.individual_id)
    assert (child.number, child.parent_id, child.state) == (P, draft.parent_id, State.TRAINING)
    assert child.dna == draft.dna and child.mutation and child.worker == "w"
    assert str(child.lease_token) == claim.token
    assert Individual.objects.get(pk=draft.victim).state == State.DEAD
    assert members(full) == P
    parent = Individual.objects.get(pk=draft.parent_id)
    inherits = not child.reset_weights  # RESET-WEIGHTS (docs/ALGORITHM.md §3) inherits nothing
    assert claim.parent_weights == (parent.weights if inherits else "")
    assert claim.lineage_steps == parent.steps
    last = list(Event.objects.filter(experiment=full).order_by("seq"))[-2:]
    expected = [("death", draft.victim), ("started", child.pk)]
    assert [(e.kind, e.data["id"]) for e in last] == expected
    assert last[1].data["number"] == P and last[1].data["parent"] == draft.parent_id
    seqs = list(Event.objects.filter(experiment=full).values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    full.refresh_from_db()
    assert (full.individuals_created, full.last_seq) == (P + 1, len(seqs))
    assert commits.commit(claim, trained(0.9))  # and it commits like any other child
    full.refresh_from_db()
    assert full.best_id == child.pk and full.last_seq == len(seqs) + 1


@pytest.mark.parametrize("change", ["victim died", "parent died", "paused", "budget spent"])
def test_a_draft_that_no_longer_holds_changes_nothing(full, change):
    draft = claims.draft_step(full.pk, "w", 0)
    if change == "victim died":
        Individual.objects.filter(pk=draft.victim).update(state=State.DEAD)
    elif change == "parent died":
        Individual.objects.filter(pk=draft.parent_id).update(state=State.DEAD)
    elif change == "paused":
        Experiment.objects.filter(pk=full.pk).update(status=Status.PAUSING)
    else:
        Experiment.objects.filter(pk=full.pk).update(individuals_created=40)
    before = snapshot(full)
    with pytest.raises(Stale):
        claims.apply_draft(draft, "w")
    assert snapshot(full) == before
    assert connection.vendor == "sqlite" or not connection.needs_rollback


def test_a_draft_made_before_a_child_failed_is_stale_and_the_next_claim_refills(full):
    """make chaos's race (about one run in four on PostgreSQL): a poison child failed between
    another worker's draft and its apply; the apply killed anyway, and the run stayed one
    below its set-point to the end."""
    doomed = claims.claim(full.pk, "w1")  # a child in training: P members
    draft = claims.draft_step(full.pk, "w2", 0)
    assert draft is not None and len(draft.plan.kill) == 1
    fail(doomed.individual_id, "poison")
    assert Experiment.objects.get(pk=full.pk).individuals_failed == 1
    before = snapshot(full)
    with pytest.raises(Stale):
        claims.apply_draft(draft, "w2")
    assert snapshot(full) == before
    refill = claims.claim(full.pk, "w2")
    assert isinstance(refill, Claim) and members(full) == P
    assert Individual.objects.filter(experiment=full, state=State.DEAD).count() == 1


def test_a_claim_whose_drafts_keep_going_stale_takes_the_locked_path(full, monkeypatch):
    def stale(draft, worker):
        raise Stale

    monkeypatch.setattr(claims, "apply_draft", stale)
    claim = claims.claim(full.pk, "w")
    assert isinstance(claim, Claim)
    assert Individual.objects.get(pk=claim.individual_id).number == P
    assert members(full) == P


def test_an_orphan_or_a_short_population_is_left_to_the_locked_path(full):
    orphan = claims.claim(full.pk, "lost")
    Individual.objects.filter(pk=orphan.individual_id).update(lease_expires="2000-01-01T00:00Z")
    assert claims.draft_step(full.pk, "w", 0) is None  # the claim takes the orphan over instead
    assert claims.claim(full.pk, "w").individual_id == orphan.individual_id
    fail(orphan.individual_id)
    assert claims.draft_step(full.pk, "w", 0) is None  # P - 1 members: the next step must refill
    refill = claims.claim(full.pk, "w")
    assert members(full) == P and Individual.objects.get(pk=refill.individual_id).parent_id


def test_what_is_broadcast_is_what_the_log_holds(
    full, monkeypatch, django_capture_on_commit_callbacks
):
    """The live messages of a drafted claim and its commit equal the logged events (on
    PostgreSQL those are written by evolab_birth and the one-statement commit)."""
    sent = []
    monkeypatch.setattr(events, "broadcast", lambda exp_id, *msgs: sent.extend(msgs))
    start = Experiment.objects.get(pk=full.pk).last_seq
    with django_capture_on_commit_callbacks(execute=True):  # delivery is after commit
        claim = claims.claim(full.pk, "w")
        assert commits.commit(claim, trained(0.8))
    logged = [e.to_message() for e in Event.objects.filter(experiment=full, seq__gt=start)]
    assert [m["kind"] for m in logged] == ["death", "started", "birth"]
    assert sent == logged
    birth = sent[-1]["data"]
    assert birth["id"] == claim.individual_id and birth["val_accuracy"] == 0.8
    assert birth["weights_bytes_total"] == Experiment.objects.get(pk=full.pk).weights_bytes


def test_the_population_read_gives_each_alive_member_with_its_exact_accuracy(full):
    """The draft reads the population packed into one string: the accuracies that reach the
    tournament must be the stored floats to the last bit (ties are broken on them), an unset
    one reads as 0.0, and a child in training is counted, with its lease, not sampled."""
    alive = list(Individual.objects.filter(experiment=full, state=State.ALIVE).order_by("pk"))
    exact = [0.1 + 0.2, 1 / 3, 2**-40, None]  # 0.30000000000000004: 17 significant digits
    accuracy = {ind.pk: acc for ind, acc in zip(alive, exact, strict=True)}
    for pk, acc in accuracy.items():
        Individual.objects.filter(pk=pk).update(val_accuracy=acc)
    claim = claims.claim_locked(full.pk, "w")  # one child in training, one member killed
    view, orphaned = reads.population_view(Experiment.objects.get(pk=full.pk))
    read, n_training = view.alive, view.training
    stored = dict(
        Individual.objects.filter(experiment=full, state=State.ALIVE).values_list("pk", "number")
    )
    assert sorted(read, key=lambda c: c.id) == [
        (pk, accuracy[pk] or 0.0, number) for pk, number in sorted(stored.items())
    ]
    assert (len(read), n_training, orphaned) == (P - 1, 1, False)
    Individual.objects.filter(pk=claim.individual_id).update(lease_expires=timezone.now())
    assert reads.population_view(Experiment.objects.get(pk=full.pk))[1] is True


def test_when_every_child_in_training_fails_the_lone_survivor_refills_the_population(full):
    """The soak's deadlock: 1 alive and P - 1 in training, all of which failed."""
    doomed = []
    while (claim := claims.claim(full.pk, "w")) != claims.WAIT:
        doomed.append(claim)
    assert len(doomed) == P - 1 and members(full) == P
    for claim in doomed:
        fail(claim.individual_id)
    assert Experiment.objects.get(pk=full.pk).individuals_failed == P - 1
    (survivor,) = Individual.objects.filter(experiment=full, state=State.ALIVE)
    refills = [claims.claim(full.pk, "w") for _ in range(P - 1)]
    assert all(isinstance(c, Claim) for c in refills) and members(full) == P
    assert Individual.objects.get(pk=refills[0].individual_id).parent_id == survivor.pk
    assert claims.claim(full.pk, "w") == claims.WAIT  # at the set-point again


def test_a_poison_child_failed_after_the_budget_is_conceived_is_refilled(full):
    """make chaos's poison row: the other workers conceive the last of the budget while the
    poison child kills its third worker; its place is conceived again, the run ends at P."""
    Experiment.objects.filter(pk=full.pk).update(config={**full.config, "max_individuals": P + 2})
    poison = claims.claim(full.pk, "w")
    last = claims.claim(full.pk, "w")
    assert isinstance(poison, Claim) and isinstance(last, Claim)
    assert commits.commit(last, trained(0.9))
    assert claims.claim(full.pk, "w") == claims.DONE  # the budget is conceived; poison trains
    Individual.objects.filter(pk=poison.individual_id).update(
        attempts=3, lease_expires=timezone.now()
    )
    refill = claims.claim(full.pk, "w")  # fails the poison child, then conceives its place
    assert Individual.objects.get(pk=poison.individual_id).state == State.FAILED
    assert isinstance(refill, Claim) and refill.number == P + 2
    assert commits.commit(refill, trained(0.95))
    assert claims.claim(full.pk, "w") == claims.DONE
    assert Individual.objects.filter(experiment=full, state=State.ALIVE).count() == P


def test_a_failure_is_counted_once_and_only_for_a_member(full):
    """The counter stands for "the population shrank": an individual already dead or failed
    is not failed again, and is not counted again."""
    child = claims.claim(full.pk, "w")
    leases.fail(child, "RuntimeError: boom")  # training raised (workers/tasks.py)
    dead = Individual.objects.filter(experiment=full, state=State.DEAD).first()
    fail(child.individual_id, "again")
    fail(dead.pk, "a dead one")
    exp = Experiment.objects.get(pk=full.pk)
    assert exp.individuals_failed == 1
    assert Individual.objects.get(pk=dead.pk).state == State.DEAD
    assert Individual.objects.get(pk=child.individual_id).failure_reason == "RuntimeError: boom"
