"""Shared genomes for the engine tests."""

import pytest

from evolab.evolution.dna import DNA

# v0 (input) -e5 conv x2-> v1 (bn_relu) -e6 conv stride 2-> v2 (bn_relu) -e7 identity->
# v3 (linear) -e8 conv x0.5, 5x3-> v4 (output); skips e9: v0 -> v2 and e10: v1 -> v4.
SAMPLE_JSON = {
    "schema": 1,
    "learning_rate": 0.05,
    "next_id": 11,
    "vertices": [
        {"id": "v0", "role": "input", "activation": "linear"},
        {"id": "v1", "role": "hidden", "activation": "bn_relu"},
        {"id": "v2", "role": "hidden", "activation": "bn_relu"},
        {"id": "v3", "role": "hidden", "activation": "linear"},
        {"id": "v4", "role": "output", "activation": "linear"},
    ],
    "edges": [
        {"id": "e5", "src": "v0", "dst": "v1", "kind": "conv", "backbone": True,
         "channel_factor": 2.0, "filter_h": 3.0, "filter_w": 3.0, "stride_log2": 0.0},
        {"id": "e6", "src": "v1", "dst": "v2", "kind": "conv", "backbone": True,
         "channel_factor": 1.0, "filter_h": 3.0, "filter_w": 3.0, "stride_log2": 1.0},
        {"id": "e7", "src": "v2", "dst": "v3", "kind": "identity", "backbone": True},
        {"id": "e8", "src": "v3", "dst": "v4", "kind": "conv", "backbone": True,
         "channel_factor": 0.5, "filter_h": 5.0, "filter_w": 3.0, "stride_log2": 0.0},
        {"id": "e9", "src": "v0", "dst": "v2", "kind": "identity", "backbone": False},
        {"id": "e10", "src": "v1", "dst": "v4", "kind": "identity", "backbone": False},
    ],
}  # fmt: skip


@pytest.fixture
def sample_json() -> dict:
    import copy

    return copy.deepcopy(SAMPLE_JSON)


@pytest.fixture
def sample_dna() -> DNA:
    return DNA.from_json(SAMPLE_JSON)
