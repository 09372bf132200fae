"""The live worker processes, as each reports itself every few seconds (workers/process_beat.py).

A child's lease heartbeat (leases.py) says how far a child has trained; nothing said which
processes exist, where, on what device, or what the idle ones do. Each Celery pool process
therefore writes one small JSON record to Redis (the broker every process already reaches):
a key that expires LIVE_SECONDS after its last report, and its name in a sorted set scored
by the report's time. A process killed outright drops out when its key expires; nothing is
written to the database, so a heartbeat costs no database connection or write. A record
lists the Celery queues its process consumes (`queues`): a run's steps go to one queue (cpu
or gpu), so only the processes of that queue can train its children.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import redis
from django.conf import settings

from .models import Experiment, Status

LIVE_SECONDS = 15  # a process silent this long is gone (it reports every 3 s)


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _prefix() -> str:
    broker = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    return f"{broker}evolab:processes:"


def report(record: dict[str, Any]) -> None:
    """Store a process's record (it has a unique "name"); it lives LIVE_SECONDS."""
    client, prefix, now = _client(settings.REDIS_URL), _prefix(), time.time()
    record = {**record, "beat": now}
    with client.pipeline(transaction=False) as pipe:
        pipe.set(f"{prefix}p:{record['name']}", json.dumps(record), ex=LIVE_SECONDS)
        pipe.zadd(f"{prefix}live", {record["name"]: now})
        pipe.zremrangebyscore(f"{prefix}live", "-inf", now - LIVE_SECONDS)
        pipe.execute()


def forget(name: str) -> None:
    """A process that exits says so (a killed one just expires)."""
    client, prefix = _client(settings.REDIS_URL), _prefix()
    with client.pipeline(transaction=False) as pipe:
        pipe.delete(f"{prefix}p:{name}")
        pipe.zrem(f"{prefix}live", name)
        pipe.execute()


def live() -> list[dict[str, Any]]:
    """The records of the processes that reported within LIVE_SECONDS, by host and pid.
    Raises redis.RedisError when Redis cannot be reached."""
    client, prefix = _client(settings.REDIS_URL), _prefix()
    names = client.zrangebyscore(f"{prefix}live", time.time() - LIVE_SECONDS, "+inf")
    if not names:
        return []
    raw = client.mget([f"{prefix}p:{n.decode()}" for n in names])
    records = [json.loads(r) for r in raw if r is not None]
    return sorted(records, key=lambda r: (str(r.get("host")), int(r.get("pid") or 0)))


def run_queue() -> str:
    """The Celery queue a run's steps go to: the installation's (EVOLAB_QUEUE, cpu or gpu;
    taskqueue.send_step sends every step to the default queue, from the web and the workers)."""
    return settings.CELERY_TASK_DEFAULT_QUEUE


def serves(record: dict[str, Any], queue: str) -> bool:
    """Whether a process takes tasks of `queue` (its record lists the queues it consumes)."""
    queues = record.get("queues")
    return isinstance(queues, list) and queue in queues


def live_count(queue: str) -> int | None:
    """How many live processes serve `queue`; None when Redis cannot be reached (nothing is
    known)."""
    try:
        return sum(serves(record, queue) for record in live())
    except redis.RedisError:
        return None


def capacity_notice(asked: int, processes: int | None, queue: str) -> str | None:
    """What the experiment page says when a run asks for more parallel workers than there are
    worker processes of its queue to run them (None: enough, or nothing known)."""
    if processes is None or asked <= processes:
        return None
    wants = f"This run asks for {asked} parallel workers"
    serving = f"of its queue ({queue})"
    if processes == 0:
        return (
            f"{wants}, and no worker process {serving} is running: no child trains until one "
            "starts."
        )
    pace = "one at a time" if processes == 1 else f"at most {processes} at a time"
    running = (
        f"1 worker process {serving} is"
        if processes == 1
        else f"{processes} worker processes {serving} are"
    )
    return f"{wants}, {running} running: its children train {pace}."


def capacity(exp: Experiment) -> dict[str, Any]:
    """A running run's parallel workers against the live processes that serve its queue (a
    process of another queue never takes its steps), and what to say of it."""
    asked, queue = exp.cfg.workers, run_queue()
    live = live_count(queue) if exp.status == Status.RUNNING else None
    return {"workers": asked, "processes": live, "queue": queue,
            "notice": capacity_notice(asked, live, queue)}  # fmt: skip
