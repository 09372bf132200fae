"""Under load the courier sends what is already queued for a group as one message; the
websocket consumers unpack it, so a browser still gets every message, in order."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from evolab.experiments import services
from evolab.experiments.consumers import ExperimentConsumer
from evolab.experiments.courier import BATCH, MAX_BATCH, Courier
from evolab.experiments.events import group_name
from evolab.experiments.models import Event


def test_the_courier_batches_what_is_queued_per_group_keeping_each_groups_order():
    courier = Courier()
    courier._queue = asyncio.Queue()
    for item in [("a", {"n": 1}), ("b", {"n": 2}), ("a", {"n": 3})]:
        courier._queue.put_nowait(item)
    assert courier._batches(("a", {"n": 0})) == {
        "a": [{"n": 0}, {"n": 1}, {"n": 3}],
        "b": [{"n": 2}],
    }
    for n in range(MAX_BATCH + 5):
        courier._queue.put_nowait(("a", {"n": n}))
    assert len(courier._batches(("a", {}))["a"]) == MAX_BATCH  # the rest go in the next one
    assert courier._queue.qsize() == 6


@pytest.mark.django_db(transaction=True)
def test_a_batch_reaches_the_browser_as_its_messages_in_order(team, member):
    exp = services.create_experiment(team, member, "batched", {"population": 3})
    first, second = (
        Event.objects.create(experiment=exp, seq=seq, kind="birth", data={"id": seq})
        for seq in (1, 2)
    )
    progress = {"id": 9, "step": 3, "loss": 0.5, "steps": 10}

    async def watch():
        comm = WebsocketCommunicator(ExperimentConsumer.as_asgi(), f"/ws/experiments/{exp.pk}/")
        comm.scope["user"] = member
        comm.scope["url_route"] = {"kwargs": {"pk": exp.pk}}
        connected, _ = await comm.connect()
        assert connected
        replayed = [await comm.receive_json_from(timeout=5) for _ in range(2)]
        third = await Event.objects.acreate(experiment=exp, seq=3, kind="death", data={"id": 1})
        batch = [
            {"type": "evolab.event", "event": second.to_message()},  # already replayed
            {"type": "evolab.progress", "data": progress},
            {"type": "evolab.event", "event": third.to_message()},
        ]
        await get_channel_layer().group_send(group_name(exp.pk), {"type": BATCH, "messages": batch})
        live = [await comm.receive_json_from(timeout=5) for _ in range(2)]
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()
        return replayed, live

    replayed, live = async_to_sync(watch)()
    assert [m["seq"] for m in replayed] == [1, 2]
    assert live == [
        {"seq": None, "kind": "progress", "data": progress},
        {"seq": 3, "kind": "death", "data": {"id": 1}},
    ]
    assert first.seq == 1
