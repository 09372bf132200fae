"""The whole step loop in one process (Celery eager mode, SQLite): the real algorithm on the
real digits data with tiny budgets. The multi-process versions live in tests/integration."""

import json

import pytest

from evolab.experiments import services
from evolab.experiments.models import Event, Experiment, State, Status

CONFIG = {
    "dataset": "digits",
    "population": 4,
    "workers": 1,
    "steps_per_child": 5,
    "max_individuals": 10,
    "seed": 3,
}


def run(team, member, **overrides):
    exp = services.create_experiment(team, member, "loop", {**CONFIG, **overrides}, start=True)
    return Experiment.objects.get(pk=exp.pk)


@pytest.mark.django_db(transaction=True)
def test_a_run_trains_its_budget_and_finishes_with_test_accuracy(eager, team, member):
    exp = run(team, member)
    assert exp.status == Status.FINISHED
    assert exp.individuals_trained == 10 == exp.individuals.count()
    assert exp.individuals.filter(state=State.ALIVE).count() == CONFIG["population"]
    assert exp.test_accuracy is not None and 0 <= exp.test_accuracy <= 1
    assert exp.best.val_accuracy == max(i.val_accuracy for i in exp.individuals.all())


@pytest.mark.django_db(transaction=True)
def test_every_child_has_a_parent_and_a_paper_mutation(eager, team, member):
    from evolab.evolution.mutations import MUTATIONS

    exp = run(team, member)
    initial = exp.individuals.filter(number__lt=CONFIG["population"])
    children = exp.individuals.filter(number__gte=CONFIG["population"])
    assert all(i.parent_id is None and i.mutation == "" for i in initial)
    assert all(c.parent_id is not None and c.mutation in MUTATIONS for c in children)


@pytest.mark.django_db(transaction=True)
def test_events_are_numbered_without_gaps_and_births_match_individuals(eager, team, member):
    exp = run(team, member)
    seqs = list(Event.objects.filter(experiment=exp).values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1)) and seqs[-1] == exp.last_seq
    births = Event.objects.filter(experiment=exp, kind="birth").count()
    deaths = Event.objects.filter(experiment=exp, kind="death").count()
    assert births == 10 and deaths == 10 - CONFIG["population"]


@pytest.mark.django_db(transaction=True)
def test_dead_individuals_weights_are_deleted_but_the_best_are_kept(eager, team, member):
    from django.core.files.storage import default_storage

    exp = run(team, member)
    for ind in exp.individuals.all():
        if ind.state == State.ALIVE or ind.pk == exp.best_id:
            assert ind.weights and default_storage.exists(ind.weights)
    dead_kept = exp.individuals.filter(state=State.DEAD).exclude(weights="").count()
    assert dead_kept <= exp.cfg.ensemble_k
    kept = sum(i.weights_size for i in exp.individuals.exclude(weights=""))
    assert exp.weights_bytes == kept > 0  # the disk gauge matches what is stored
    stored = default_storage.listdir(f"experiments/{exp.pk}")[1]
    assert sorted(stored) == sorted(
        i.weights.rsplit("/", 1)[1] for i in exp.individuals.exclude(weights="")
    )


@pytest.mark.django_db(transaction=True)
def test_aging_and_random_search_runs_also_finish(eager, team, member):
    for selection in ("aging", "random"):
        exp = run(team, member, selection=selection, sample_size=2)
        assert exp.status == Status.FINISHED and exp.individuals_trained == 10


@pytest.mark.django_db(transaction=True)
def test_a_corrupted_dna_row_never_reaches_a_worker_and_the_run_goes_on(eager, team, member):
    from evolab.evolution.step import TrainedChild
    from evolab.experiments import claims, commits
    from evolab.experiments.models import Individual

    exp = services.create_experiment(team, member, "corrupt", {**CONFIG, "workers": 1})
    exp.status = Status.RUNNING
    exp.save()
    for _ in range(CONFIG["population"]):  # train the initial population by hand
        claim = claims.claim(exp.pk, "test")
        commits.commit(claim, TrainedChild(0.5, 1.0, 1, 1, 0.1, b"x"))
    Individual.objects.filter(experiment=exp).update(dna={"schema": 1, "edges": "rm -rf /"})
    outcome = claims.claim(exp.pk, "test")
    assert outcome == claims.WAIT
    failed = Individual.objects.get(experiment=exp, state=State.FAILED)
    assert "invalid DNA" in failed.failure_reason
    assert Individual.objects.filter(experiment=exp, state=State.TRAINING).count() == 0


@pytest.mark.django_db(transaction=True)
def test_every_child_records_what_each_phase_of_its_step_cost(eager, team, member):
    exp = run(team, member)
    for ind in exp.individuals.all():
        t = ind.timings
        assert {"claim", "build", "inherit", "train", "evaluate", "commit", "step"} <= set(t)
        inside = t["claim"] + t["train"] + t["evaluate"] + t["commit"]
        assert 0 < inside <= t["step"]


@pytest.mark.django_db(transaction=True)
def test_an_imported_seed_is_trained_from_its_weights_with_the_initial_population(
    eager, team, member
):
    import random as _random

    from safetensors.torch import save

    from evolab.evolution.dna import DNA
    from evolab.evolution.mutations import apply_mutation
    from evolab.evolution.network import build_network
    from evolab.experiments.imports import import_seed

    dna = apply_mutation(DNA.initial(), "INSERT-CONVOLUTION", _random.Random(2)).dna
    exp = services.create_experiment(team, member, "seeded", CONFIG)
    seed = import_seed(
        exp.pk,
        json.dumps(dna.to_json()).encode(),
        save(build_network(dna, (1, 8, 8), 10).state_dict()),
        member,
    )
    services.control(exp.pk, "start")
    exp.refresh_from_db()
    seed.refresh_from_db()
    assert exp.status == Status.FINISHED and exp.individuals_trained == 10
    assert seed.val_accuracy is not None and seed.attempts == 1 and seed.number == 0
    assert exp.individuals.filter(parent=None).count() == CONFIG["population"]


@pytest.mark.django_db(transaction=True)
def test_every_trained_child_keeps_its_loss_curve_for_the_page_and_the_api(
    eager, team, member, client
):
    from evolab.experiments.models import Individual

    exp = run(team, member, max_individuals=6)
    client.force_login(member)
    for ind in exp.individuals.all():
        steps = [step for step, _ in ind.loss_curve]
        assert steps == [1, 2, 3, 4, 5], ind.loss_curve  # 5 steps per child: every one kept
        api = client.get(f"/api/individuals/{ind.pk}/").json()
        page = client.get(f"/experiments/{exp.pk}/individuals/{ind.number}.json").json()
        assert api["loss_curve"] == page["loss_curve"] == ind.loss_curve
    Individual.objects.filter(pk=exp.best_id).update(loss_curve=[])  # a row from before 0009
    assert client.get(f"/api/individuals/{exp.best_id}/").json()["loss_curve"] == []
