"""The live stream of one experiment to one websocket: replay from the log, then relay events.

The browser connects to /ws/experiments/<id>/?after=<seq>; it gets every event after that
seq in order, then live ones, never a duplicate or a gap (a gap triggers a replay from the
database, which is the truth). Permission is checked on connect and re-checked while open.
"""

from __future__ import annotations

import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from evolab import json_limits
from evolab.accounts.services import teams_for

from .events import BIRTH, STATUS, group_name
from .models import TERMINAL, Event, Experiment

REPLAY_PAGE = 1000
RECHECK_SECONDS = 30


def can_view(user, experiment_id: int) -> bool:
    return Experiment.objects.for_teams(teams_for(user)).filter(pk=experiment_id).exists()


def events_after(experiment_id: int, seq: int) -> list[dict]:
    rows = Event.objects.filter(experiment_id=experiment_id, seq__gt=seq).order_by("seq")
    return [e.to_message() for e in rows[:REPLAY_PAGE]]


class _Batched:
    """The event sender (sender.py) sends several messages as one when several are waiting."""

    async def evolab_batch(self, message: dict) -> None:
        for each in message["messages"]:
            await self.dispatch(each)

    @classmethod
    async def decode_json(cls, text_data):
        return json_limits.loads(text_data, max_depth=4)  # clients send {"after": seq}

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """A frame that is not small JSON closes the socket cleanly (4400), not with 1011."""
        if text_data is None:
            await self.close(code=4400)
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            await self.close(code=4400)
            return
        await self.receive_json(content, **kwargs)


class ExperimentConsumer(_Batched, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.experiment_id = int(self.scope["url_route"]["kwargs"]["pk"])
        if not await database_sync_to_async(can_view)(self.scope["user"], self.experiment_id):
            await self.close(code=4404)
            return
        self.checked = time.monotonic()
        self.last_seq = _after(self.scope.get("query_string", b""))
        await self.channel_layer.group_add(group_name(self.experiment_id), self.channel_name)
        await self.accept()
        await self.replay()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "last_seq"):
            await self.channel_layer.group_discard(
                group_name(self.experiment_id), self.channel_name
            )

    async def receive_json(self, content, **kwargs) -> None:
        """The client may ask for a replay after a given seq (e.g. after it detected a gap)."""
        if isinstance(content, dict) and isinstance(content.get("after"), int):
            self.last_seq = max(0, content["after"])
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
        if not await self._still_allowed():
            await self.close(code=4403)
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
        if await self._still_allowed():
            await self.send_json({"seq": None, "kind": "progress", "data": message["data"]})

    async def _still_allowed(self) -> bool:
        if time.monotonic() - self.checked < RECHECK_SECONDS:
            return True
        self.checked = time.monotonic()
        return await database_sync_to_async(can_view)(self.scope["user"], self.experiment_id)


def watched_experiments(user) -> list[int]:
    """The user's runs that can still change: the list page follows only these."""
    return list(
        Experiment.objects.for_teams(teams_for(user))
        .exclude(status__in=TERMINAL)
        .values_list("pk", flat=True)[:LIST_WATCH_LIMIT]
    )


LIST_WATCH_LIMIT = 200


class ExperimentListConsumer(_Batched, AsyncJsonWebsocketConsumer):
    """The experiments page's live column: status changes and births of the user's open runs.

    It joins the per-experiment groups (no extra broadcast is needed from the step code) and
    relays a summary, not the event log: the list reloads from the database on reconnect.
    """

    async def connect(self) -> None:
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=4401)
            return
        self.watched = await database_sync_to_async(watched_experiments)(user)
        for pk in self.watched:
            await self.channel_layer.group_add(group_name(pk), self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for pk in getattr(self, "watched", []):
            await self.channel_layer.group_discard(group_name(pk), self.channel_name)

    async def evolab_progress(self, message: dict) -> None:
        """The list shows no per-child progress."""

    async def evolab_event(self, message: dict) -> None:
        event = message["event"]
        if event["kind"] not in (STATUS, BIRTH):
            return
        data = event["data"]
        # A birth says which individual, not which run: read the run's new totals, scoped to
        # the user's teams (which also re-checks permission on every relayed birth).
        individual = data["id"] if event["kind"] == BIRTH else None
        experiment = data["id"] if event["kind"] == STATUS else None
        row = await database_sync_to_async(list_row)(self.scope["user"], experiment, individual)
        if row is not None:
            await self.send_json(row)


def list_row(user, experiment_id: int | None, individual_id: int | None) -> dict | None:
    runs = Experiment.objects.for_teams(teams_for(user))
    if individual_id is not None:
        runs = runs.filter(individuals__pk=individual_id)
    else:
        runs = runs.filter(pk=experiment_id)
    fields = ("pk", "status", "individuals_trained", "best_val_accuracy", "total_flops")
    row = runs.values_list(*fields).first()
    return None if row is None else dict(zip(("id", *fields[1:]), row, strict=True))


def _after(query_string: bytes) -> int:
    from urllib.parse import parse_qs

    values = parse_qs(query_string.decode("latin-1")).get("after", ["0"])
    try:
        return max(0, int(values[0]))
    except ValueError:
        return 0
