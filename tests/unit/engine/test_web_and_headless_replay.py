"""One engine: the same config and seed, with one worker, give the same individuals through the
web app (Celery task -> database store, here with the Celery app eager, on SQLite) and through
the headless runner (`python -m workers.evolve`: memory store, a spawned worker process).
DNA, mutation, parent and validation accuracy must agree to the last digit."""

from __future__ import annotations

import pytest

from evolab.experiments import services
from evolab.experiments.models import Experiment, Status
from workers.evolve import runner
from workers.evolve.config import RunConfig

WEB = {"dataset": "digits", "population": 4, "workers": 1, "steps_per_child": 10,
       "max_individuals": 10, "seed": 5}  # fmt: skip


def _web_run(team, member, selection: str) -> list[tuple]:
    config = {**WEB, "selection": selection}
    exp = services.create_experiment(team, member, selection, config, start=True)
    exp = Experiment.objects.get(pk=exp.pk)
    assert exp.status == Status.FINISHED
    number = dict(exp.individuals.values_list("pk", "number"))
    return [
        (i.number, number.get(i.parent_id), i.mutation or None, i.dna, i.val_accuracy, i.steps)
        for i in exp.individuals.order_by("number")
    ]


def _headless_run(selection: str) -> list[tuple]:
    config = RunConfig(population=WEB["population"], individuals=WEB["max_individuals"],
                       steps=WEB["steps_per_child"], seed=WEB["seed"], workers=1,
                       selection=selection, device="cpu", quiet=True)  # fmt: skip
    report = runner.run(config)
    return [
        (m["id"], m["parent"], m["mutation"], m["dna"], m["val_accuracy"], m["steps"])
        for m in report["individuals"]
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("selection", ["tournament", "aging"])
def test_one_worker_gives_the_same_individuals_in_the_web_app_and_the_headless_runner(
    eager, team, member, selection
):
    web, headless = _web_run(team, member, selection), _headless_run(selection)
    assert [row[:4] for row in web] == [row[:4] for row in headless]  # DNA, mutation, parent
    assert [row[4] for row in web] == [row[4] for row in headless]  # to the last digit
    assert [row[5] for row in web] == [row[5] for row in headless]  # lineage steps
    assert any(row[1] is not None for row in web)  # it evolved: children of parents
