"""The CUDA paths of the training loop, on a real GPU (skipped where there is none: CI and
the development machine have no GPU; run on a GPU machine with
`python -m pytest --noconftest -p no:django tests/gpu`). Their CPU-side plumbing is tested
in tests/unit/workers/test_step_graph.py; bench/gpu.py measures the same paths."""

from __future__ import annotations

import pytest
import torch

from evolab.datasets import load_dataset
from evolab.evolution.dna import DNA
from evolab.evolution.mutations import apply_mutation
from evolab.evolution.network import build_network
from workers.trainer import ChildTask, train_one
from workers.training import GRAPH_WARMUP_STEPS, evaluate, pick_device, train_child

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _convs(n: int, channel_factor: float = 1.0) -> DNA:
    """n convs; channel_factor 4 makes them wide enough to learn digits (at 1 they keep
    one channel and stay near 30% on CPU and GPU alike)."""
    import random

    rng, dna = random.Random(0), DNA.initial()
    while len(dna.conv_edges()) < n:
        dna = apply_mutation(dna, "INSERT-CONVOLUTION", rng).dna
    genes = dna.to_json()
    for edge in genes["edges"]:
        if edge["kind"] == "conv":
            edge["channel_factor"] = channel_factor
    return DNA.from_json(genes)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", None, seed=0).to("cuda")


def _trained(dna, data, steps, **flags):
    torch.manual_seed(0)
    model = build_network(dna, data.in_shape, data.num_classes)
    stats = train_child(model, data, 0.05, steps, seed=1, **flags)
    return model, stats


def test_auto_picks_the_gpu_and_trains_there(digits):
    assert pick_device("auto").type == "cuda"
    from safetensors.torch import load

    task = ChildTask(_convs(3, 4.0).to_json(), 200, 50, 0)
    child = train_one(task, None, digits.without_test(), torch.device("cuda"))
    assert not child.diverged and child.val_accuracy > 0.5
    assert all(t.device.type == "cpu" for t in load(child.weights).values())  # weights go home


def test_a_captured_step_trains_as_the_eager_one_does(digits):
    """fp32 so that only the graph differs: the same batches, the same updates, within
    float reassociation (cuDNN may pick other kernels during capture)."""
    dna = _convs(4)
    eager, a = _trained(dna, digits, 120, reduced=False, graph=False)
    graphed, b = _trained(dna, digits, 120, reduced=False, graph=True)
    assert a.steps == b.steps == 120
    assert b.final_loss == pytest.approx(a.final_loss, rel=1e-2, abs=1e-3)
    for (name, x), (_, y) in zip(
        eager.state_dict().items(), graphed.state_dict().items(), strict=True
    ):
        assert torch.allclose(x.float(), y.float(), rtol=1e-3, atol=1e-4), name
    counters = [v for k, v in graphed.state_dict().items() if k.endswith("num_batches_tracked")]
    assert all(int(c) == 120 for c in counters)  # every replay ran the BN updates


def test_bf16_with_a_graph_learns_and_keeps_fp32_weights(digits):
    model, stats = _trained(_convs(4, 4.0), digits, 300, reduced=True, graph=True)
    assert not stats.diverged
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert evaluate(model, digits.val_x, digits.val_y, digits) > 0.8


def test_a_diverging_graphed_child_stops_and_says_so(digits):
    torch.manual_seed(0)
    model = build_network(_convs(2), digits.in_shape, digits.num_classes)
    stats = train_child(model, digits, 1e6, 500, seed=0, graph=True)
    assert stats.diverged and stats.steps < 500


def test_graphs_give_their_memory_back(digits):
    """A worker trains thousands of children: each child's graph pool must be freed, and
    no per-child stream may leave a cuBLAS workspace behind."""
    dna = _convs(3)
    _trained(dna, digits, GRAPH_WARMUP_STEPS + 50, graph=True)
    torch.cuda.synchronize()
    after_one = torch.cuda.memory_allocated()
    for _ in range(5):
        _trained(dna, digits, GRAPH_WARMUP_STEPS + 50, graph=True)
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() <= after_one + (1 << 20)


class _Synchronising(torch.nn.Module):
    """A forward that reads a value back to the CPU: it cannot be captured."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        if x.sum().item() == float("inf"):  # a sync: illegal while a stream captures
            x = x * 0
        return self.inner(x)


def test_a_step_that_cannot_be_captured_trains_eagerly_and_the_next_child_captures(digits):
    torch.manual_seed(0)
    model = _Synchronising(build_network(_convs(3, 4.0), digits.in_shape, digits.num_classes))
    stats = train_child(model, digits, 0.05, 200, seed=0, graph=True)
    assert stats.steps == 200 and not stats.diverged
    assert evaluate(model, digits.val_x, digits.val_y, digits) > 0.8
    _, after = _trained(_convs(3, 4.0), digits, 200, graph=True)  # the GPU is still fine
    assert after.steps == 200 and not after.diverged
