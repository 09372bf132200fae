"""The CUDA-graph step (issue #8, point 3): when it is chosen, and that its plumbing trains
exactly as the eager step does. The graph itself needs a GPU (tests/gpu, bench/gpu.py);
here a capture that re-runs the step stands in for it, so everything around it (warm-up
steps that count, the static batch refilled for every replay, one capture per child) runs."""

from __future__ import annotations

import torch
from torch import nn

from evolab.datasets import load_dataset
from workers import training


def _tiny_conv() -> nn.Module:
    """Two convs with BN: momentum buffers, running statistics and counters to compare."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1, bias=False),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Conv2d(6, 8, 3, stride=2, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )


CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_the_step_is_captured_only_on_cuda_and_only_when_enough_steps_pay_for_it():
    least = training.GRAPH_MIN_STEPS
    assert not training.use_step_graph(CPU, 25_600)
    assert not training.use_step_graph(CUDA, least - 1)  # short children stay eager
    assert training.use_step_graph(CUDA, least)
    assert training.use_step_graph(CUDA, 25_600)  # the paper's children
    # EVOLAB_CUDA_GRAPHS=off / on, as TrainingOptions.cuda_graphs carries it
    assert not training.use_step_graph(CUDA, 25_600, forced=False)
    assert training.use_step_graph(CUDA, training.GRAPH_WARMUP_STEPS + 1, forced=True)
    # Nothing is left to replay when the warm-up steps are all the steps there are.
    assert not training.use_step_graph(CUDA, training.GRAPH_WARMUP_STEPS, forced=True)
    assert not training.use_step_graph(CPU, 25_600, forced=True)


def _rerunning_capture(monkeypatch) -> list:
    captures = []

    def capture(step, device):
        captures.append((step, device))
        return step  # "replay" = run the captured step again, on the static tensors

    monkeypatch.setattr(training, "_cuda_graph", capture)
    return captures


def test_the_graphed_plumbing_trains_bit_for_bit_as_the_eager_step(monkeypatch):
    captures = _rerunning_capture(monkeypatch)
    data = load_dataset("digits", None, seed=0)
    eager, graphed = _tiny_conv(), _tiny_conv()
    a = training.train_child(eager, data, 0.05, 40, seed=3, graph=False)
    b = training.train_child(graphed, data, 0.05, 40, seed=3, graph=True)
    assert len(captures) == 1  # one capture per child, after the warm-up
    assert a.steps == b.steps == 40 and a.final_loss == b.final_loss
    for (name, x), (_, y) in zip(
        eager.state_dict().items(), graphed.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name  # BN statistics and step counters included


def test_a_graphed_child_that_diverges_still_stops_and_says_so(monkeypatch):
    _rerunning_capture(monkeypatch)
    data = load_dataset("digits", None, seed=0)
    stats = training.train_child(_tiny_conv(), data, 1e6, steps=200, seed=0, graph=True)
    assert stats.diverged and stats.steps < 200


def test_a_child_no_longer_than_its_warm_up_is_never_captured(monkeypatch):
    captures = _rerunning_capture(monkeypatch)
    data = load_dataset("digits", None, seed=0)
    stats = training.train_child(
        _tiny_conv(), data, 0.05, training.GRAPH_WARMUP_STEPS, seed=0, graph=True
    )
    assert stats.steps == training.GRAPH_WARMUP_STEPS and captures == []


def test_a_step_that_cannot_be_captured_trains_on_eagerly_and_exactly(monkeypatch, caplog):
    """Capture records and runs nothing, so a failed one leaves weights and momentum as
    they were: the child goes on eagerly and ends where an eager child does."""

    def capture(step, device):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(training, "_cuda_graph", capture)
    data = load_dataset("digits", None, seed=0)
    eager, fell_back = _tiny_conv(), _tiny_conv()
    a = training.train_child(eager, data, 0.05, 30, seed=5, graph=False)
    with caplog.at_level("WARNING", logger="workers.training"):
        b = training.train_child(fell_back, data, 0.05, 30, seed=5, graph=True)
    assert "CUDA graph capture failed" in caplog.text
    assert a.steps == b.steps == 30 and a.final_loss == b.final_loss
    for (name, x), (_, y) in zip(
        eager.state_dict().items(), fell_back.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name
