"""INSERT-CONVOLUTION and INSERT-ONE-TO-ONE: a new vertex on a random backbone edge."""

import random

from evolab.evolution.dna import DNA
from evolab.evolution.mutations import apply_mutation


def test_insert_convolution_adds_a_3x3_conv_and_the_old_edge_keeps_its_id():
    result = apply_mutation(DNA.initial(), "INSERT-CONVOLUTION", random.Random(0))
    dna, record = result.dna, result.records[0]
    new_vertex, new_edge = record.inserted
    assert (new_vertex, new_edge) == ("v3", "e4")
    conv = dna.edge("e4")
    assert (conv.src, conv.dst, conv.kind, conv.backbone) == ("v0", "v3", "conv", True)
    assert conv.kernel == (3, 3) and conv.channel_factor == 1.0
    assert conv.stride in (1, 2)
    assert dna.vertex("v3").role == "hidden"
    assert (dna.edge("e2").src, dna.edge("e2").dst) == ("v3", "v1")
    assert record.modified == ["e2"]
    assert dna.backbone_order() == ["v0", "v3", "v1"]
    assert record.description == (
        f"inserted 3x3 conv e4 (stride {conv.stride}) after v0; "
        f"new vertex v3 ({dna.vertex('v3').activation}); e2 now runs v3 -> v1"
    )


def test_insert_convolution_draws_both_strides_and_both_activations():
    seen = set()
    for seed in range(60):
        dna = apply_mutation(DNA.initial(), "INSERT-CONVOLUTION", random.Random(seed)).dna
        seen.add((dna.edge("e4").stride, dna.vertex("v3").activation))
    assert seen == {(1, "linear"), (2, "linear"), (1, "bn_relu"), (2, "bn_relu")}


def test_insert_one_to_one_adds_an_identity_edge():
    result = apply_mutation(DNA.initial(), "INSERT-ONE-TO-ONE", random.Random(0))
    edge = result.dna.edge("e4")
    assert (edge.src, edge.dst, edge.kind) == ("v0", "v3", "identity")
    assert result.records[0].description.startswith("inserted identity e4 after v0")


def test_insertions_land_on_every_backbone_edge_and_never_on_a_skip(sample_dna):
    places = set()
    for seed in range(200):
        result = apply_mutation(sample_dna, "INSERT-CONVOLUTION", random.Random(seed))
        (moved,) = result.records[0].modified
        places.add(moved)
        new_vertex = result.records[0].inserted[0]
        assert result.dna.edge(moved).src == new_vertex
        assert sample_dna.edge(moved).dst == result.dna.edge(moved).dst
    assert places == {"e5", "e6", "e7", "e8"}
