"""Real processes for integration tests: a database, Redis, Celery workers and the ASGI server.

Two stacks, the same code under test:
- "postgres": the machine's PostgreSQL (a fresh database per stack) and Redis on 127.0.0.1:6379
  (keys under a unique prefix);
- "embedded": a SQLite file and the embedded Redis-compatible server, as `make run` uses.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import requests
import websockets

from evolab.launch import daphne_argv

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "pw-integration-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """Something accepts connections on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class Stack:
    def __init__(self, kind: str, tmp: Path):
        self.kind, self.tmp = kind, tmp
        self.tag = uuid.uuid4().hex[:8]
        self.procs: dict[str, subprocess.Popen] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (tmp / "var").mkdir(parents=True, exist_ok=True)  # settings create nothing
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "evolab.settings",
            "PYTHONUNBUFFERED": "1",
            "EVOLAB_VAR_DIR": str(tmp / "var"),
            "EVOLAB_LEASE_SECONDS": "6",
            "EVOLAB_RECONCILE_SECONDS": "2",
            "EVOLAB_TORCH_THREADS": "1",
            "LOG_LEVEL": "WARNING",
        }
        if kind == "postgres":
            self.dbname = f"evolab_it_{self.tag}"
            self.env["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{self.dbname}"
            self.env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
            self.env["EVOLAB_BROKER_PREFIX"] = f"it-{self.tag}:"
            self.env["EVOLAB_CHANNEL_PREFIX"] = f"it-{self.tag}"
        else:
            self.sqlite = tmp / "evolab.sqlite3"
            self.env["DATABASE_URL"] = f"sqlite:///{self.sqlite}"
            self.env.pop("REDIS_URL", None)
            self.env["EVOLAB_EMBEDDED_REDIS_PORT"] = str(free_port())

    # --- life cycle ---------------------------------------------------------------------
    def start(self, workers: int = 1, concurrency: int = 2) -> Stack:
        if self.kind == "postgres":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.dbname}"')
        else:
            self.spawn("redis", [sys.executable, "-m", "evolab.embedded_redis"])
        try:
            self.manage("migrate", "--noinput", "-v", "0")
            self.manage("shell", "-c", SETUP_USERS.format(password=PASSWORD))
            for i in range(workers):
                self.start_worker(f"w{i}", concurrency)
            self.start_web()
            self.wait_healthy(workers)
        except BaseException:
            self.stop()  # never leave processes behind a failed start
            raise
        return self

    def wait_healthy(self, workers: int, timeout: float = 90) -> dict:
        def healthy():
            try:
                r = requests.get(f"{self.url}/healthz", timeout=5)
            except requests.RequestException:
                return None
            return r.json() if r.status_code == 200 and r.json()["workers"] >= workers else None

        try:
            return wait_for(healthy, timeout, f"{workers} worker(s) to answer /healthz", 0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def start_web(self) -> None:
        self.spawn("web", daphne_argv("127.0.0.1", self.port))
        wait_for(self._web_up, 60, "the ASGI server")

    def _web_up(self) -> bool:
        try:
            return requests.get(f"{self.url}/accounts/login/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def start_worker(self, name: str, concurrency: int = 1, beat: bool | None = None):
        """A Celery worker process; "w0" also runs the periodic reconciler (beat)."""
        beat = name == "w0" if beat is None else beat
        argv = [sys.executable, "-m", "celery", "-A", "workers.celery", "worker"]
        argv += ["-Q", "cpu", "-c", str(concurrency), "-n", f"{name}-{self.tag}"]
        argv += ["--loglevel", "WARNING", "--without-gossip", "--without-mingle"]
        return self.spawn(name, argv + (["--beat"] if beat else []))

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:  # a warm shutdown that hangs (e.g. broker gone)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self) -> None:
        # Workers and web first, while the broker is still there for a clean shutdown.
        for name in sorted(self.procs, key=lambda n: n == "redis"):
            self.kill(name, signal.SIGTERM if name != "redis" else signal.SIGKILL)
        if self.kind == "postgres":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')

    def logs(self) -> str:
        def tail(path: Path) -> str:  # without the access log's lines
            lines = [
                line
                for line in path.read_text(errors="replace").splitlines()
                if '] "GET ' not in line and '] "POST ' not in line
            ]
            return "\n".join(lines[-40:])

        return "\n".join(f"--- {p.name}\n{tail(p)}" for p in sorted(self.tmp.glob("*.log")))

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    # --- looking at the truth -----------------------------------------------------------
    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        if self.kind == "postgres":
            with psycopg.connect(self.env["DATABASE_URL"]) as conn:
                return conn.execute(query.replace("?", "%s"), params).fetchall()
        with sqlite3.connect(self.sqlite, timeout=30) as conn:
            return conn.execute(query, params).fetchall()

    def trained(self, exp_id: int) -> int:
        """Individuals trained so far in a run, read from the database."""
        query = "SELECT individuals_trained FROM experiments_experiment WHERE id = ?"
        return self.sql(query, (exp_id,))[0][0]

    def session(self, username: str = "mia") -> requests.Session:
        """A logged-in browser-like session (CSRF token and session cookie)."""
        s = requests.Session()
        s.get(f"{self.url}/accounts/login/", timeout=10)
        r = s.post(
            f"{self.url}/accounts/login/",
            timeout=10,
            data={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": s.cookies["csrftoken"],
            },
            headers={"Referer": f"{self.url}/accounts/login/"},
        )
        assert r.status_code == 200 and "Log out" in r.text, "login failed"
        s.headers.update({"X-CSRFToken": s.cookies["csrftoken"], "Referer": self.url})
        return s

    def create(self, s: requests.Session, config: dict, name: str = "it") -> dict:
        r = s.post(
            f"{self.url}/api/experiments/",
            json={"name": name, "config": config, "start": True},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        return r.json()

    def wait_status(self, s: requests.Session, exp_id: int, statuses: tuple, timeout: float):
        def check():
            body = s.get(f"{self.url}/api/experiments/{exp_id}/", timeout=10).json()
            return body if body["status"] in statuses else None

        try:
            return wait_for(check, timeout, f"experiment {exp_id} to be {statuses}", 0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None


# Two teams: mia (member) and vic (viewer) of "Vision"; oscar (admin) of "Other lab".
SETUP_USERS = """
from django.contrib.auth.models import User
from evolab.accounts.models import Team, Membership
vision, _ = Team.objects.get_or_create(name="Vision")
other, _ = Team.objects.get_or_create(name="Other lab")
for name, team, role in [("mia", vision, "member"), ("vic", vision, "viewer"),
                         ("oscar", other, "admin")]:
    user = User.objects.create_user(name, password="{password}")
    Membership.objects.create(user=user, team=team, role=role)
"""


def ws_connect(url: str, **kwargs):
    """websockets.connect with a 1 s close timeout: a test that leaves a socket with frames
    still unread (more than websockets' 16-frame buffer) otherwise waits 10 s for a close
    frame the paused reader never reads (see evolab/client/watch.py)."""
    return websockets.connect(url, **{"close_timeout": 1, **kwargs})


def run_async(coroutine):
    """asyncio.run in a thread of its own: Playwright's sync API (browser tests, same
    session) keeps an event loop running in the main thread, where asyncio.run refuses."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
