"""Downloaded weights load into the network built from the downloaded DNA."""

import io

import pytest
import torch
from safetensors.torch import load

from evolab.evolution.dna import DNA
from evolab.evolution.network import build_network

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def best(stack):
    s = stack.session("mia")
    exp = stack.create(
        s,
        {
            "dataset": "digits",
            "population": 3,
            "workers": 1,
            "steps_per_child": 10,
            "max_individuals": 5,
        },
        name="dl",
    )
    body = stack.wait_status(s, exp["id"], ("finished",), timeout=120)
    return stack, s, body["best"]["id"]


def test_the_best_weights_load_into_the_architecture_of_its_dna(best):
    stack, s, best_id = best
    dna = s.get(f"{stack.url}/api/individuals/{best_id}/download/?format=dna", timeout=10)
    weights = s.get(
        f"{stack.url}/api/individuals/{best_id}/download/?format=safetensors", timeout=10
    )
    assert dna.status_code == weights.status_code == 200
    assert "attachment" in weights.headers["Content-Disposition"]
    model = build_network(DNA.from_json(dna.json()), (1, 8, 8), 10)
    model.load_state_dict(load(weights.content), strict=True)
    logits = model.eval()(torch.zeros(2, 1, 8, 8))
    assert logits.shape == (2, 10)
    assert io.BytesIO(weights.content).getbuffer().nbytes == int(weights.headers["Content-Length"])


def test_another_team_gets_404_for_downloads_and_individuals(best):
    stack, _, best_id = best
    oscar = stack.session("oscar")
    for path in (
        f"/api/individuals/{best_id}/",
        f"/api/individuals/{best_id}/download/?format=dna",
        f"/api/individuals/{best_id}/download/?format=safetensors",
    ):
        assert oscar.get(f"{stack.url}{path}", timeout=10).status_code == 404


def test_an_unknown_format_is_a_clear_400(best):
    stack, s, best_id = best
    r = s.get(f"{stack.url}/api/individuals/{best_id}/download/?format=pickle", timeout=10)
    assert r.status_code == 400 and "format" in r.json()
