"""On-device augmentation for 32x32 sets: pad 4, random crop, random flip."""

from __future__ import annotations

import torch

from workers.training import augment_batch


def _ramp(b: int = 64) -> torch.Tensor:
    x = torch.arange(32 * 32, dtype=torch.float32).view(1, 1, 32, 32) + 1
    return x.expand(b, 3, 32, 32).contiguous()


def test_it_keeps_the_shape():
    g = torch.Generator().manual_seed(0)
    assert augment_batch(_ramp(), g).shape == (64, 3, 32, 32)


def test_crops_shift_pixels_and_pad_with_zeros():
    g = torch.Generator().manual_seed(0)
    x = _ramp()
    out = augment_batch(x, g)
    moved = [not torch.equal(o, x[0]) for o in out]
    assert sum(moved) > 48  # 1 in 81 crop offsets is the identity, and half unflipped
    assert bool((out == 0).any())  # some crops reach into the zero padding
    # Every output pixel is a pixel of the input or padding: nothing is interpolated.
    assert set(out.unique().tolist()) <= set(x.unique().tolist()) | {0.0}


def test_some_images_are_mirrored():
    g = torch.Generator().manual_seed(1)
    x = _ramp()
    out = augment_batch(x, g)
    # A ramp increases left to right; a mirrored crop decreases along its middle row.
    row = out[:, 0, 16, 8:24]
    decreasing = (row[:, 1:] < row[:, :-1]).all(dim=1)
    increasing = (row[:, 1:] > row[:, :-1]).all(dim=1)
    assert 10 < int(decreasing.sum()) < 54
    assert int(increasing.sum()) + int(decreasing.sum()) == 64


def test_channels_move_together():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(16, 3, 32, 32)
    x[:, 1] = x[:, 0] * 2
    out = augment_batch(x, g)
    assert torch.allclose(out[:, 1], out[:, 0] * 2)


def test_training_on_a_32x32_set_runs_the_augmented_path():
    from torch import nn

    from evolab.datasets import Dataset
    from workers.training import train_child

    def split(n):
        return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8), torch.arange(n) % 3

    (tx, ty), (vx, vy) = split(60), split(20)
    data = Dataset(
        "fake",
        ["a", "b", "c"],
        (3, 32, 32),
        (0.5,) * 3,
        (0.25,) * 3,
        tx,
        ty,
        vx,
        vy,
        vx[:0],
        vy[:0],
        augment=True,
    )
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)
    )
    stats = train_child(model, data, learning_rate=0.01, steps=5, seed=0)
    assert stats.steps == 5 and not stats.diverged
