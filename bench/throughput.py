#!/usr/bin/env python
"""Child training throughput: EvoLab's loop against a plain PyTorch loop, side by side.

Same architecture (built from the same DNA), same data, batch 50, same SGD settings:
- EvoLab: `workers.training.train_child` — the split lives on the device as one uint8
  tensor, batches are index gathers, augmentation runs batched on the device;
- plain: a torchvision Dataset + DataLoader with its usual transforms (RandomCrop(32, 4),
  RandomHorizontalFlip, ToTensor, Normalize for 32x32 sets), `model.to(device)`, fp32.
Three children: the initial linear model, a mid-run child of 10 convs, a paper-sized child
of ~5M parameters; on digits and on a CIFAR-format set (the real CIFAR-10 when it is under
EVOLAB_DATA_DIR, else a synthetic one written in the real pickle format — the table says
which). Prints images/s for both and their ratio.
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evolab.datasets import Dataset, load_dataset  # noqa: E402
from evolab.evolution.dna import DNA  # noqa: E402
from evolab.evolution.flops import forward_flops  # noqa: E402
from evolab.evolution.mutations import apply_mutation  # noqa: E402
from evolab.evolution.network import build_network  # noqa: E402
from workers.training import (  # noqa: E402
    cpu_has_native_bf16,
    param_groups,
    pick_device,
    train_child,
)


def child(convs: int, factor: float) -> DNA:
    """A backbone of `convs` 3x3 convs (bn_relu), the first widening by `factor`."""
    rng, dna = random.Random(0), DNA.initial()
    while len(dna.conv_edges()) < convs:
        dna = apply_mutation(dna, "INSERT-CONVOLUTION", rng).dna
    obj = dna.to_json()
    order = {e.id: i for i, e in enumerate(dna.conv_edges())}
    for vertex in obj["vertices"]:
        if vertex["role"] == "hidden":
            vertex["activation"] = "bn_relu"
    for edge in obj["edges"]:
        if edge["kind"] == "conv":
            edge["stride_log2"] = 1.0 if order[edge["id"]] in (convs // 3, 2 * convs // 3) else 0.0
            edge["channel_factor"] = (
                factor
                if order[edge["id"]] == 0
                else (2.0 if order[edge["id"]] in (convs // 3, 2 * convs // 3) else 1.0)
            )
    return DNA.from_json(obj)


CHILDREN = {
    "initial (linear)": (0, 1.0),
    "mid-run (10 convs)": (10, 8.0),
    "paper-sized (~5M params)": (12, 64.0),
}


def synthetic_cifar(root: Path, n_train: int = 10_000, n_test: int = 2_000) -> None:
    """CIFAR-10 "python version" files with random images (the real format, fake pixels)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)

    def batch(n: int) -> bytes:
        return pickle.dumps(
            {
                b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                b"labels": rng.integers(0, 10, n).tolist(),
            }
        )

    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(batch(n_train // 5))
    (folder / "test_batch").write_bytes(batch(n_test))
    (folder / "batches.meta").write_bytes(
        pickle.dumps({b"label_names": [f"class{i}".encode() for i in range(10)]})
    )


class PlainSet(torch.utils.data.Dataset):
    """What a plain PyTorch user writes: one image at a time through torchvision transforms."""

    def __init__(self, data: Dataset):
        import torchvision.transforms as T
        from PIL import Image

        self.x, self.y, self.image = data.train_x.cpu().numpy(), data.train_y.cpu(), Image
        norm = T.Normalize(data.mean, data.std)
        augment = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if data.augment else []
        self.transform = T.Compose([*augment, T.ToTensor(), norm])

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        x = self.x[i]
        img = self.image.fromarray(x[0] if x.shape[0] == 1 else x.transpose(1, 2, 0))
        return self.transform(img), self.y[i]


def plain_loop(model, data: Dataset, steps: int, device) -> float:
    loader = torch.utils.data.DataLoader(
        PlainSet(data), batch_size=50, shuffle=True, drop_last=True
    )
    model = model.to(device).train()
    opt = torch.optim.SGD(param_groups(model), lr=0.01, momentum=0.9)
    done, started = 0, None
    while done < steps + 2:
        for x, y in loader:
            if done == 2:  # two warm-up steps, as for EvoLab
                started = time.perf_counter()
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
            if done >= steps + 2:
                break
    return steps * 50 / (time.perf_counter() - started)


def evolab_loop(model, data: Dataset, steps: int, device, flops: int) -> float:
    # As a worker trains it: the child's forward FLOPs pick bf16 where that measured faster.
    train_child(model, data, 0.01, 2, device=device, flops_per_image=flops)  # warm-up
    started = time.perf_counter()
    train_child(model, data, 0.01, steps, device=device, flops_per_image=flops)
    return steps * 50 / (time.perf_counter() - started)


def measure(datasets: dict[str, Dataset], steps: dict[str, int], device) -> list[tuple]:
    rows = []
    for set_name, data in datasets.items():
        for child_name, (convs, factor) in CHILDREN.items():
            dna = child(convs, factor)
            n = steps[child_name]
            params = sum(p.numel() for p in build_network(dna, data.in_shape, 10).parameters())
            torch.manual_seed(0)
            flops = forward_flops(dna, data.in_shape, 10)
            ours = evolab_loop(build_network(dna, data.in_shape, 10), data, n, device, flops)
            torch.manual_seed(0)
            plain = plain_loop(build_network(dna, data.in_shape, 10), data, n, device)
            rows.append((set_name, child_name, params, ours, plain))
            print(
                f"  {set_name:<22} {child_name:<26} {params:>10,} {ours:>10.0f} {plain:>10.0f} "
                f"{ours / plain:>6.2f}x",
                flush=True,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    args = parser.parse_args()
    device = pick_device("auto")
    scale = 0.2 if args.quick else 1.0
    steps = {
        name: max(3, int(n * scale))
        for name, n in {
            "initial (linear)": 300 if device.type == "cpu" else 1000,
            "mid-run (10 convs)": 100 if device.type == "cpu" else 500,
            "paper-sized (~5M params)": 10 if device.type == "cpu" else 300,
        }.items()
    }
    data_dir = Path(os.environ.get("EVOLAB_DATA_DIR", ROOT / "var" / "data"))
    with tempfile.TemporaryDirectory() as tmp:
        if (data_dir / "cifar-10-batches-py").is_dir() or (
            data_dir / "cifar-10-python.tar.gz"
        ).is_file():
            cifar, cifar_name = load_dataset("cifar10", data_dir, 1), "cifar10 (real)"
        else:
            synthetic_cifar(Path(tmp))
            cifar, cifar_name = load_dataset("cifar10", tmp, 1), "cifar10 (synthetic)"
        datasets = {
            "digits (8x8x1)": load_dataset("digits", None, 1).to(device),
            cifar_name: cifar.to(device),
        }
        name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu x{os.cpu_count()}"
        bf16 = "native bf16" if cpu_has_native_bf16() else "no native bf16"
        print(f"device: {name} ({bf16}); torch threads {torch.get_num_threads()}; images/s")
        print(
            f"  {'dataset':<22} {'child':<26} {'params':>10} {'EvoLab':>10} {'plain':>10} "
            f"{'ratio':>7}"
        )
        measure(datasets, steps, device)


if __name__ == "__main__":
    main()
