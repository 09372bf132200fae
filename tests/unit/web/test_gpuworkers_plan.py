from workers.launch import worker_commands


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
