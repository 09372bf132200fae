"""Analytic FLOPs agree with FlopCounterMode; parameter counts with the module.

FlopCounterMode counts conv and linear (addmm) as 2 x multiply-adds and ignores batch
norm, ReLU, pooling, the skip reshapes and the sums; so does evolab.evolution.flops.
"""

import random

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from evolab.evolution.flops import count_params, forward_flops, individual_flops
from evolab.evolution.mutations import random_dna
from evolab.evolution.network import build_network

# Seeds whose chains have several convs with mixed kernels and strides, and skips.
CASES = [(seed, in_shape) for seed in (6, 12, 18, 21, 25) for in_shape in [(1, 8, 8), (3, 32, 32)]]


@pytest.mark.parametrize("seed, in_shape", CASES)
def test_forward_flops_match_flop_counter_mode_exactly(seed, in_shape):
    dna = random_dna(random.Random(seed), 30, in_shape=in_shape)
    assert dna.conv_edges(), "pick seeds that give convolutions"
    net = build_network(dna, in_shape, 10)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.randn(2, *in_shape))
    assert counter.get_total_flops() == 2 * forward_flops(dna, in_shape, 10)


@pytest.mark.parametrize("seed, in_shape", CASES)
def test_parameter_count_matches_the_module(seed, in_shape):
    dna = random_dna(random.Random(seed), 30, in_shape=in_shape)
    net = build_network(dna, in_shape, 10)
    assert count_params(dna, in_shape, 10) == sum(p.numel() for p in net.parameters())


def test_the_sample_dna_costs_what_the_hand_count_says(sample_dna):
    # e5: 6x3x3x3 on 8x8; e6: 6x6x3x3 on 4x4; e8: 3x6x5x3 on 4x4; head 3 -> 10
    macs = 6 * 3 * 9 * 64 + 6 * 6 * 9 * 16 + 3 * 6 * 15 * 16 + 3 * 10
    assert forward_flops(sample_dna, (3, 8, 8), 10) == 2 * macs
    params = 6 * 3 * 9 + 6 * 6 * 9 + 3 * 6 * 15 + 2 * 6 + 2 * 6 + 3 * 10 + 10
    assert count_params(sample_dna, (3, 8, 8), 10) == params


def test_an_individual_costs_three_forwards_per_training_image_plus_validation(sample_dna):
    forward = forward_flops(sample_dna, (3, 8, 8), 10)
    total = individual_flops(sample_dna, (3, 8, 8), 10, steps=100, batch_size=50, val_size=500)
    assert total == forward * (3 * 100 * 50 + 500)
