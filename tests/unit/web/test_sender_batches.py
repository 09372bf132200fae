"""Under load the sender sends what is already queued for a group as one message; the
websocket consumers unpack it, so a browser still gets every message, in order."""

import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from evolab.experiments import services
from evolab.experiments.consumers import ExperimentConsumer
from evolab.experiments.events import group_name
from evolab.experiments.models import Event
from evolab.experiments.sender import BATCH, MAX_BATCH, EventSender


def test_the_sender_batches_what_is_queued_per_group_keeping_each_groups_order():
    sender = EventSender()
    sender._pending.extend([("a", {"n": 0}), ("a", {"n": 1}), ("b", {"n": 2}), ("a", {"n": 3})])
    assert sender._batches() == {
        "a": [{"n": 0}, {"n": 1}, {"n": 3}],
        "b": [{"n": 2}],
    }
    sender._pending.extend(("a", {"n": n}) for n in range(MAX_BATCH + 6))
    assert len(sender._batches()["a"]) == MAX_BATCH  # the rest go in the next one
    assert len(sender._pending) == 6


def test_a_burst_of_sends_wakes_the_loop_once_and_every_message_is_delivered(monkeypatch):
    """send() from many threads at once: one wake-up per burst, nothing lost, order kept."""
    sent: list[tuple[str, dict]] = []

    class Layer:
        async def group_send(self, group, message):
            sent.extend((group, m) for m in message.get("messages", [message]))

    monkeypatch.setattr("channels.layers.get_channel_layer", lambda: Layer())
    sender = EventSender()
    wakes = 0
    wake = sender._wake

    def counted_wake():
        nonlocal wakes
        wakes += 1
        wake()

    sender._wake = counted_wake
    loop = sender._started()
    hold = threading.Event()
    loop.call_soon_threadsafe(hold.wait)  # the loop is busy while the burst arrives

    def burst(t):
        for n in range(200):
            sender.send(f"g{t}", {"n": n})

    threads = [threading.Thread(target=burst, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hold.set()
    sender.drain()
    assert wakes <= 4  # at most one per thread racing on the first send; 800 without coalescing
    for t in range(4):
        assert [m["n"] for g, m in sent if g == f"g{t}"] == list(range(200))
    sender.send("late", {"n": -1})  # a send after the loop went idle wakes it again
    sender.drain()
    assert sent[-1] == ("late", {"n": -1})


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
