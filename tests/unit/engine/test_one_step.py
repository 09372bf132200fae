"""The paper's step, storage-agnostic (evolab/evolution/step.py), and the memory store the
headless runner keeps its population in (evolab/evolution/memory_store.py)."""

from __future__ import annotations

import pytest
from safetensors.torch import load

from evolab.evolution.config import EvolutionConfig, auto_sample_size
from evolab.evolution.memory_store import DONE, WAIT, MemoryStore, evolve
from evolab.evolution.network import build_network
from evolab.evolution.selection import Candidate
from evolab.evolution.step import (
    PopulationView,
    TrainedChild,
    budget_spent,
    plan_child,
    rank_key,
    step_rng,
)

CONFIG = EvolutionConfig(population=4, max_individuals=12, steps_per_child=5, seed=2)


def _view(accs=(0.1, 0.9, 0.5, 0.3), training=0, created=4, **kw) -> PopulationView:
    return PopulationView([Candidate(i, a, i) for i, a in enumerate(accs)], training, created,
                          created, **kw)  # fmt: skip


def _dna_of(_id):
    from evolab.evolution.dna import DNA

    return DNA.initial()


def test_a_step_depends_only_on_the_view_the_seed_and_the_childs_number():
    a = plan_child(_view(), step_rng(2, 4), CONFIG, _dna_of)
    b = plan_child(_view(), step_rng(2, 4), CONFIG, _dna_of)
    assert (a.kill, a.parent, a.dna.to_json(), a.mutation) == (
        b.kill, b.parent, b.dna.to_json(), b.mutation,
    )  # fmt: skip
    others = {plan_child(_view(), step_rng(2, n), CONFIG, _dna_of).kill for n in range(4, 30)}
    assert len(others) > 1  # and it does depend on the number


def test_the_set_point_counts_children_in_training():
    # P = 4: three alive and one in training is a full population, so a step kills.
    plan = plan_child(_view((0.1, 0.9, 0.5), training=1), step_rng(2, 5), CONFIG, _dna_of)
    assert len(plan.kill) == 1 and plan.parent != plan.kill[0]
    grow = plan_child(_view((0.1, 0.9)), step_rng(2, 5), CONFIG, _dna_of)
    assert grow.kill == ()  # below P: the population refills


def test_the_plateau_escape_boosts_the_next_p_children():
    config = EvolutionConfig(population=4, plateau_individuals=3)
    view = _view(created=10, best_changed_at=5)  # 10 trained, best unchanged since 5
    plan = plan_child(view, step_rng(1, 10), config, _dna_of)
    assert plan.plateau and plan.boosted and len(plan.records) == 5
    assert (plan.boost_remaining, plan.best_changed_at) == (3, 10)


def test_budgets_and_the_tie_rule():
    assert budget_spent(CONFIG, 12, 0, 0, None) == "individuals"
    assert budget_spent(EvolutionConfig(max_seconds=5), 0, 5.0, 0, None) == "time"
    assert budget_spent(EvolutionConfig(target_accuracy=0.9), 0, 0, 0, 0.95) == "target accuracy"
    assert budget_spent(CONFIG, 11, 0, 0, 0.99) is None
    ranked = sorted([(0.5, 1), (0.9, 2), (0.5, 3), (float("nan"), 4)], key=lambda r: rank_key(*r))
    assert ranked[:3] == [(0.9, 2), (0.5, 3), (0.5, 1)]  # the younger first on a tie
    assert auto_sample_size(20) == 5 and auto_sample_size(1000) == 25 and auto_sample_size(4) == 2


@pytest.mark.django_db
def test_the_database_ranks_as_the_engine_does(team, member):
    from evolab.experiments import services
    from evolab.experiments.models import Individual
    from evolab.experiments.retention import RANKING

    exp = services.create_experiment(team, member, "rank", {"population": 4})
    accs = [0.5, 0.9, 0.5, 0.1, 0.9]
    for n, acc in enumerate(accs):
        Individual.objects.create(experiment=exp, number=n, dna={}, val_accuracy=acc)
    orm = list(exp.individuals.order_by(*RANKING).values_list("number", flat=True))
    engine = sorted(range(len(accs)), key=lambda n: rank_key(accs[n], n))
    assert orm == engine == [4, 1, 2, 0, 3]


def _fake_train(claim) -> TrainedChild:
    net = build_network(claim.plan.dna, (1, 8, 8), 10)
    from safetensors.torch import save

    weights = save({k: v.contiguous() for k, v in net.state_dict().items()})
    return TrainedChild([0.3, 0.7, 0.5][claim.number % 3], 1.0, 1, 5, 0.0, weights)


def test_the_memory_store_keeps_only_the_weights_of_the_living_and_the_top_k():
    store = MemoryStore(CONFIG)
    evolve(store, _fake_train)
    assert store.claim() == DONE and len(store.individuals) == 12
    assert len(store.alive) == 4 and not store.training
    top = {m.id for m in store.ranked()[: CONFIG.ensemble_k]}
    assert set(store.weights) == set(store.alive) | top
    assert all(load(w) for w in store.weights.values())
    children = [m for m in store.individuals.values() if m.parent is not None]
    assert children and all(m.steps == store.individuals[m.parent].steps + 5 for m in children)


def test_aging_may_breed_the_oldest_as_it_dies():
    config = EvolutionConfig(population=2, max_individuals=3, selection="aging", sample_size=50)
    store = MemoryStore(config)
    for _ in range(2):
        claim = store.claim()
        store.commit(claim, _fake_train(claim))
    store.individuals[0].val_accuracy = 0.99  # the oldest is the best: it breeds and dies
    claim = store.claim()
    assert claim.plan.parent == 0 and claim.plan.kill == (0,)
    assert claim.parent_weights or claim.plan.reset_weights  # copied before it died
    assert 0 not in store.alive and store.individuals[0].died_s is not None


def test_a_claim_waits_while_too_few_are_alive_to_compare():
    store = MemoryStore(EvolutionConfig(population=2, max_individuals=5))
    first, second = store.claim(), store.claim()
    assert store.claim() == WAIT  # both of the initial population are still training
    store.commit(first, _fake_train(first))
    store.commit(second, _fake_train(second))
    assert store.claim() not in (WAIT, DONE)


def test_weight_decay_applies_to_the_networks_conv_and_head_weights_only():
    import random

    from evolab.evolution.dna import DNA
    from evolab.evolution.mutations import apply_mutation
    from workers.training import param_groups

    dna = apply_mutation(DNA.initial(), "INSERT-CONVOLUTION", random.Random(1)).dna
    net = build_network(dna, (1, 8, 8), 10)
    decay, rest = param_groups(net)
    names = {id(p): n for n, p in net.named_parameters()}
    assert sorted(names[id(p)] for p in decay["params"]) == sorted(
        [f"convs.{e.id}.weight" for e in dna.conv_edges()] + ["head.weight"]
    )
    assert decay["weight_decay"] == 1e-4 and rest["weight_decay"] == 0.0


def test_filling_the_population_keeps_the_runs_plateau_bookkeeping():
    """A better child during the fill moves best_changed_at; the next initial individual's
    claim must not put it back to 0 (the plateau escape would then fire too early)."""
    store = MemoryStore(EvolutionConfig(population=3, max_individuals=6, plateau_individuals=2))
    first = store.claim()
    store.commit(first, _fake_train(first))
    store.commit(second := store.claim(), _fake_train(second))  # 0.7 > 0.3: the best rose
    assert store.best_changed_at == 2
    store.claim()  # the last of the initial population
    assert store.best_changed_at == 2


def test_a_population_too_short_to_select_from_still_refills():
    """The 30-minute soak's loss (bench/CHAOS_SOAK_RESULTS.md): P = 8 with 8 workers leaves
    1 alive and 7 in training; the 7 failed (disk full), and a tournament of 1 never ran,
    so the run waited at 1 alive to its end. Below the set-point a step keeps it instead."""
    lone = plan_child(_view((0.4,), training=0), step_rng(2, 9), CONFIG, _dna_of)
    assert lone.parent == 0 and lone.kill == ()  # the lone survivor breeds, no kill
    assert plan_child(_view((0.4,), training=3), step_rng(2, 9), CONFIG, _dna_of) is None
    empty = plan_child(_view((), training=1), step_rng(2, 9), CONFIG, _dna_of)
    assert empty.parent is None and empty.kill == () and empty.number == 4
    assert empty.dna.to_json() == plan_child(_view((), training=0), step_rng(2, 9), CONFIG,
                                             _dna_of).dna.to_json()  # fmt: skip
    aging = EvolutionConfig(population=4, selection="aging", sample_size=2)
    assert plan_child(_view((), training=4), step_rng(2, 9), aging, _dna_of) is None
    assert plan_child(_view((), training=2), step_rng(2, 9), aging, _dna_of).parent is None


def test_a_failed_child_is_conceived_again_up_to_the_population():
    """§1.5: a child that failed does not count against the individuals budget, so a run
    ends at its set-point; at most P are refilled, so a run whose every child fails ends."""
    assert budget_spent(CONFIG, 12, 0, 0, None, failed=1) is None
    assert budget_spent(CONFIG, 13, 0, 0, None, failed=1) == "individuals"
    assert budget_spent(CONFIG, 16, 0, 0, None, failed=50) == "individuals"  # 12 + P
    store = MemoryStore(CONFIG)
    while (claim := store.claim()) not in (DONE, WAIT):
        if claim.number == 11:
            store.fail(claim, "poison")  # the last of the budget fails
        else:
            store.commit(claim, TrainedChild(val_accuracy=0.5, flops=1.0, params=1, steps=1,
                                             train_seconds=0.1, weights=b"w"))  # fmt: skip
    assert claim == DONE and (store.created, store.failed) == (13, 1)
    assert len(store.alive) == CONFIG.population
