"""A run's live events over its websocket, with replay by sequence number.

The server sends every event after `?after=<seq>` in order, then live ones; progress
messages carry no seq (they are never replayed). This generator keeps the last seq it
yielded, drops duplicates, asks for a replay (`{"after": seq}`) when it sees a gap, and
after a dropped connection reconnects with `?after=<last seq>`, so the caller sees each
logged event exactly once and in order."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from .http import EvoLabError
from .routes import TERMINAL, WEBSOCKET

CLOSE_REASONS = {
    4400: "the server refused a frame",
    4401: "not signed in",
    4403: "access to this run has ended (removed from the team, or the token was revoked)",
    4404: "no such run (or not one of your teams')",
    4429: "too many frames",
}
IDLE_CHECK = 15.0  # seconds without a message: ask the REST API whether the run ended
MAX_RECONNECTS = 8  # consecutive failed connections before giving up
ASK_INTERVAL = 1.1  # the server serves one asked replay a second
# Frames buffered before reading pauses, and how long a close waits for the server's close
# frame. With websockets' defaults (16 frames, 10 s), a caller that stops after the first
# event of a replay (`for e in run.watch(): break`) waited 10 s: the unread frames filled the
# buffer, reading paused, and the server's close frame was never read.
MAX_QUEUE = 4096
CLOSE_TIMEOUT = 1.0


@dataclass(frozen=True)
class Event:
    """One message of the stream: `seq` (None for progress), `kind` (birth, death, started,
    failed, status, result, progress) and its `data` (docs/CLIENT.md lists the keys)."""

    seq: int | None
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        """A status event that ends the run (finished, stopped or failed)."""
        return self.kind == "status" and self.data.get("status") in TERMINAL


def ws_url(base: str, experiment_id: int, after: int) -> str:
    scheme, rest = base.split("://", 1)
    ws = "wss" if scheme == "https" else "ws"
    return f"{ws}://{rest}{WEBSOCKET.format(id=int(experiment_id))}?after={int(after)}"


def events(
    base: str,
    token: str | None,
    experiment_id: int,
    after: int = 0,
    *,
    progress: bool = True,
    until_terminal: bool = True,
    timeout: float | None = None,
    check: Callable[[], tuple[str, int]] | None = None,
) -> Iterator[Event]:
    """Yield the run's events after `after`, live. Stops after a terminal status event
    (`until_terminal`), or raises TimeoutError after `timeout` seconds. `check()` returns the
    run's (status, last_seq) over REST; it is asked when the stream is quiet, so a run that
    had already ended before we connected is not waited on forever."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    deadline = None if timeout is None else time.monotonic() + timeout
    last, failures, asked = int(after), 0, 0.0
    while True:
        try:
            ws = connect(
                ws_url(base, experiment_id, last),
                additional_headers=headers,
                open_timeout=15,
                close_timeout=CLOSE_TIMEOUT,
                max_queue=MAX_QUEUE,
                proxy=None,
                max_size=2**24,
            )
        except InvalidStatus as exc:
            code = exc.response.status_code
            raise EvoLabError(code, f"The live stream was refused (HTTP {code}).") from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            failures += 1
            if failures > MAX_RECONNECTS:
                raise EvoLabError(None, f"Cannot reach the live stream: {exc}") from None
            _sleep_before_retry(failures, deadline)
            continue
        quiet_since = time.monotonic()
        try:
            with ws:
                while True:
                    wait = IDLE_CHECK
                    if deadline is not None:
                        wait = min(wait, deadline - time.monotonic())
                        if wait <= 0:
                            raise TimeoutError(f"run {experiment_id} still going after {timeout}s")
                    try:
                        raw = ws.recv(timeout=wait)
                    except TimeoutError:
                        if check is not None and time.monotonic() - quiet_since >= IDLE_CHECK:
                            quiet_since = time.monotonic()
                            status, server_last = check()
                            if until_terminal and status in TERMINAL and server_last <= last:
                                return
                            if server_last > last and time.monotonic() - asked > ASK_INTERVAL:
                                ws.send(json.dumps({"after": last}))
                                asked = time.monotonic()
                        continue
                    quiet_since, failures = time.monotonic(), 0
                    message = json.loads(raw)
                    event = Event(
                        message.get("seq"), message.get("kind", ""), message.get("data") or {}
                    )
                    if event.seq is None:
                        if progress:
                            yield event
                        continue
                    if event.seq <= last:
                        continue  # already seen (a replay overlapping live events)
                    if event.seq > last + 1:
                        if time.monotonic() - asked > ASK_INTERVAL:  # a gap: replay from last
                            ws.send(json.dumps({"after": last}))
                            asked = time.monotonic()
                        continue
                    last = event.seq
                    yield event
                    if until_terminal and event.terminal:
                        return
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            if code in CLOSE_REASONS:
                raise EvoLabError(code, f"Live stream closed: {CLOSE_REASONS[code]}.") from None
            failures += 1
            if failures > MAX_RECONNECTS:
                raise EvoLabError(None, f"The live stream keeps closing ({code}).") from None
            _sleep_before_retry(failures, deadline)


def _sleep_before_retry(failures: int, deadline: float | None) -> None:
    pause = min(10.0, 0.5 * 2 ** (failures - 1))
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the run did not end in time")
        pause = min(pause, left)
    time.sleep(pause)
