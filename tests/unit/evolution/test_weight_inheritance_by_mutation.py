"""Which tensors each mutation lets a child inherit (PAPER.md §4), compared by value."""

import random

import pytest
import torch

from evolab.evolution.dna import shapes
from evolab.evolution.mutations import apply_mutation
from evolab.evolution.network import build_network, inherit_weights

IN = (3, 8, 8)
BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


@pytest.fixture
def parent(sample_dna):
    """A trained-looking parent: every tensor, BN statistics included, is non-default."""
    torch.manual_seed(0)
    net = build_network(sample_dna, IN, 10)
    with torch.no_grad():
        for key, tensor in net.state_dict().items():
            if key.endswith("num_batches_tracked"):
                tensor.fill_(7)
            else:
                tensor.copy_(torch.rand_like(tensor) + 0.5)
    return sample_dna, net.state_dict()


def _child(dna, name, accept=lambda result: True):
    for seed in range(300):
        result = apply_mutation(dna, name, random.Random(seed), in_shape=IN)
        if accept(result):
            return result
    raise AssertionError(f"no {name} child matched")


def _inherit(result, parent_state):
    torch.manual_seed(1)
    child = build_network(result.dna, IN, 10)
    report = inherit_weights(child, parent_state)
    state = child.state_dict()
    for key in report.inherited:
        assert torch.equal(state[key], parent_state[key]), key
    for key in report.initialised:
        # A reset BN restarts its batch count along with its running statistics.
        key = key.replace("num_batches_tracked", "running_mean")
        assert key not in parent_state or parent_state[key].shape != state[key].shape
    assert sorted(report.inherited + report.initialised) == sorted(state)
    return report


def _bn(vertex):
    return {f"bns.{vertex}.{k}" for k in BN_KEYS}


@pytest.mark.parametrize(
    "name", ["IDENTITY", "ALTER-LEARNING-RATE", "ALTER-STRIDE", "ADD-SKIP", "REMOVE-SKIP"]
)
def test_mutations_that_keep_every_tensor_shape_inherit_everything(name, parent):
    dna, parent_state = parent
    report = _inherit(_child(dna, name), parent_state)
    assert report.initialised == []
    assert sorted(report.inherited) == sorted(parent_state)


def test_reset_weights_makes_the_caller_inherit_nothing(parent):
    dna, parent_state = parent
    result = _child(dna, "RESET-WEIGHTS")
    assert result.reset_weights
    child = build_network(result.dna, IN, 10)
    for key, tensor in child.state_dict().items():
        if key.endswith("num_batches_tracked"):
            assert tensor.item() == 0
        else:
            assert not torch.equal(tensor, parent_state[key]), key


def test_filter_size_resets_only_that_conv(parent):
    dna, parent_state = parent
    result = _child(dna, "FILTER-SIZE", lambda r: _kernel_changed(dna, r))
    (edge_id,) = result.records[0].modified
    assert _inherit(result, parent_state).initialised == [f"convs.{edge_id}.weight"]


def test_filter_size_that_rounds_to_the_same_kernel_resets_nothing(parent):
    dna, parent_state = parent
    result = _child(dna, "FILTER-SIZE", lambda r: not _kernel_changed(dna, r))
    assert _inherit(result, parent_state).initialised == []


def _kernel_changed(dna, result):
    (edge_id,) = result.records[0].modified
    return dna.edge(edge_id).kernel != result.dna.edge(edge_id).kernel


def test_alter_channels_resets_that_conv_and_the_next_conv_only(parent):
    dna, parent_state = parent
    # e5 changes v1's width; the next backbone conv e6 is re-aimed so that v2 and everything
    # after it keep their widths: only the layers whose input shape changed are reset (§4).
    result = _child(
        dna,
        "ALTER-NUMBER-OF-CHANNELS",
        lambda r: r.records[0].modified[0] == "e5" and _channels(r.dna)["v1"] == 4,
    )
    assert result.records[0].modified == ["e5", "e6"]
    assert _channels(result.dna) == {**_channels(dna), "v1": 4}
    expected = {"convs.e5.weight", "convs.e6.weight"} | _bn("v1")
    assert set(_inherit(result, parent_state).initialised) == expected


def test_alter_channels_of_the_last_conv_resets_it_and_the_head_only(parent):
    dna, parent_state = parent
    result = _child(
        dna,
        "ALTER-NUMBER-OF-CHANNELS",
        lambda r: r.records[0].modified == ["e8"] and _channels(r.dna)["v4"] == 5,
    )
    report = _inherit(result, parent_state)
    assert set(report.initialised) == {"convs.e8.weight", "head.weight"}
    assert "head.bias" in report.inherited


def _channels(dna):
    return {v: s[0] for v, s in shapes(dna, IN).items()}


@pytest.mark.parametrize("name", ["INSERT-CONVOLUTION", "INSERT-ONE-TO-ONE"])
def test_insertions_keep_every_old_tensor_and_initialise_only_the_new_ones(name, parent):
    dna, parent_state = parent
    for seed in range(6):
        result = apply_mutation(dna, name, random.Random(seed), in_shape=IN)
        vertex, edge = result.records[0].inserted
        report = _inherit(result, parent_state)
        assert sorted(report.inherited) == sorted(parent_state)
        new = _bn(vertex) if result.dna.vertex(vertex).activation == "bn_relu" else set()
        if name == "INSERT-CONVOLUTION":
            new.add(f"convs.{edge}.weight")
        assert set(report.initialised) == new


def test_removing_a_channel_preserving_conv_keeps_all_remaining_tensors(parent):
    dna, parent_state = parent
    result = _child(dna, "REMOVE-CONVOLUTION", lambda r: r.records[0].removed[0] == "e6")
    report = _inherit(result, parent_state)
    assert report.initialised == []
    assert set(report.inherited) == set(parent_state) - {"convs.e6.weight"} - _bn("v2")


def test_removing_a_widening_conv_resets_only_the_conv_that_now_sees_fewer_channels(parent):
    dna, parent_state = parent
    result = _child(dna, "REMOVE-CONVOLUTION", lambda r: r.records[0].removed[0] == "e5")
    # e6 now reads v0 (3 channels, not 6) and is re-aimed so v2, v3, v4 keep their widths.
    assert _channels(result.dna) == {"v0": 3, "v2": 6, "v3": 6, "v4": 3}
    report = _inherit(result, parent_state)
    assert set(report.initialised) == {"convs.e6.weight"}
