#!/usr/bin/env python
"""How long a first download export takes (what the page's "preparing…" covers): TorchScript
(torch.jit.trace), the torch.export program and ONNX of bench/throughput.py's children on
3x32x32 input, made by evolab/experiments/exports.py as the web process makes them, with
one torch thread (the web process's default here). Prints wall and CPU seconds and sizes;
CPU seconds are the figure to trust on a shared machine.

    .venv/bin/python bench/exports.py [--children initial mid-run paper-sized]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throughput import CHILDREN, child  # noqa: E402

from evolab.evolution.network import build_network  # noqa: E402
from evolab.experiments import exports  # noqa: E402

IN_SHAPE = (3, 32, 32)
MAKERS = {"torchscript": exports.torchscript, "exported-program": exports.exported_program,
          "onnx": exports.onnx}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--children", nargs="+", default=["mid-run", "paper-sized"],
                        help="prefixes of bench/throughput.py's CHILDREN")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), input {IN_SHAPE}")
    print(f"{'child':28} {'params':>10} {'format':17} {'wall s':>7} {'cpu s':>7} {'MB':>7}")
    for name, (convs, factor) in CHILDREN.items():
        if not any(name.startswith(p) for p in args.children):
            continue
        model = build_network(child(convs, factor), IN_SHAPE, 10).eval()
        params = sum(p.numel() for p in model.parameters())
        for fmt, make in MAKERS.items():
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                size = f"{len(make(model, IN_SHAPE)) / 1e6:7.1f}"
            except exports.NotExportable:
                size = "refused"
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"{name:28} {params:>10,} {fmt:17} {wall:7.2f} {cpu:7.2f} {size:>7}")


if __name__ == "__main__":
    main()
