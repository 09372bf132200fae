"""The live stream of one experiment to one websocket: replay from the log, then relay events.

The browser connects to /ws/experiments/<id>/?after=<seq>; it gets every event after that
seq in order, then live ones, never a duplicate or a gap (a gap triggers a replay from the
database, which is the truth). Permission is checked on connect, on every replay a client
asks for, at once when the user's access changes (access.py: a membership change, a
password change or a logout closes the socket within a second), and every RECHECK_SECONDS
as a backstop. One socket cannot make the server do unbounded work: replays it asks for
are coalesced and rate-limited, and a client that floods frames is disconnected.
"""

from __future__ import annotations

import asyncio
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from evolab import json_limits
from evolab.accounts.services import still_signed_in, teams_for

from .access import user_group
from .events import BIRTH, EDITED, STATUS, group_name
from .models import TERMINAL, Event, Experiment

REPLAY_PAGE = 1000
RECHECK_SECONDS = 10
REPLAY_INTERVAL = 1.0  # at most one client-asked replay per second per socket
MAX_FRAMES_PER_SECOND = 20  # more, and the client is flooding: closed with 4429
MAX_ID = 2**63 - 1  # beyond what the database can hold: no such run (not a 500)
CLOSED_ACCESS = 4403  # the user may no longer see this run, or was signed out


def can_view(user, experiment_id: int) -> bool:
    return Experiment.objects.for_teams(teams_for(user)).filter(pk=experiment_id).exists()


def allowed(
    session_key: str | None, user, experiment_id: int | None, token_id: int | None = None
) -> bool:
    """The socket's session or API token still signs its user in, and (for one run) the user
    may view it."""
    if not still_signed_in(session_key, user, token_id):
        return False
    return experiment_id is None or can_view(user, experiment_id)


def events_after(experiment_id: int, seq: int) -> list[dict]:
    rows = Event.objects.filter(experiment_id=experiment_id, seq__gt=seq).order_by("seq")
    return [e.to_message() for e in rows[:REPLAY_PAGE]]


class _Guarded:
    """What both consumers share: batched delivery, strict frames, access re-checks."""

    experiment_id: int | None = None

    async def evolab_batch(self, message: dict) -> None:
        """The event sender (sender.py) sends several messages as one when several wait."""
        for each in message["messages"]:
            await self.dispatch(each)

    @classmethod
    async def decode_json(cls, text_data):
        return json_limits.loads(text_data, max_depth=4)  # clients send {"after": seq}

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """A frame that is not small JSON closes the socket cleanly (4400), not with 1011;
        more than MAX_FRAMES_PER_SECOND closes it with 4429."""
        now = time.monotonic()
        if now - self.frames_since >= 1.0:
            self.frames_since, self.frames = now, 0
        self.frames += 1
        if self.frames > MAX_FRAMES_PER_SECOND:
            await self.close(code=4429)
            return
        if text_data is None:
            await self.close(code=4400)
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            await self.close(code=4400)
            return
        await self.receive_json(content, **kwargs)

    async def join_user_group(self) -> None:
        self.frames_since, self.frames = time.monotonic(), 0
        self.checked = time.monotonic()
        self.user_group = user_group(self.scope["user"].pk)
        await self.channel_layer.group_add(self.user_group, self.channel_name)

    async def leave_user_group(self) -> None:
        if hasattr(self, "user_group"):
            await self.channel_layer.group_discard(self.user_group, self.channel_name)

    def session_key(self) -> str | None:
        """The browser session's key; None for a socket signed in with an API token."""
        if self.scope.get("api_token") is not None:
            return None
        session = self.scope.get("session")
        return session.session_key if session is not None else None

    async def allowed_now(self) -> bool:
        self.checked = time.monotonic()
        return await database_sync_to_async(allowed)(
            self.session_key(), self.scope["user"], self.experiment_id, self.scope.get("api_token")
        )

    async def still_allowed(self) -> bool:
        """The periodic backstop: a full re-check every RECHECK_SECONDS."""
        if time.monotonic() - self.checked < RECHECK_SECONDS:
            return True
        if await self.allowed_now():
            return True
        await self.close(code=CLOSED_ACCESS)
        return False

    async def evolab_access(self, message: dict) -> None:
        """The user's access changed (access.py): re-check now, close if it is gone."""
        session = message.get("session")
        if session is not None and session != self.session_key():
            return  # another of the user's sessions logged out
        if not await self.allowed_now():
            await self.close(code=CLOSED_ACCESS)


async def _connect_user(consumer) -> bool:
    """Accept only a signed-in user; join the user's group for access changes."""
    if not consumer.scope["user"].is_authenticated:
        await consumer.close(code=4401)
        return False
    await consumer.join_user_group()
    return True


class ExperimentConsumer(_Guarded, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.experiment_id = int(self.scope["url_route"]["kwargs"]["pk"])
        if self.experiment_id > MAX_ID or not self.scope["user"].is_authenticated:
            await self.close(code=4404)
            return
        if not await database_sync_to_async(can_view)(self.scope["user"], self.experiment_id):
            await self.close(code=4404)
            return
        self.last_seq = _after(self.scope.get("query_string", b""))
        self.asked: int | None = None  # the earliest seq a client asked to replay after
        self.replay_due = 0.0  # monotonic time before which no asked replay runs
        self.replay_scheduled = False
        await _connect_user(self)
        await self.channel_layer.group_add(group_name(self.experiment_id), self.channel_name)
        await self.accept()
        await self.replay()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "last_seq"):
            await self.channel_layer.group_discard(
                group_name(self.experiment_id), self.channel_name
            )
        await self.leave_user_group()

    async def receive_json(self, content, **kwargs) -> None:
        """The client may ask for a replay after a given seq (e.g. after it detected a gap).
        Requests are coalesced (the earliest seq wins) and served at most once a second,
        each after a fresh permission check."""
        if not (isinstance(content, dict) and isinstance(content.get("after"), int)):
            return
        after = max(0, content["after"])
        self.asked = after if self.asked is None else min(self.asked, after)
        wait = self.replay_due - time.monotonic()
        if wait <= 0:
            await self.evolab_replay_due({})
        elif not self.replay_scheduled:
            self.replay_scheduled = True
            asyncio.get_running_loop().call_later(wait, self._schedule_replay)

    def _schedule_replay(self) -> None:
        """The replay runs as a message to this consumer, so it never overlaps another
        handler (the consumer dispatches one message at a time)."""
        asyncio.ensure_future(
            self.channel_layer.send(self.channel_name, {"type": "evolab.replay_due"})
        )

    async def evolab_replay_due(self, message: dict) -> None:
        self.replay_scheduled = False
        if self.asked is None:
            return
        after, self.asked = self.asked, None
        self.replay_due = time.monotonic() + REPLAY_INTERVAL
        if not await self.allowed_now():
            await self.close(code=CLOSED_ACCESS)
            return
        self.last_seq = after
        await self.replay()

    async def replay(self) -> None:
        while True:
            batch = await database_sync_to_async(events_after)(self.experiment_id, self.last_seq)
            for message in batch:
                await self.send_json(message)
                self.last_seq = message["seq"]
            if len(batch) < REPLAY_PAGE:
                return

    async def evolab_event(self, message: dict) -> None:
        if not await self.still_allowed():
            return
        event = message["event"]
        if event["seq"] <= self.last_seq:
            return  # already sent by a replay
        if event["seq"] > self.last_seq + 1:
            await self.replay()  # we missed some (layer capacity, a restart): fill from the log
            return
        await self.send_json(event)
        self.last_seq = event["seq"]

    async def evolab_progress(self, message: dict) -> None:
        """Progress is live-only (events.progress): relayed as it comes, without a seq."""
        if await self.still_allowed():
            await self.send_json({"seq": None, "kind": "progress", "data": message["data"]})


def watched_experiments(user) -> list[int]:
    """The user's runs that can still change: the list page follows only these."""
    return list(
        Experiment.objects.for_teams(teams_for(user))
        .exclude(status__in=TERMINAL)
        .values_list("pk", flat=True)[:LIST_WATCH_LIMIT]
    )


LIST_WATCH_LIMIT = 200


class ExperimentListConsumer(_Guarded, AsyncJsonWebsocketConsumer):
    """The experiments page's live columns: status changes, births and edits (name, tags,
    archived) of the user's open runs.

    It joins the per-experiment groups (no extra broadcast is needed from the step code) and
    relays a summary, not the event log: the list reloads from the database on reconnect.
    """

    async def connect(self) -> None:
        if not await _connect_user(self):
            return
        self.watched = await database_sync_to_async(watched_experiments)(self.scope["user"])
        for pk in self.watched:
            await self.channel_layer.group_add(group_name(pk), self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for pk in getattr(self, "watched", []):
            await self.channel_layer.group_discard(group_name(pk), self.channel_name)
        await self.leave_user_group()

    async def receive_json(self, content, **kwargs) -> None:
        """The list page sends nothing; a frame is ignored (and counted, in receive)."""

    async def evolab_access(self, message: dict) -> None:
        """Signed out: closed. Still signed in: follow exactly the runs now visible."""
        if not await self.allowed_now():
            await self.close(code=CLOSED_ACCESS)
            return
        if hasattr(self, "watched"):
            now = set(await database_sync_to_async(watched_experiments)(self.scope["user"]))
            for pk in set(self.watched) - now:
                await self.channel_layer.group_discard(group_name(pk), self.channel_name)
            for pk in now - set(self.watched):
                await self.channel_layer.group_add(group_name(pk), self.channel_name)
            self.watched = list(now)

    async def evolab_progress(self, message: dict) -> None:
        """The list shows no per-child progress."""

    async def evolab_event(self, message: dict) -> None:
        event = message["event"]
        kind = event["kind"]
        if kind not in (STATUS, BIRTH, EDITED) or not await self.still_allowed():
            return
        data = event["data"]
        # A birth says which individual, not which run: read the run's new totals, scoped to
        # the user's teams (which also re-checks permission on every relayed birth).
        individual = data["id"] if kind == BIRTH else None
        experiment = None if kind == BIRTH else data["id"]
        row = await database_sync_to_async(list_row)(self.scope["user"], experiment, individual)
        if row is not None:
            if kind == EDITED:
                row |= {"tags": data["tags"], "archived": data["archived"]}
            await self.send_json(row)


def list_row(user, experiment_id: int | None, individual_id: int | None) -> dict | None:
    runs = Experiment.objects.for_teams(teams_for(user))
    if individual_id is not None:
        runs = runs.filter(individuals__pk=individual_id)
    else:
        runs = runs.filter(pk=experiment_id)
    fields = ("pk", "name", "status", "individuals_trained", "best_val_accuracy", "total_flops")
    row = runs.values_list(*fields).first()
    return None if row is None else dict(zip(("id", *fields[1:]), row, strict=True))


def _after(query_string: bytes) -> int:
    from urllib.parse import parse_qs

    values = parse_qs(query_string.decode("latin-1")).get("after", ["0"])
    try:
        return max(0, int(values[0]))
    except ValueError:
        return 0
