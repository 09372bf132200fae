from datetime import timedelta

import pytest
from django.utils import timezone

from evolab.experiments import services
from evolab.experiments.models import Individual


@pytest.fixture
def exp(team, member):
    e = services.create_experiment(team, member, "dash", {"population": 2})
    e.started = timezone.now() - timedelta(seconds=100)
    e.save()
    return e


DNA = {
    "schema": 1,
    "learning_rate": 0.1,
    "next_id": 3,
    "vertices": [{"id": "v0", "role": "input", "activation": "linear"},
                 {"id": "v1", "role": "output", "activation": "linear"}],
    "edges": [{"id": "e2", "src": "v0", "dst": "v1", "kind": "identity", "backbone": True}],
}  # fmt: skip


class Births:
    """Factory: individuals trained one second apart, in birth order."""

    def __init__(self, exp):
        self.exp, self.n = exp, 0

    def __call__(self, acc, parent=None, mutation="", state="alive", trained=True, **kw):
        ind = Individual.objects.create(
            experiment=self.exp,
            number=self.n,
            parent=parent,
            dna=DNA,
            mutation=mutation,
            state=state,
            val_accuracy=acc if trained else None,
            trained=self.exp.started + timedelta(seconds=10 + self.n) if trained else None,
            **kw,
        )
        self.n += 1
        return ind


@pytest.fixture
def birth(exp):
    return Births(exp)
