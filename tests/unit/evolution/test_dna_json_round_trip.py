import json

from evolab.evolution.dna import DNA, shapes


def test_the_initial_dna_is_input_identity_output_with_learning_rate_0_1():
    assert DNA.initial().to_json() == {
        "schema": 1,
        "learning_rate": 0.1,
        "next_id": 3,
        "vertices": [
            {"id": "v0", "role": "input", "activation": "linear"},
            {"id": "v1", "role": "output", "activation": "linear"},
        ],
        "edges": [{"id": "e2", "src": "v0", "dst": "v1", "kind": "identity", "backbone": True}],
    }


def test_a_dna_survives_json_text_unchanged(sample_dna, sample_json):
    text = sample_dna.to_json_text()
    assert json.loads(text) == sample_json
    assert DNA.from_json_text(text) == sample_dna
    assert DNA.from_json(json.loads(json.dumps(sample_dna.to_json()))) == sample_dna


def test_float_genes_round_trip_bit_for_bit(sample_json):
    sample_json["learning_rate"] = 0.1 * 2**0.123456789
    sample_json["edges"][0]["channel_factor"] = 1.9999999999999998
    dna = DNA.from_json_text(json.dumps(sample_json))
    assert DNA.from_json_text(dna.to_json_text()).to_json() == sample_json


def test_copy_is_deep(sample_dna):
    clone = sample_dna.copy()
    clone.edges[0].channel_factor = 7.0
    clone.vertices[1].activation = "linear"
    assert sample_dna.edges[0].channel_factor == 2.0
    assert sample_dna.vertices[1].activation == "bn_relu"


def test_shapes_follow_the_backbone_input_only(sample_dna):
    assert shapes(sample_dna, (3, 32, 32)) == {
        "v0": (3, 32, 32),
        "v1": (6, 32, 32),
        "v2": (6, 16, 16),
        "v3": (6, 16, 16),
        "v4": (3, 16, 16),
    }


def test_genes_round_at_build_time_to_odd_filters_and_integer_strides(sample_json):
    conv = sample_json["edges"][0]
    conv.update(filter_h=4.1, filter_w=0.3, stride_log2=1.49, channel_factor=0.26)
    edge = DNA.from_json(sample_json).edge("e5")
    assert edge.kernel == (5, 1)
    assert edge.stride == 2
    assert edge.out_shape((3, 9, 8)) == (1, 5, 4)
