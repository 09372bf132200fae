"""Deliver committed events to the channel layer from sync code, without blocking the caller.

`async_to_sync(layer.group_send)` per event costs ~6 ms (a fresh event loop, and with it a
fresh Redis connection, every call): more than a whole selection transaction. Instead, each
process keeps one event loop in a daemon thread that sends queued messages in order over a
connection pool it keeps, several per group_send when several are waiting. Delivery is best
effort: the event log is the truth, and a client that misses a message replays it
(consumers.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

log = logging.getLogger(__name__)


BATCH = "evolab.batch"  # several messages in one: consumers dispatch each (consumers.py)
MAX_BATCH = 100


def _batch(messages: list[dict]) -> dict:
    return {"type": BATCH, "messages": messages}


class Courier:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._pid: int | None = None

    def send(self, group: str, message: dict[str, Any]) -> None:
        loop, queue = self._started()
        loop.call_soon_threadsafe(queue.put_nowait, (group, message))

    def _started(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child (Celery prefork)
                ready = threading.Event()
                threading.Thread(
                    target=self._serve, args=(ready,), daemon=True, name="evolab-courier"
                ).start()
                ready.wait()
                self._pid = os.getpid()
            return self._loop, self._queue

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._queue = asyncio.Queue()
        ready.set()
        self._loop.run_until_complete(self._deliver())

    async def _deliver(self) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        while True:
            batches = self._batches(await self._queue.get())
            if layer is None:
                continue
            for group, messages in batches.items():
                message = (
                    messages[0] if len(messages) == 1 else {"type": BATCH, "messages": messages}
                )
                try:
                    await layer.group_send(group, message)
                except Exception:  # the broker being down must never fail a committed step
                    log.warning("could not deliver %d message(s) to %s", len(messages), group)

    def _batches(self, first: tuple[str, dict]) -> dict[str, list[dict]]:
        """The first message and whatever else is already queued, in order, per group: under
        load one group_send carries many messages (each costs ~0.5 ms of CPU, scale bench)."""
        batches: dict[str, list[dict]] = {}
        group, message = first
        batches[group] = [message]
        for _ in range(MAX_BATCH - 1):
            if self._queue.empty():
                break
            group, message = self._queue.get_nowait()
            batches.setdefault(group, []).append(message)
        return batches

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until every queued message has been handed to the layer (tests, shutdown)."""
        if self._loop is None or self._pid != os.getpid():
            return
        done = threading.Event()
        self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._mark(done)))
        done.wait(timeout)

    async def _mark(self, done: threading.Event) -> None:
        while not self._queue.empty():
            await asyncio.sleep(0.001)
        done.set()


courier = Courier()
