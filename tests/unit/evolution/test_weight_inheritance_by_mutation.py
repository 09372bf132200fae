"""Which tensors each mutation lets a child inherit (docs/ALGORITHM.md §4), compared by value."""

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


def test_alter_channels_scales_every_later_width_and_resets_the_layers_it_reshapes(parent):
    dna, parent_state = parent
    # Channel genes are relative (docs/ALGORITHM.md §2): v1 going from 6 to 4 channels takes v2 and
    # v3 along (x1 of v1) and v4 (x0.5 of v3); every tensor whose shape changed is reset,
    # every other one is inherited (§4).
    result = _child(
        dna,
        "ALTER-NUMBER-OF-CHANNELS",
        lambda r: r.records[0].modified == ["e5"] and _channels(r.dna)["v1"] == 4,
    )
    assert _channels(result.dna) == {"v0": 3, "v1": 4, "v2": 4, "v3": 4, "v4": 2}
    assert "(6 -> 4 channels)" in result.records[0].description
    expected = {"convs.e5.weight", "convs.e6.weight", "convs.e8.weight", "head.weight"}
    report = _inherit(result, parent_state)
    assert set(report.initialised) == expected | _bn("v1") | _bn("v2")
    assert "head.bias" in report.inherited


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


def test_removing_a_widening_conv_narrows_every_later_tensor_and_resets_them(parent):
    dna, parent_state = parent
    result = _child(dna, "REMOVE-CONVOLUTION", lambda r: r.records[0].removed[0] == "e5")
    # e6 (x1) now reads v0's 3 channels, not v1's 6: v2 and v3 narrow to 3, v4 to 2 (x0.5).
    assert _channels(result.dna) == {"v0": 3, "v2": 3, "v3": 3, "v4": 2}
    report = _inherit(result, parent_state)
    reshaped = {"convs.e6.weight", "convs.e8.weight", "head.weight"} | _bn("v2")
    assert set(report.initialised) == reshaped
    assert set(report.inherited) == set(parent_state) - reshaped - {"convs.e5.weight"} - _bn("v1")
