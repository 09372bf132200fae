"""A launcher killed with SIGKILL leaves no process behind (evolab/launcher_watch.py): not
its Celery workers and their pool processes (which would go on consuming tasks and holding a
GPU), and for `make run` not its web server or embedded Redis either."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import pytest

from evolab import launcher_watch

from .harness import ROOT, free_port, listening, wait_for

pytestmark = pytest.mark.integration

TAG = "EVOLAB_TEST_LAUNCHER_TAG"


def tagged(tag: str) -> list[int]:
    """Live processes whose environment carries the tag (what the launcher started)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if f"{TAG}={tag}".encode() not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue  # a zombie has already exited
        except OSError:
            continue
        found.append(int(entry))
    return found


def described(pids: list[int]) -> list[str]:
    def cmdline(pid: int) -> str:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read().replace(b"\0", b" ").decode(errors="replace")[:120]
        except OSError:
            return "?"

    return [f"{pid}: {cmdline(pid)}" for pid in pids]


def launch(argv: list[str], env: dict, ready: tuple[str, ...]) -> tuple[subprocess.Popen, list]:
    """Start a launcher and wait until its output has shown every `ready` line."""
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    wait_for(lambda: all(any(r in line for line in lines) for r in ready), 120,
             f"the launcher to print {ready}")  # fmt: skip
    return proc, lines


def env_for(tmp_path, tag: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    return {**env, TAG: tag, "EVOLAB_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **extra}  # fmt: skip


LAUNCHERS = {
    "gpuworkers": (
        [sys.executable, "manage.py", "gpuworkers", "--cpu-processes", "2", "--queue", "q-{tag}"],
        {"REDIS_URL": "redis://127.0.0.1:6379/9"},
        ("ready.",),
        4,  # the launcher, the Celery worker and its two pool processes
    ),
    "make run": (
        [sys.executable, "-m", "evolab.launch"],
        {"EVOLAB_WORKER_CONCURRENCY": "1", "EVOLAB_QUEUE": "q-{tag}"},
        ("ready.", "EvoLab is running"),
        5,  # the launcher, Redis, the web server, the worker and its pool process
    ),
}


@pytest.mark.parametrize("name", sorted(LAUNCHERS))
def test_a_launcher_killed_outright_leaves_no_process(tmp_path, name):
    argv, extra, ready, at_least = LAUNCHERS[name]
    tag = uuid.uuid4().hex[:8]
    extra = {k: v.format(tag=tag) for k, v in extra.items()}
    extra.setdefault("PORT", str(free_port()))
    extra.setdefault("EVOLAB_EMBEDDED_REDIS_PORT", str(free_port()))
    argv = [a.format(tag=tag) for a in argv]
    proc, lines = launch(argv, env_for(tmp_path, tag, **extra), ready)
    try:
        if name == "make run":  # "running" is said once a worker is ready, not before
            url = f"http://127.0.0.1:{extra['PORT']}/healthz"
            with urllib.request.urlopen(url, timeout=5) as answer:
                assert json.load(answer)["status"] == "ok"
        assert len(tagged(tag)) >= at_least, (tagged(tag), "".join(lines[-30:]))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        started = time.monotonic()
        try:
            # A process that has not stopped GRACE_SECONDS after its launcher died is killed.
            limit = launcher_watch.GRACE_SECONDS + 20
            wait_for(lambda: not tagged(tag), limit, "every process the launcher started to exit")
        except AssertionError:
            raise AssertionError(f"left running: {described(tagged(tag))}") from None
        # Redis overwrites its environment (its process title): its port tells instead.
        for port in (int(extra["PORT"]), int(extra["EVOLAB_EMBEDDED_REDIS_PORT"])):
            wait_for(lambda p=port: not listening(p), 10, f"port {port} to close")
        print(f"{name}: all gone {time.monotonic() - started:.1f} s after the SIGKILL")
    finally:
        for pid in tagged(tag):
            os.kill(pid, signal.SIGKILL)
