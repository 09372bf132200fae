"""Numeric mutations: half to twice around the old value, on one gene (docs/ALGORITHM.md §3)."""

import math
import random

import pytest

from evolab.evolution.dna import DNA, Limits
from evolab.evolution.mutations import InapplicableMutation, apply_mutation

IN = (3, 32, 32)


def _genes(dna):
    return {e.id: (e.channel_factor, e.filter_h, e.filter_w, e.stride_log2) for e in dna.edges}


def _changed(before, after):
    a, b = _genes(before), _genes(after)
    return {(eid, i) for eid in a for i in range(4) if a[eid][i] != b[eid][i]}


def test_alter_learning_rate_multiplies_by_a_log_uniform_factor_in_half_to_twice(sample_dna):
    logs = []
    for seed in range(400):
        child = apply_mutation(sample_dna, "ALTER-LEARNING-RATE", random.Random(seed)).dna
        logs.append(math.log2(child.learning_rate / sample_dna.learning_rate))
        assert _genes(child) == _genes(sample_dna)
    assert -1 <= min(logs) < -0.9 and 0.9 < max(logs) <= 1
    assert abs(sum(logs) / len(logs)) < 0.1  # symmetric on the log scale


def test_alter_number_of_channels_scales_one_conv_factor_by_half_to_twice(sample_dna):
    for seed in range(100):
        result = apply_mutation(sample_dna, "ALTER-NUMBER-OF-CHANNELS", random.Random(seed))
        ((edge_id, gene),) = _changed(sample_dna, result.dna)
        assert gene == 0 and result.records[0].modified == [edge_id]
        ratio = result.dna.edge(edge_id).channel_factor / sample_dna.edge(edge_id).channel_factor
        assert 0.5 <= ratio <= 2.0


def test_filter_size_scales_the_height_or_the_width_of_one_conv(sample_dna):
    genes = set()
    for seed in range(100):
        result = apply_mutation(sample_dna, "FILTER-SIZE", random.Random(seed))
        ((edge_id, gene),) = _changed(sample_dna, result.dna)
        genes.add(gene)
        ratio = _genes(result.dna)[edge_id][gene] / _genes(sample_dna)[edge_id][gene]
        assert 0.5 <= ratio <= 2.0
        assert all(k % 2 == 1 for k in result.dna.edge(edge_id).kernel)
    assert genes == {1, 2}


def test_alter_stride_moves_one_conv_by_one_power_of_two_never_below_one(sample_dna):
    moves = set()
    for seed in range(100):
        result = apply_mutation(sample_dna, "ALTER-STRIDE", random.Random(seed), in_shape=IN)
        ((edge_id, gene),) = _changed(sample_dna, result.dna)
        old, new = sample_dna.edge(edge_id).stride, result.dna.edge(edge_id).stride
        moves.add((edge_id, old, new))
        assert result.dna.edge(edge_id).stride_log2 >= 0
    assert moves == {("e5", 1, 2), ("e6", 2, 1), ("e6", 2, 4), ("e8", 1, 2)}


def test_alter_stride_that_would_change_nothing_cannot_apply():
    dna = apply_mutation(DNA.initial(), "INSERT-CONVOLUTION", random.Random(0)).dna
    with pytest.raises(InapplicableMutation):
        apply_mutation(dna, "ALTER-STRIDE", random.Random(0), in_shape=(3, 1, 1))


@pytest.mark.parametrize("name", ["IDENTITY", "RESET-WEIGHTS"])
def test_identity_and_reset_weights_leave_the_dna_unchanged(name, sample_dna):
    result = apply_mutation(sample_dna, name, random.Random(0))
    assert result.dna == sample_dna and result.dna is not sample_dna
    assert result.reset_weights == (name == "RESET-WEIGHTS")


def test_alter_stride_respects_the_stride_limit(sample_dna):
    limits = Limits(max_stride_log2=1)
    for seed in range(50):
        result = apply_mutation(
            sample_dna, "ALTER-STRIDE", random.Random(seed), in_shape=IN, limits=limits
        )
        assert all(e.stride <= 2 for e in result.dna.conv_edges())
