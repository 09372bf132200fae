import os

from evolab.worker_launch import worker_commands


def test_one_pinned_process_per_gpu_and_several_when_asked():
    procs = worker_commands(["0", "1"], per_gpu=2, cpu_processes=8, queue="gpu", beat=False)
    assert [name for name, _, _ in procs] == ["gpu0-0", "gpu0-1", "gpu1-0", "gpu1-1"]
    assert [env["CUDA_VISIBLE_DEVICES"] for _, _, env in procs] == ["0", "0", "1", "1"]
    assert all("-Q gpu" in cmd and " -c 1 " in cmd for _, cmd, _ in procs)


def test_without_a_gpu_one_process_per_core_with_one_thread_each():
    [(name, cmd, env)] = worker_commands([], per_gpu=1, cpu_processes=4, queue="cpu", beat=True)
    assert name == "cpu" and " -c 4 " in cmd and cmd.endswith("--beat")
    assert env == {"CUDA_VISIBLE_DEVICES": "", "EVOLAB_DEVICE": "cpu", "EVOLAB_TORCH_THREADS": "1"}


def test_the_reconciler_runs_in_exactly_one_process():
    procs = worker_commands(["0", "1", "2"], per_gpu=1, cpu_processes=1, queue="gpu", beat=True)
    assert sum(cmd.endswith("--beat") for _, cmd, _ in procs) == 1


def _plan(monkeypatch, tmp_path, *args, mps: bool) -> str:
    """`gpuworkers --dry-run` on a machine that shows two GPUs (CUDA_VISIBLE_DEVICES) and,
    when `mps`, the driver's MPS control program (a stand-in: this machine has no GPU)."""
    from io import StringIO

    from django.core.management import call_command

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.delenv("EVOLAB_WORKERS_PER_GPU", raising=False)
    monkeypatch.delenv("EVOLAB_MPS", raising=False)
    bin_dir = tmp_path / ("with-mps" if mps else "without-mps")
    bin_dir.mkdir(parents=True, exist_ok=True)
    if mps:
        control = bin_dir / "nvidia-cuda-mps-control"
        control.write_text("#!/bin/sh\nexit 0\n")
        control.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))  # nothing else: a real daemon is never found
    out = StringIO()
    call_command("gpuworkers", "--dry-run", *args, stdout=out)
    return out.getvalue()


def test_eight_processes_per_gpu_under_mps_and_one_without_as_measured(monkeypatch, tmp_path):
    from evolab.worker_launch import PER_GPU_WITH_MPS, PER_GPU_WITHOUT_MPS

    with_mps = _plan(monkeypatch, tmp_path, mps=True)
    assert f"2 GPU(s), {PER_GPU_WITH_MPS} worker process(es) each, MPS on" in with_mps
    assert with_mps.count("CUDA_VISIBLE_DEVICES=1 ") == PER_GPU_WITH_MPS
    assert f"EVOLAB_TORCH_THREADS={max(1, (os.cpu_count() or 1) // 16)} " in with_mps
    without = _plan(monkeypatch, tmp_path, mps=False)
    assert f"{PER_GPU_WITHOUT_MPS} worker process(es) each, MPS off" in without
    assert _plan(monkeypatch, tmp_path, "--mps", "off", mps=True).count("\ngpu0-") == 1
    assert "3 worker process(es) each, MPS on" in _plan(
        monkeypatch, tmp_path, "--per-gpu", "3", mps=True
    )


def test_bad_plans_are_refused_with_a_clear_message(monkeypatch, tmp_path):
    import pytest
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--per-gpu must be"):
        _plan(monkeypatch, tmp_path, "--per-gpu", "0", mps=True)
    with pytest.raises(CommandError, match="--per-gpu must be"):
        _plan(monkeypatch, tmp_path, "--per-gpu", "many", mps=True)
    with pytest.raises(CommandError, match="nvidia-cuda-mps-control is not on the PATH"):
        _plan(monkeypatch, tmp_path, "--mps", "on", mps=False)
