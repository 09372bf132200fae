#!/usr/bin/env python
"""Does a worker's memory grow over many children? (Performance issue, point 6.)

One process does what a worker does for each child — mutate, build a new network, inherit
the parent's weights, train a few steps, validate, serialise to safetensors — 1,000 times,
and prints the resident set size along the way. A leak from building a model per child
shows as RSS growing with the number of children after the first ones.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evolab.datasets import load_dataset  # noqa: E402
from evolab.evolution.checkpoint import dump_checkpoint, load_checkpoint  # noqa: E402
from evolab.evolution.dna import DNA, Limits  # noqa: E402
from evolab.evolution.mutations import mutate  # noqa: E402
from evolab.evolution.network import build_network, inherit_weights  # noqa: E402
from workers.training import evaluate, train_child  # noqa: E402


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset("digits", None, 1).without_test()
    rng, limits = random.Random(0), Limits(max_memory_bytes=256 * 2**20)
    dna, weights = DNA.initial(), None
    marks, first = {}, None
    for i in range(1, args.children + 1):
        child = mutate(dna, rng, in_shape=data.in_shape, limits=limits)
        model = build_network(child.dna, data.in_shape, data.num_classes)
        if weights is not None and not child.reset_weights:
            inherit_weights(model, load_checkpoint(weights)[0])
        train_child(model, data, child.dna.learning_rate, args.steps)
        evaluate(model, data.val_x, data.val_y, data)
        weights = dump_checkpoint(model.state_dict(), child.dna, {})
        dna = child.dna if rng.random() < 0.9 else DNA.initial()  # keep sizes bounded
        if i == 20:
            first = rss_mib()
        if i in (20, 100, 250, 500, 750, args.children):
            marks[i] = rss_mib()
            print(f"after {i:>5} children: RSS {marks[i]:7.1f} MiB", flush=True)
    growth = marks[args.children] - first
    print(
        f"growth from child 20 to {args.children}: {growth:+.1f} MiB "
        f"({growth / (args.children - 20) * 1024:+.1f} KiB per child)"
    )


if __name__ == "__main__":
    main()
