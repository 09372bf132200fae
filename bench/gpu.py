#!/usr/bin/env python
"""The GPU rows of the performance issue, on a machine with CUDA (`make bench-gpu`).

1. GPU memory per child (the caching allocator's peak while it trains);
2. CUDA graphs: per-step time eager and graphed, the capture's cost and the break-even
   number of steps (what `workers.training.GRAPH_MIN_STEPS` is set from); torch.compile
   for comparison (its compile time is paid once per architecture, i.e. per child);
3. bf16 + channels_last against fp32 on CUDA: the same children, seeds and steps, the
   validation accuracy of each (fitness must agree within noise), graphed and eager too;
4. several worker processes per GPU: the headless runner's real `WorkerPool` training
   mid-run children for N = 1, 2, 4, 8 (16) processes; children per hour and GPU busy time
   sampled through NVML (and the same under MPS when its control daemon is there).

Every figure is measured here, in one run; nothing is a stand-in.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throughput import CHILDREN, child, synthetic_cifar  # noqa: E402

from evolab.datasets import Dataset, load_dataset  # noqa: E402
from evolab.environment import TrainingOptions  # noqa: E402
from evolab.evolution.flops import forward_flops  # noqa: E402
from evolab.evolution.network import build_network  # noqa: E402
from evolab.worker_launch import start_mps, stop_mps  # noqa: E402
from workers.evolve.pool import Task, WorkerPool, WorkerSetup  # noqa: E402
from workers.trainer import ChildTask  # noqa: E402
from workers.training import (  # noqa: E402
    GRAPH_MIN_STEPS,
    evaluate,
    train_child,
)


def timed(fn) -> float:
    torch.cuda.synchronize()
    started = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - started


def graphs(data: Dataset, device, short: int, long: int) -> None:
    print("\n## 2. CUDA graphs: when capturing the step pays (32x32x3, batch 50, bf16)\n")
    print(
        f"{'child':<26} {'eager ms/step':>13} {'graph ms/step':>13} {'speed-up':>8} "
        f"{'capture cost ms':>15} {'break-even steps':>16}"
    )
    for name, (convs, factor) in CHILDREN.items():
        dna = child(convs, factor)

        def run(steps: int, graph: bool, dna=dna) -> float:
            model = build_network(dna, data.in_shape, 10)
            return timed(lambda: train_child(model, data, 0.01, steps, device=device, graph=graph))

        run(short, False), run(short, True)  # cuDNN's choices, allocator, lazy inits
        eager = [run(n, False) for n in (short, long)]
        graph = [run(n, True) for n in (short, long)]
        per_eager = (eager[1] - eager[0]) / (long - short)
        per_graph = (graph[1] - graph[0]) / (long - short)
        # Fixed cost of a child on each path; the graph's extra is the capture.
        capture = (graph[0] - short * per_graph) - (eager[0] - short * per_eager)
        gain = per_eager - per_graph
        even = f"{capture / gain:.0f}" if gain > 0 else "never"
        print(
            f"{name:<26} {per_eager * 1e3:>13.3f} {per_graph * 1e3:>13.3f} "
            f"{per_eager / per_graph:>7.2f}x {capture * 1e3:>15.1f} {even:>16}"
        )
    live = torch.cuda.memory_allocated() / 2**20
    print(f"\nworkers.training.GRAPH_MIN_STEPS = {GRAPH_MIN_STEPS}; {live:.0f} MiB live after")
    _compile(data, device, long)


def _compile(data: Dataset, device, steps: int) -> None:
    """torch.compile of the mid-run child: what it would cost per child."""
    dna = child(*CHILDREN["mid-run (10 convs)"])
    try:
        model = torch.compile(build_network(dna, data.in_shape, 10))
        first = timed(lambda: train_child(model, data, 0.01, 5, device=device, graph=False))
        again = timed(lambda: train_child(model, data, 0.01, steps, device=device, graph=False))
    except Exception as exc:  # report it; the bench goes on
        print(f"torch.compile (mid-run child): failed: {type(exc).__name__}: {exc}"[:300])
        return
    print(
        f"torch.compile (mid-run child, eager steps): first 5 steps {first:.1f} s "
        f"(the compile, paid once per architecture = per child), then "
        f"{again / steps * 1e3:.3f} ms/step"
    )


def precision(data: Dataset, device, steps: int, seeds: int) -> None:
    print(
        f"\n## 3. Fitness: fp32 vs bf16 + channels_last on CUDA "
        f"(digits, {steps} steps, {seeds} seeds, validation accuracy)\n"
    )
    modes = {
        "fp32, eager": dict(reduced=False, graph=False),
        "bf16, eager": dict(reduced=True, graph=False),
        "bf16, CUDA graph (production)": dict(reduced=True, graph=True),
    }
    print(f"{'child':<22} {'mode':<30} {'mean':>7} {'min':>7} {'max':>7} {'final loss':>10}")
    for name in ("initial (linear)", "mid-run (10 convs)"):
        dna = child(*CHILDREN[name])
        for mode, flags in modes.items():
            accs, losses = [], []
            for seed in range(seeds):
                torch.manual_seed(seed)
                model = build_network(dna, data.in_shape, 10)
                stats = train_child(
                    model, data, dna.learning_rate, steps, seed=seed, device=device, **flags
                )
                accs.append(evaluate(model, data.val_x, data.val_y, data, reduced=flags["reduced"]))
                losses.append(stats.final_loss)
            print(
                f"{name:<22} {mode:<30} {statistics.mean(accs):>7.4f} {min(accs):>7.4f} "
                f"{max(accs):>7.4f} {statistics.mean(losses):>10.4f}"
            )


def memory(data: Dataset, device) -> None:
    print("\n## 1. GPU memory per child (allocator peak while training, 32x32x3, batch 50)\n")
    base = torch.cuda.memory_allocated()
    print(f"the data on the GPU: {base / 2**20:.0f} MiB (shared by every child a worker trains)")
    for name, (convs, factor) in CHILDREN.items():
        dna = child(convs, factor)
        model = build_network(dna, data.in_shape, 10)
        torch.cuda.reset_peak_memory_stats()
        train_child(model, data, 0.01, 100, device=device)
        evaluate(model, data.val_x, data.val_y, data)
        peak = torch.cuda.max_memory_allocated() - base
        params = sum(p.numel() for p in model.parameters())
        print(f"{name:<26} {params:>10,} params  {peak / 2**20:>8.1f} MiB")
        del model
    torch.cuda.empty_cache()


class Busy:
    """Samples NVML's GPU utilisation (percent of time a kernel was running)."""

    def __init__(self, every: float = 0.1) -> None:
        import pynvml

        pynvml.nvmlInit()
        self.nvml, self.handle = pynvml, pynvml.nvmlDeviceGetHandleByIndex(0)
        self.every, self.samples, self.stop = every, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            self.samples.append(self.nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu)

    def __enter__(self) -> Busy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def mean(self) -> float:
        return statistics.mean(self.samples) if self.samples else float("nan")


def sharing(
    data_dir: str, counts: list[int], seconds: float, steps: int, label: str, base: float = 0.0
) -> float:
    """Children/hour for each N in `counts`; returns the first (the base of "vs N=1")."""
    dna = child(*CHILDREN["mid-run (10 convs)"]).to_json()
    rates = {}
    for n in counts:
        threads = max(1, (os.cpu_count() or 1) // n)
        setup = WorkerSetup("cifar10", data_dir, 0, threads, TrainingOptions(device="cuda"))
        pool = WorkerPool(setup, n)
        tasks = (
            Task(ticket, ChildTask(dna, steps, 50, ticket), None) for ticket in itertools.count(1)
        )
        try:
            for _ in range(n):
                pool.submit(next(tasks))
            for _ in range(n):  # every worker has loaded its data and trained once
                pool.next_result()
                pool.submit(next(tasks))
            done, started = 0, time.monotonic()
            with Busy() as busy:
                while time.monotonic() - started < seconds:
                    pool.next_result()
                    done += 1
                    pool.submit(next(tasks))
            elapsed = time.monotonic() - started
        finally:
            pool.close()
        rates[n] = done / elapsed * 3600
        base = base or rates[n]
        print(
            f"{label:<8} {n:>3} {threads:>8} {done:>9} {rates[n]:>14,.0f} "
            f"{rates[n] / base:>8.2f}x {busy.mean:>10.0f}%",
            flush=True,
        )
    return base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--sections", default="graphs,precision,memory,sharing,mps")
    parser.add_argument("--workers", default="1,2,4,8", help="processes per GPU to compare")
    parser.add_argument("--seconds", type=float, default=25.0, help="window per N")
    parser.add_argument("--steps", type=int, default=300, help="steps per child when sharing")
    parser.add_argument("--mps-workers", default="2,4,8,16", help="processes per GPU, MPS")
    parser.add_argument(
        "--cudnn-benchmark", action="store_true", help="let cuDNN time its algorithms per shape"
    )
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench/gpu.py needs CUDA; the CPU rows are in `make bench`")
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    sections = set(args.sections.split(","))
    quick = args.quick
    print(
        f"device: {torch.cuda.get_device_name()}; torch {torch.__version__}; "
        f"cudnn.benchmark {args.cudnn_benchmark}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        synthetic_cifar(Path(tmp))
        cifar = load_dataset("cifar10", tmp, 1).to(device)
        if "memory" in sections:
            memory(cifar, device)
        if "graphs" in sections:
            graphs(cifar, device, 20, 120 if quick else 520)
        if "precision" in sections:
            digits = load_dataset("digits", None, 1).to(device)
            precision(digits, device, 100 if quick else 300, 2 if quick else 5)
        if "sharing" in sections:
            del cifar
            torch.cuda.empty_cache()
            counts = [int(n) for n in args.workers.split(",")]
            seconds = 6.0 if quick else args.seconds
            print(
                f"\n## 4. Worker processes per GPU: mid-run children "
                f"({forward_flops(child(*CHILDREN['mid-run (10 convs)']), (3, 32, 32), 10):,}"
                f" FLOPs/image), {args.steps} steps each, WorkerPool, {seconds:.0f} s windows\n"
            )
            print(
                f"{'':<8} {'N':>3} {'threads':>8} {'children':>9} {'children/hour':>14} "
                f"{'vs N=1':>9} {'GPU busy':>11}"
            )
            base = sharing(tmp, counts, seconds, args.steps, "plain")
            mps_state = start_mps() if "mps" in sections else None
            if mps_state is not None:
                try:
                    mps = [int(n) for n in args.mps_workers.split(",")]
                    sharing(tmp, mps, seconds, args.steps, "MPS", base)
                except RuntimeError as exc:
                    print(f"MPS: the workers failed: {exc}"[:400])
                finally:
                    if mps_state == "started":  # a daemon someone else runs is left alone
                        stop_mps()
            elif "mps" in sections:
                print("MPS: no nvidia-cuda-mps-control on this machine, or it did not start")


if __name__ == "__main__":
    main()
