"""Property: any chain of mutations from the initial DNA gives a usable genome."""

import random

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from evolab.evolution.dna import DNA
from evolab.evolution.mutations import mutate
from evolab.evolution.network import build_network


def _ids(dna: DNA) -> set[str]:
    return {v.id for v in dna.vertices} | {e.id for e in dna.edges}


@settings(max_examples=16, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    length=st.integers(1, 40),
    in_shape=st.sampled_from([(1, 8, 8), (3, 32, 32)]),
    count=st.sampled_from([1, 1, 1, 5]),
)
def test_long_mutation_chains_always_give_valid_buildable_dna(seed, length, in_shape, count):
    rng = random.Random(seed)
    dna = DNA.initial()
    ever_used = _ids(dna)
    for _ in range(length):
        child = mutate(dna, rng, count=count, in_shape=in_shape).dna
        new_ids = _ids(child) - _ids(dna)
        assert not new_ids & ever_used, "an id was reused"
        assert all(int(i[1:]) < child.next_id for i in _ids(child))
        ever_used |= new_ids
        dna = child

    dna.validate(in_shape=in_shape)
    assert DNA.from_json_text(dna.to_json_text()) == dna
    assert DNA.from_json(dna.to_json()).to_json() == dna.to_json()

    net = build_network(dna, in_shape, num_classes=7)
    x = torch.randn(3, *in_shape)
    for train in (True, False):
        net.train(train)
        with torch.no_grad():
            logits = net(x)
        assert logits.shape == (3, 7)
        assert torch.isfinite(logits).all()
