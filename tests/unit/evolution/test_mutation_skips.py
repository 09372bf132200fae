"""ADD-SKIP and REMOVE-SKIP: identity edges forward along the backbone, no duplicates."""

import random

import pytest

from evolab.evolution.dna import DNA
from evolab.evolution.mutations import InapplicableMutation, apply_mutation


def test_add_skip_connects_two_backbone_vertices_forward_without_duplicates(sample_dna):
    position = {v: i for i, v in enumerate(sample_dna.backbone_order())}
    existing = {(e.src, e.dst) for e in sample_dna.edges if e.kind == "identity"}
    pairs = set()
    for seed in range(300):
        result = apply_mutation(sample_dna, "ADD-SKIP", random.Random(seed))
        (new_id,) = result.records[0].inserted
        edge = result.dna.edge(new_id)
        assert (edge.kind, edge.backbone) == ("identity", False)
        assert position[edge.src] < position[edge.dst]
        assert new_id == "e11" and result.dna.next_id == 12
        pairs.add((edge.src, edge.dst))
    all_forward = {(a, b) for a in position for b in position if position[a] < position[b]}
    assert pairs == all_forward - existing  # e.g. v0 -> v1 is allowed next to conv e5


def test_add_skip_cannot_apply_when_every_forward_pair_is_taken():
    with pytest.raises(InapplicableMutation):
        apply_mutation(DNA.initial(), "ADD-SKIP", random.Random(0))


def test_remove_skip_removes_one_skip_and_nothing_else(sample_dna):
    removed = set()
    for seed in range(50):
        result = apply_mutation(sample_dna, "REMOVE-SKIP", random.Random(seed))
        (gone,) = result.records[0].removed
        removed.add(gone)
        assert [e.id for e in result.dna.edges] == [e.id for e in sample_dna.edges if e.id != gone]
        assert result.dna.vertices == sample_dna.vertices
    assert removed == {"e9", "e10"}
