"""REMOVE-CONVOLUTION: a backbone conv into a hidden vertex goes, with that vertex."""

import random

from evolab.evolution.dna import DNA
from evolab.evolution.mutations import apply_mutation


def _removing(dna, conv_id):
    for seed in range(200):
        result = apply_mutation(dna, "REMOVE-CONVOLUTION", random.Random(seed))
        if result.records[0].removed[0] == conv_id:
            return result
    raise AssertionError(f"{conv_id} was never removed")


def test_removing_a_conv_reconnects_the_backbone_and_drops_skips_of_the_vertex(sample_dna):
    result = _removing(sample_dna, "e6")
    dna, record = result.dna, result.records[0]
    assert record.removed == ["e6", "v2", "e9"]  # e9 ran v0 -> v2
    assert record.modified == ["e7"]
    assert (dna.edge("e7").src, dna.edge("e7").dst) == ("v1", "v3")
    assert dna.backbone_order() == ["v0", "v1", "v3", "v4"]
    assert [e.id for e in dna.skip_edges()] == ["e10"]
    assert "removed conv e6 and vertex v2; e7 now runs v1 -> v3" in record.description


def test_only_convs_into_hidden_vertices_are_removed(sample_dna):
    removed = {
        apply_mutation(sample_dna, "REMOVE-CONVOLUTION", random.Random(s)).records[0].removed[0]
        for s in range(100)
    }
    assert removed == {"e5", "e6"}  # e8 feeds the protected output vertex


def test_a_skip_that_would_duplicate_the_new_backbone_edge_is_dropped():
    dna = DNA.from_json(
        {
            "schema": 1,
            "learning_rate": 0.1,
            "next_id": 6,
            "vertices": [
                {"id": "v0", "role": "input", "activation": "linear"},
                {"id": "v1", "role": "hidden", "activation": "bn_relu"},
                {"id": "v2", "role": "output", "activation": "linear"},
            ],
            "edges": [
                {
                    "id": "e3",
                    "src": "v0",
                    "dst": "v1",
                    "kind": "conv",
                    "backbone": True,
                    "channel_factor": 1.0,
                    "filter_h": 3.0,
                    "filter_w": 3.0,
                    "stride_log2": 0.0,
                },
                {"id": "e4", "src": "v1", "dst": "v2", "kind": "identity", "backbone": True},
                {"id": "e5", "src": "v0", "dst": "v2", "kind": "identity", "backbone": False},
            ],
        }  # fmt: skip
    )
    result = apply_mutation(dna, "REMOVE-CONVOLUTION", random.Random(0))
    assert result.records[0].removed == ["e3", "v1", "e5"]
    assert result.dna == DNA(
        vertices=[dna.vertex("v0"), dna.vertex("v2")],
        edges=[type(dna.edges[0])("e4", "v0", "v2", "identity", True)],
        learning_rate=0.1,
        next_id=6,
    )
