"""DNA -> nn.Module: gene-named tensors, initialisation, memory formats."""

import math
import random

import pytest
import torch

from evolab.evolution.dna import DNA, DNAError
from evolab.evolution.mutations import random_dna
from evolab.evolution.network import build_network

BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def test_state_dict_keys_name_the_genes(sample_dna):
    net = build_network(sample_dna, (3, 8, 8), 10)
    expected = {"convs.e5.weight", "convs.e6.weight", "convs.e8.weight", "head.weight"}
    expected |= {f"bns.{v}.{k}" for v in ("v1", "v2") for k in BN_KEYS} | {"head.bias"}
    assert set(net.state_dict()) == expected


def test_convs_have_the_gene_shapes_same_padding_and_no_bias(sample_dna):
    net = build_network(sample_dna, (3, 8, 8), 10)
    conv = net.convs["e8"]
    assert conv.weight.shape == (3, 6, 5, 3)
    assert conv.bias is None and conv.padding == (2, 1) and conv.stride == (1, 1)
    assert net.convs["e6"].stride == (2, 2)
    assert net.head.weight.shape == (10, 3)
    assert all(bn.momentum == 0.1 for bn in net.bns.values())


def test_the_classifier_reads_the_output_vertex(sample_dna):
    net = build_network(sample_dna, (3, 8, 8), 4).eval()
    x = torch.randn(2, 3, 8, 8)
    pooled = net.vertex_outputs(x)["v4"].mean(dim=(2, 3))
    assert torch.allclose(net(x), net.head(pooled))


def _wide_dna(skip: bool) -> DNA:
    edges = [
        {"id": "e2", "src": "v0", "dst": "v1", "kind": "conv", "backbone": True,
         "channel_factor": 1.0, "filter_h": 3.0, "filter_w": 3.0, "stride_log2": 0.0},
    ]  # fmt: skip
    if skip:
        edges.append({"id": "e3", "src": "v0", "dst": "v1", "kind": "identity", "backbone": False})
    vertices = [
        {"id": "v0", "role": "input", "activation": "linear"},
        {"id": "v1", "role": "output", "activation": "linear"},
    ]
    obj = {"schema": 1, "learning_rate": 0.1, "next_id": 4, "vertices": vertices, "edges": edges}
    return DNA.from_json(obj)


@pytest.mark.parametrize("skip, inputs", [(False, 1), (True, 2)])
def test_convs_are_he_normal_scaled_by_one_over_sqrt_of_the_vertex_inputs(skip, inputs):
    torch.manual_seed(0)
    weight = build_network(_wide_dna(skip), (64, 2, 2), 2).convs["e2"].weight
    expected = math.sqrt(2.0 / (64 * 9)) / math.sqrt(inputs)
    assert weight.std().item() == pytest.approx(expected, rel=0.03)
    assert abs(weight.mean().item()) < expected * 0.03


def test_channels_last_inputs_give_the_same_logits():
    dna = random_dna(random.Random(11), 25, in_shape=(3, 16, 16))
    net = build_network(dna, (3, 16, 16), 5).eval()
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        expected = net(x)
        net_cl = net.to(memory_format=torch.channels_last)
        got = net_cl(x.to(memory_format=torch.channels_last))
    assert torch.allclose(got, expected, atol=1e-5)


def test_training_mode_updates_batch_norm_statistics(sample_dna):
    net = build_network(sample_dna, (3, 8, 8), 10).train()
    net(torch.randn(4, 3, 8, 8)).sum().backward()
    assert net.bns["v1"].num_batches_tracked.item() == 1
    assert net.convs["e5"].weight.grad is not None


def test_building_refuses_bad_arguments(sample_json):
    dna = DNA.from_json(sample_json)
    with pytest.raises(ValueError):
        build_network(dna, (3, 8, 8), 0)
    with pytest.raises(DNAError):
        build_network(dna, (3, 0, 8), 10)
    sample_json["edges"][0]["channel_factor"] = 60.0
    with pytest.raises(DNAError, match="channels"):
        build_network(DNA.from_json(sample_json), (64, 8, 8), 10)
