"""Analytic FLOPs and parameter counts (docs/ALGORITHM.md §6).

FLOPs follow torch.utils.flop_counter.FlopCounterMode, which the tests check against:
a conv or linear layer costs 2 x multiply-adds; batch norm, ReLU, the global average
pool, skip reshaping and the sums at vertices are not counted. The head's bias add is
not counted either (FlopCounterMode counts addmm as its matmul only).
"""

from __future__ import annotations

from .dna import DNA, Shape, shapes

# Backward costs about twice the forward, so a training step is ~3 forwards (docs/ALGORITHM.md §6).
TRAIN_STEP_FORWARDS = 3


def forward_flops(dna: DNA, in_shape: Shape, num_classes: int) -> int:
    """FLOPs of one forward pass for one image."""
    sizes = shapes(dna, in_shape)
    total = 0
    for edge in dna.conv_edges():
        c_in = sizes[edge.src][0]
        c_out, h_out, w_out = edge.out_shape(sizes[edge.src])
        kh, kw = edge.kernel
        total += 2 * c_out * h_out * w_out * c_in * kh * kw
    total += 2 * sizes[dna.role_id("output")][0] * num_classes
    return total


def individual_flops(
    dna: DNA, in_shape: Shape, num_classes: int, steps: int, batch_size: int, val_size: int
) -> int:
    """FLOPs to train one child for `steps` and evaluate it once on validation."""
    forward = forward_flops(dna, in_shape, num_classes)
    return forward * (TRAIN_STEP_FORWARDS * steps * batch_size + val_size)


def count_params(dna: DNA, in_shape: Shape, num_classes: int) -> int:
    """Trainable parameters: conv filters, BN scale and shift, the linear head."""
    sizes = shapes(dna, in_shape)
    total = 0
    for edge in dna.conv_edges():
        kh, kw = edge.kernel
        total += sizes[edge.src][0] * edge.out_shape(sizes[edge.src])[0] * kh * kw
    total += sum(2 * sizes[v.id][0] for v in dna.vertices if v.activation == "bn_relu")
    out_channels = sizes[dna.role_id("output")][0]
    return total + out_channels * num_classes + num_classes
