"""Experiments with stored weights for API and download tests (teams: tests/unit/conftest.py)."""

import pytest
import torch
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from evolab.evolution.checkpoint import dump_checkpoint
from evolab.evolution.dna import DNA
from evolab.evolution.network import build_network
from evolab.experiments import services
from evolab.experiments.models import Individual


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def exp(team, member):
    return services.create_experiment(team, member, "api", {"population": 2, "max_individuals": 4})


def store_individual(
    exp, number: int = 0, accuracy: float = 0.5, parent=None, dna: DNA | None = None
) -> Individual:
    """An alive individual with real (untrained) weights in storage, as a worker leaves it."""
    dna = dna or DNA.initial()
    torch.manual_seed(number)
    net = build_network(dna, (1, 8, 8), 10)
    meta = {
        "dataset": "digits",
        "classes": [str(i) for i in range(10)],
        "mean": [0.3],
        "std": [0.4],
        "in_shape": [1, 8, 8],
    }
    raw = dump_checkpoint(net.state_dict(), dna, meta)
    name = default_storage.save(f"experiments/{exp.pk}/{number}-abcd.safetensors", ContentFile(raw))
    return Individual.objects.create(
        experiment=exp,
        number=number,
        parent=parent,
        dna=dna.to_json(),
        state="alive",
        val_accuracy=accuracy,
        weights=name,
        weights_size=len(raw),
        mutation="ALTER-LR" if parent else "",
    )
