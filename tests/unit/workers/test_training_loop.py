"""train_child / evaluate: SGD on device-resident data, fitness on validation."""

from __future__ import annotations

import math
import random

import torch
from torch import nn

from evolab.datasets import load_dataset
from evolab.environment import TrainingOptions
from workers.training import TrainStats, evaluate, param_groups, pick_device, train_child


def _tiny_conv() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(32, 10),
    )


def _loss(model, data) -> float:
    from workers.training import normalise

    model.eval()
    with torch.no_grad():
        out = model(normalise(data.train_x[:500], data))
    return nn.functional.cross_entropy(out, data.train_y[:500]).item()


def test_training_lowers_the_loss_and_beats_chance_on_digits():
    data = load_dataset("digits", None, seed=0)
    model = _tiny_conv()
    before = _loss(model, data)
    stats = train_child(model, data, learning_rate=0.05, steps=150, seed=1)
    assert isinstance(stats, TrainStats)
    assert stats.steps == 150 and not stats.diverged
    assert _loss(model, data) < before * 0.7
    assert evaluate(model, data.val_x, data.val_y, data) > 0.5  # chance is 0.1


def test_the_same_seed_gives_the_same_model():
    data = load_dataset("digits", None, seed=0)
    a, b = _tiny_conv(), _tiny_conv()
    train_child(a, data, 0.05, 20, seed=7)
    train_child(b, data, 0.05, 20, seed=7)
    assert all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_a_huge_learning_rate_diverges_without_crashing():
    data = load_dataset("digits", None, seed=0)
    stats = train_child(_tiny_conv(), data, learning_rate=1e6, steps=200, seed=0)
    assert stats.diverged
    assert stats.steps < 200
    assert not math.isfinite(stats.final_loss)


def test_weight_decay_applies_to_conv_and_linear_weights_only():
    groups = param_groups(_tiny_conv())
    decayed = {p.ndim for p in groups[0]["params"]}
    assert groups[0]["weight_decay"] == 1e-4 and decayed == {2, 4}
    assert groups[1]["weight_decay"] == 0.0 and {p.ndim for p in groups[1]["params"]} == {1}
    assert len(groups[0]["params"]) == 2 and len(groups[1]["params"]) == 3


def test_progress_is_throttled_and_reports_the_end(monkeypatch):
    import workers.training as training

    clock = iter(range(0, 10_000))
    monkeypatch.setattr(training.time, "monotonic", lambda: next(clock) * 0.01)
    calls = []

    class Recorder:
        def progress(self, step, loss):
            calls.append(step)
            return True

    data = load_dataset("digits", None, seed=0)
    stats = train_child(_tiny_conv(), data, 0.05, 100, seed=0, progress=Recorder())
    # 100 steps at 0.01-0.02 "seconds" each: a report every 0.5 s at most, plus the end.
    assert 1 < len(calls) <= 6
    assert calls[-1] == 100 and not stats.stopped


def test_a_progress_that_answers_stop_ends_training_without_an_exception(monkeypatch):
    import workers.training as training

    clock = iter(range(0, 10_000))
    monkeypatch.setattr(training.time, "monotonic", lambda: next(clock) * 0.01)

    class LeaseLost:
        def progress(self, step, loss):
            return False

    data = load_dataset("digits", None, seed=0)
    stats = train_child(_tiny_conv(), data, 0.05, 100, seed=0, progress=LeaseLost())
    assert stats.stopped and stats.steps < 100


def test_evaluation_leaves_batch_norm_statistics_and_the_mode_alone():
    data = load_dataset("digits", None, seed=0)
    model = _tiny_conv().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    evaluate(model, data.val_x, data.val_y, data, chunk=50)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_pick_device_never_fails_without_a_gpu():
    assert pick_device("auto").type in ("cpu", "cuda")
    assert pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert pick_device("cuda") == torch.device("cpu")


def test_cpu_bf16_is_chosen_only_where_it_measured_faster(monkeypatch):
    from workers import training

    cpu, big = torch.device("cpu"), training.CPU_BF16_MIN_FLOPS
    assert training.use_reduced_precision(torch.device("cuda"))  # always on a GPU
    assert not training.use_reduced_precision(cpu)  # no size known: fp32
    assert not training.use_reduced_precision(cpu, big - 1)  # small child: casts cost more
    assert training.use_reduced_precision(cpu, big) == training.cpu_has_native_bf16()
    monkeypatch.setattr(training, "cpu_has_native_bf16", lambda: False)
    assert not training.use_reduced_precision(cpu, 10**12)  # emulated bf16 is slow
    assert training.use_reduced_precision(cpu, 1, forced=True)  # EVOLAB_CPU_BF16=on
    monkeypatch.setattr(training, "cpu_has_native_bf16", lambda: True)
    assert not training.use_reduced_precision(cpu, 10**12, forced=False)  # =off


def test_a_bf16_child_on_cpu_learns_keeps_fp32_weights_and_is_validated_in_fp32():
    data = load_dataset("digits", None, seed=0)
    model = _tiny_conv()
    before = _loss(model, data)
    on = TrainingOptions(cpu_bf16=True)
    stats = train_child(model, data, learning_rate=0.05, steps=150, seed=1, options=on)
    assert not stats.diverged and _loss(model, data) < before
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert evaluate(model, data.val_x, data.val_y, data) > 0.5


def test_a_bf16_child_s_weights_come_back_in_a_form_safetensors_saves():
    """channels_last convs must not leak into the weights a worker ships (the headless
    runner's pool sends them as safetensors bytes, which refuse strided tensors)."""
    from safetensors.torch import load

    from evolab.evolution.dna import DNA
    from evolab.evolution.mutations import apply_mutation
    from workers.trainer import ChildTask, train_one

    rng, dna = random.Random(0), DNA.initial()
    while len(dna.conv_edges()) < 2:
        dna = apply_mutation(dna, "INSERT-CONVOLUTION", rng).dna
    genes = dna.to_json()
    for edge in genes["edges"]:
        if edge["kind"] == "conv":
            edge["channel_factor"] = 4.0  # several channels in and out: layouts differ
    data = load_dataset("digits", None, seed=0).without_test()
    on = TrainingOptions(cpu_bf16=True)
    child = train_one(ChildTask(genes, 5, 50, 0), None, data, torch.device("cpu"), None, on)
    state = load(child.weights)  # the trainer saved it: no strided tensor was refused
    assert any(t.ndim == 4 and t.shape[1] > 1 for t in state.values())
    assert all(t.is_contiguous() for t in state.values())
