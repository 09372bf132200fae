"""A child's training-loss curve, kept after it trained: at most 100 points, each the mean
of its bucket of steps, from the losses the loop reads anyway (workers/loss_curve.py)."""

from __future__ import annotations

import math

import torch
from torch import nn

from evolab.datasets import load_dataset
from evolab.evolution.dna import DNA
from workers.loss_curve import LossCurve
from workers.trainer import ChildTask, train_one
from workers.training import train_child


def test_a_long_training_is_cut_into_100_buckets_of_mean_loss():
    curve = LossCurve(steps=1000)
    for step in range(1, 1001):
        curve.add(step, float(step))
    points = curve.finish()
    assert len(points) == 100
    assert [s for s, _ in points] == list(range(10, 1001, 10))
    assert points[0] == (10, 5.5) and points[-1] == (1000, 995.5)  # means of 1..10, 991..1000


def test_a_short_training_keeps_every_step_and_skips_non_finite_losses():
    curve = LossCurve(steps=5)
    for step, loss in enumerate([2.0, 1.5, math.nan, math.inf, 1.0], start=1):
        curve.add(step, loss)
    assert curve.finish() == ((1, 2.0), (2, 1.5), (5, 1.0))


def test_sparse_reads_as_on_a_gpu_leave_no_empty_points():
    curve = LossCurve(steps=640)  # buckets of 7 steps, a loss read every 32 (CUDA)
    for step in range(32, 641, 32):
        curve.add(step, 1.0 / step)
    points = curve.finish()
    assert [s for s, _ in points] == list(range(32, 641, 32))


def test_train_child_returns_the_downsampled_curve_of_what_it_trained():
    data = load_dataset("digits", None, seed=0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    stats = train_child(model, data, learning_rate=0.05, steps=250, seed=1)
    steps = [s for s, _ in stats.loss_curve]
    assert len(steps) == math.ceil(250 / 3) <= 100  # buckets of ceil(250 / 100) = 3 steps
    assert steps == sorted(set(steps)) and steps[-1] == 250
    losses = [loss for _, loss in stats.loss_curve]
    assert all(math.isfinite(x) and x > 0 for x in losses)
    assert sum(losses[-10:]) < sum(losses[:10])  # it learnt: the curve goes down


def test_the_one_trainer_hands_the_curve_to_the_trained_child():
    data = load_dataset("digits", None, seed=0).without_test()
    dna = DNA.initial(learning_rate=0.1).to_json()
    child = train_one(ChildTask(dna, steps=40, batch_size=50, seed=3), None, data, data.device)
    assert [s for s, _ in child.loss_curve] == list(range(1, 41))
    assert child.loss_curve[-1][1] == float(f"{child.loss_curve[-1][1]:.5g}")  # 5 digits kept
