"""`make run`: migrate, make a first admin, then run every process of the embedded set-up.

Processes (supervised by honcho, which stops all of them cleanly on Ctrl-C):
- redis: the embedded Redis-compatible server, unless REDIS_URL points elsewhere;
- worker: one Celery worker (one process per core, one torch thread each);
- web: the ASGI server (HTTP + websockets) on 127.0.0.1:$PORT.
It says "EvoLab is running" once /healthz answers 200 (a worker is ready too).
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request

import django


def prepare_var_dir() -> None:
    """The folders and the local secret key `make run` keeps under var/ (before Django loads:
    importing settings writes nothing, and reads the key if it is there)."""
    from pathlib import Path

    var = Path(os.environ.get("EVOLAB_VAR_DIR") or Path(__file__).resolve().parent.parent / "var")
    for folder in (var, var / "static", var / "media", var / "data"):
        folder.mkdir(parents=True, exist_ok=True)
    key = var / "secret_key"
    if not key.exists() and not os.environ.get("SECRET_KEY"):
        key.write_text(secrets.token_urlsafe(50))
        key.chmod(0o600)


def _bootstrap() -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from evolab.accounts.services import ensure_admin_team

    call_command("migrate", interactive=False, verbosity=0)
    User = get_user_model()
    if not User.objects.filter(is_superuser=True).exists():
        password = settings.EVOLAB_ADMIN_PASSWORD or secrets.token_urlsafe(12)
        user = User.objects.create_superuser("admin", "", password)
        ensure_admin_team(user)
        shown = "(from EVOLAB_ADMIN_PASSWORD)" if settings.EVOLAB_ADMIN_PASSWORD else password
        print(
            f"\n  Created the first admin account: username 'admin', password {shown}\n"
            "  (shown once; change it under /admin/)\n",
            flush=True,
        )
    settings.EVOLAB_DATA_DIR.mkdir(parents=True, exist_ok=True)


# Clients send only tiny control frames ({"after": seq}); anything larger is refused by the
# server before it reaches a consumer (hardening: over-size websocket frames).
WEBSOCKET_MAX_MESSAGE_BYTES = 4096


def daphne_argv(host: str, port: int) -> list[str]:
    """The ASGI server's command line (HTTP + websockets), shared with the tests."""
    return [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        host,
        "-p",
        str(port),
        "--websocket-max-message-size",
        str(WEBSOCKET_MAX_MESSAGE_BYTES),
        "--websocket-max-frame-size",
        str(WEBSOCKET_MAX_MESSAGE_BYTES),
        "evolab.asgi:application",
    ]


def _announce_when_ready(host: str, port: int, timeout: float = 600) -> None:
    """Say "running" only once /healthz answers 200: the web server, the database, Redis and
    at least one Celery worker all answer (a worker takes some seconds more than the web)."""
    url = f"http://{host}:{port}/healthz"
    deadline, waiting_said = time.monotonic() + timeout, False
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3):
                print(f"\n  EvoLab is running at http://{host}:{port}/  (Ctrl-C stops it)\n",
                      flush=True)  # fmt: skip
                return
        except urllib.error.HTTPError:  # 503: the web server is up, a part is not yet
            if not waiting_said:
                print("  the web server is up; waiting for a worker to be ready ...", flush=True)
                waiting_said = True
        except OSError:
            pass
        time.sleep(0.3)
    print(f"  EvoLab was not ready after {timeout:.0f} s: see {url} and the log above", flush=True)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evolab.settings")
    prepare_var_dir()
    django.setup()
    from django.conf import settings
    from honcho.manager import Manager

    from evolab.launcher_watch import launched_env
    from evolab.worker_launch import visible_gpus, worker_commands

    _bootstrap()
    port = settings.EVOLAB_PORT
    python = sys.executable
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **launched_env()}
    manager = Manager()
    if settings.REDIS_IS_EMBEDDED:
        manager.add_process("redis", f"{python} -m evolab.embedded_redis", env=env)
    cpu_processes = settings.EVOLAB_WORKER_CONCURRENCY
    for name, cmd, extra in worker_commands(
        visible_gpus(), 1, cpu_processes, settings.CELERY_TASK_DEFAULT_QUEUE, beat=True
    ):
        manager.add_process(f"worker-{name}", cmd, env={**env, **extra})
    manager.add_process("web", " ".join(daphne_argv("127.0.0.1", port)), env=env)
    threading.Thread(target=_announce_when_ready, args=("127.0.0.1", port), daemon=True).start()
    manager.loop()
    sys.exit(manager.returncode)


if __name__ == "__main__":
    main()
