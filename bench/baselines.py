"""Reference models for `bench/fidelity`, trained on the split an evolution run of the same
dataset and seed uses (evolab.datasets.load_dataset), by the repo's own training loop
(workers.training.train_child: SGD with momentum 0.9, weight decay 1e-4, batch 50, constant
learning rate, the same normalisation), and measured once on the test split.

- softmax regression on pixels: one linear layer, a fixed number of steps;
- a hand-designed 4-conv BN-ReLU CNN, trained for a wall time (evolution's budget) or for a
  number of steps (`--quick`), with as many torch threads as evolution has workers.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn

from evolab.datasets import Dataset, load_dataset
from evolab.environment import training_options
from workers.training import evaluate, train_child

SOFTMAX_STEPS = 3000
SOFTMAX_LR = 0.003  # Fashion-MNIST: 0.8391 test at 0.003, 0.8260 at 0.01 (seed 1)
CNN_LR = 0.05
UNLIMITED_STEPS = 10**9  # a wall-time budget stops training, not a step count


class Deadline:
    """train_child's progress hook: stop once `seconds` have passed (checked ~2x a second)."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def progress(self, step: int, loss: float) -> bool:
        return time.monotonic() < self.end


def softmax_regression(data: Dataset) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(data.in_shape), data.num_classes))


def four_conv_cnn(data: Dataset) -> nn.Module:
    """conv 32 / 64 (stride 2) / 128 (stride 2) / 128, each 3x3 + BN + ReLU, global average
    pooling, one linear layer: a plain design of the kind evolution competes with."""
    widths, strides = (32, 64, 128, 128), (1, 2, 2, 1)
    layers, channels = [], data.in_shape[0]
    for width, stride in zip(widths, strides, strict=True):
        layers += [
            nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        ]
        channels = width
    return nn.Sequential(
        *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, data.num_classes)
    )


def forward_flops(model: nn.Module, in_shape: tuple[int, int, int]) -> int:
    """Multiply-adds x2 of the convolutions and linear layers for one image, so that
    train_child picks bf16 on a CPU exactly when it would for a child this size."""
    total = 0

    def count(module, _inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            per_out = module.in_channels // module.groups * math.prod(module.kernel_size)
            total += 2 * output.numel() * per_out
        elif isinstance(module, nn.Linear):
            total += 2 * module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules()]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *in_shape))
    finally:
        for hook in hooks:
            hook.remove()
        model.train()
    return total


def train(model: nn.Module, data: Dataset, lr: float, steps: int, seed: int, deadline=None):
    started = time.monotonic()
    stats = train_child(
        model, data, lr, steps, seed=seed, progress=deadline,
        flops_per_image=forward_flops(model, data.in_shape), options=training_options(),
    )  # fmt: skip
    return {
        "steps": stats.steps,
        "train_s": round(time.monotonic() - started, 1),
        "val": evaluate(model, data.val_x, data.val_y, data),
        "test": evaluate(model, data.test_x, data.test_y, data),
        "diverged": stats.diverged,
    }


def run(
    dataset: str,
    data_dir: str | None,
    seed: int,
    threads: int,
    cnn_seconds: float | None,
    cnn_steps: int | None = None,
) -> dict[str, dict]:
    """Both baselines on `dataset`'s split for `seed`: {name: {steps, train_s, val, test, …}}."""
    data = load_dataset(dataset, data_dir, seed)
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    softmax = train(softmax_regression(data), data, SOFTMAX_LR, SOFTMAX_STEPS, seed)
    torch.manual_seed(seed)
    if cnn_seconds is not None:
        cnn = train(four_conv_cnn(data), data, CNN_LR, UNLIMITED_STEPS, seed, Deadline(cnn_seconds))
        cnn_budget = f"{cnn_seconds:.0f} s wall: {cnn['steps']} steps"
    else:
        cnn = train(four_conv_cnn(data), data, CNN_LR, cnn_steps or 300, seed)
        cnn_budget = f"{cnn['steps']} steps"
    return {
        "softmax": {**softmax, "threads": threads, "budget": f"{SOFTMAX_STEPS} steps"},
        "4-conv CNN": {**cnn, "threads": threads, "budget": cnn_budget},
    }
