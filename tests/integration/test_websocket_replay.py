"""The live websocket stream: authenticated, authorised, ordered, replayable."""

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .harness import run_async, ws_connect

pytestmark = pytest.mark.integration


@pytest.fixture
def run(finished_run):
    return finished_run


def ws_url(stack, exp_id, after=0):
    return f"ws://127.0.0.1:{stack.port}/ws/experiments/{exp_id}/?after={after}"


async def receive(url, headers, count, timeout=10):
    async with ws_connect(url, additional_headers=headers) as ws:
        return [json.loads(await asyncio.wait_for(ws.recv(), timeout)) for _ in range(count)]


async def refused(url, headers) -> bool:
    try:
        async with ws_connect(url, additional_headers=headers) as ws:
            await asyncio.wait_for(ws.recv(), 5)
    except (InvalidStatus, ConnectionClosed):
        return True
    return False


def headers_for(stack, session, origin=None):
    cookie = f"sessionid={session.cookies['sessionid']}"
    return {"Cookie": cookie, "Origin": origin or f"http://127.0.0.1:{stack.port}"}


def test_a_member_gets_every_event_in_order_from_the_start(run):
    stack, s, exp_id = run
    last = s.get(f"{stack.url}/api/experiments/{exp_id}/", timeout=10).json()["last_seq"]
    events = run_async(receive(ws_url(stack, exp_id), headers_for(stack, s), last))
    assert [e["seq"] for e in events] == list(range(1, last + 1))
    assert sum(e["kind"] == "birth" for e in events) == 6


def test_reconnecting_after_a_seq_replays_only_what_follows(run):
    stack, s, exp_id = run
    events = run_async(receive(ws_url(stack, exp_id, after=5), headers_for(stack, s), 3))
    assert [e["seq"] for e in events] == [6, 7, 8]


def test_the_events_api_matches_the_websocket(run):
    stack, s, exp_id = run
    body = s.get(f"{stack.url}/api/experiments/{exp_id}/events/?after=5", timeout=10).json()
    assert body["events"][0]["seq"] == 6 and body["last_seq"] == body["events"][-1]["seq"]


def test_another_team_anonymous_users_and_foreign_origins_are_refused(run):
    stack, s, exp_id = run
    url = ws_url(stack, exp_id)
    oscar = stack.session("oscar")
    assert run_async(refused(url, headers_for(stack, oscar)))
    assert run_async(refused(url, {"Origin": f"http://127.0.0.1:{stack.port}"}))
    assert run_async(refused(url, headers_for(stack, s, origin="http://evil.example")))
    assert run_async(refused(url, {"Cookie": headers_for(stack, s)["Cookie"]}))


def test_an_over_size_frame_closes_the_socket(run):
    stack, s, exp_id = run

    async def send_big():
        async with ws_connect(
            ws_url(stack, exp_id), additional_headers=headers_for(stack, s), max_size=None
        ) as ws:
            await ws.send(json.dumps({"after": 0, "pad": "x" * 100_000}))
            while True:  # drain the replay until the server closes on the big frame
                await asyncio.wait_for(ws.recv(), 10)

    with pytest.raises(ConnectionClosed):  # the server drops the connection (autobahn)
        run_async(send_big())
    events = run_async(receive(ws_url(stack, exp_id), headers_for(stack, s), 1))
    assert events[0]["seq"] == 1  # and serves everyone else as before


def test_the_origin_must_be_the_sites_own_scheme_host_and_port(run):
    stack, s, exp_id = run
    url, port = ws_url(stack, exp_id), stack.port
    for origin in (
        "http://127.0.0.1:9", f"https://127.0.0.1:{port}", f"ftp://127.0.0.1:{port}", "null",
        f"http://127.0.0.1:{port}.evil.example", f"http://127.0.0.1:{port}/path",
    ):  # fmt: skip
        assert run_async(refused(url, headers_for(stack, s, origin=origin))), origin
    assert run_async(receive(url, headers_for(stack, s), 1))[0]["seq"] == 1


def test_an_idle_socket_stays_open_past_the_redis_read_timeout(run):
    """channels_redis waits in 5 s blocking reads; redis-py's socket timeout was 5 s too, so
    an idle socket closed with 1011 after 5-6 s."""
    stack, s, exp_id = run

    async def idle_then_ask() -> dict:
        async with ws_connect(
            ws_url(stack, exp_id), additional_headers=headers_for(stack, s), close_timeout=1
        ) as ws:
            try:
                while True:  # drain the replay
                    await asyncio.wait_for(ws.recv(), 1)
            except TimeoutError:
                pass
            await asyncio.sleep(7)  # past the 5 s read timeout that closed it at 5-6 s
            await ws.send(json.dumps({"after": 0}))
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    assert run_async(idle_then_ask())["seq"] == 1
    assert "Timeout reading" not in stack.logs()


@pytest.mark.parametrize("frame", ["not json", "[" * 1000 + "]" * 1000])
def test_a_frame_that_is_not_small_json_closes_cleanly(run, frame):
    stack, s, exp_id = run

    async def send_bad() -> int:
        async with ws_connect(
            ws_url(stack, exp_id), additional_headers=headers_for(stack, s), close_timeout=1
        ) as ws:
            await ws.send(frame)
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except ConnectionClosed as closed:
                return closed.rcvd.code

    assert run_async(send_bad()) == 4400  # a clean close, not 1011 with a traceback
