"""Access over an open websocket ends with the access itself (evolab/experiments/access.py):
a removal or a logout closes the socket within a second; a change that keeps access keeps
the socket; one socket cannot make the server replay without bound; a path that matches no
route is refused, not answered with 500."""

import asyncio
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .harness import PASSWORD, run_async, ws_connect

pytestmark = pytest.mark.integration

# wes is a viewer of Vision (made a member by one test, removed by the last); ana is
# Vision's admin; the three API tokens are wes's (two) and oscar's, of another team.
USERS = """
from django.contrib.auth.models import User
from evolab.accounts.models import Team, Membership
from evolab.accounts.services import create_token
vision = Team.objects.get(name="Vision")
for name, role in [("ana", "admin"), ("wes", "viewer")]:
    user, _ = User.objects.get_or_create(username=name)
    user.set_password("{password}"); user.save()
    Membership.objects.update_or_create(user=user, team=vision, defaults={{"role": role}})
tokens = [create_token(User.objects.get(username=n), "script") for n in ("wes", "wes", "oscar")]
print(vision.pk, User.objects.get(username="wes").pk, *(f"{{t.pk}}:{{k}}" for t, k in tokens))
"""
CLOSE_WITHIN = 1.0  # seconds, from the admin's answer to the socket's close


@pytest.fixture(scope="module")
def world(finished_run):
    """Made once per stack (one manage.py process); the tests run in file order, the
    removal last."""
    stack, _, exp_id = finished_run
    out = stack.manage("shell", "-c", USERS.format(password=PASSWORD))
    team_id, wes_id, *tokens = out.strip().splitlines()[-1].split()
    stack.tokens = [tuple(t.split(":", 1)) for t in tokens]
    return stack, exp_id, int(team_id), int(wes_id)


def url(stack, exp_id: int | None) -> str:
    """One run's socket, or the experiments list's socket (None)."""
    run = "" if exp_id is None else f"{exp_id}/"
    return f"ws://127.0.0.1:{stack.port}/ws/experiments/{run}?after=0"


def headers(stack, session) -> dict:
    return {"Cookie": f"sessionid={session.cookies['sessionid']}", "Origin": stack.url}


async def drain(ws, quiet: float = 0.5) -> int:
    """Read until the server has been quiet for `quiet` seconds; how many messages came."""
    count = 0
    try:
        while True:
            await asyncio.wait_for(ws.recv(), quiet)
            count += 1
    except TimeoutError:
        return count


async def closed_after(ws, action) -> tuple[int, float]:
    """Run `action` (blocking HTTP, in a thread); the close code and seconds until it."""
    await asyncio.to_thread(action)
    done = time.monotonic()
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as closed:
        return closed.rcvd.code, time.monotonic() - done


async def replays(ws) -> int:
    await ws.send(json.dumps({"after": 0}))
    return json.loads(await asyncio.wait_for(ws.recv(), 10))["seq"]


def post(stack, session, path: str, **data):
    r = session.post(f"{stack.url}{path}", data=data, timeout=10, allow_redirects=False)
    assert r.status_code in (200, 302), (path, r.status_code, r.text[:300])


async def drain_one(address, hdrs):
    async with ws_connect(address, additional_headers=hdrs) as ws:
        await asyncio.wait_for(ws.recv(), 5)


def test_a_role_change_that_keeps_access_keeps_the_socket(world):
    stack, exp_id, team_id, wes_id = world
    wes, ana = stack.session("wes"), stack.session("ana")

    async def scenario():
        async with ws_connect(url(stack, exp_id), additional_headers=headers(stack, wes)) as ws:
            await drain(ws)
            role = f"/accounts/teams/{team_id}/members/{wes_id}/role/"
            await asyncio.to_thread(post, stack, ana, role, role="member")
            await asyncio.sleep(CLOSE_WITHIN)
            return await replays(ws)  # still open, and a replay re-checks and is served

    assert run_async(scenario()) == 1


def test_logging_out_closes_that_sessions_sockets_and_no_other(world):
    stack, exp_id, *_ = world
    first, second = stack.session("wes"), stack.session("wes")

    async def scenario():
        async with (
            ws_connect(url(stack, exp_id), additional_headers=headers(stack, first)) as a,
            ws_connect(url(stack, exp_id), additional_headers=headers(stack, second)) as b,
        ):
            await drain(a)
            await drain(b)
            closed = await closed_after(a, lambda: post(stack, first, "/accounts/logout/"))
            return closed, await replays(b)

    (code, seconds), other = run_async(scenario())
    assert code == 4403 and seconds < CLOSE_WITHIN, (code, seconds)
    assert other == 1


def test_a_flood_of_replay_requests_is_cut_off_and_bounded(world):
    stack, exp_id, *_ = world
    wes = stack.session("wes")
    last = wes.get(f"{stack.url}/api/experiments/{exp_id}/", timeout=10).json()["last_seq"]

    async def scenario():
        async with ws_connect(url(stack, exp_id), additional_headers=headers(stack, wes)) as ws:
            await drain(ws)
            received = 0
            try:
                for _ in range(200):
                    await ws.send(json.dumps({"after": 0}))
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
                    received += 1
            except ConnectionClosed as closed:
                return closed.rcvd.code, received

    code, received = run_async(scenario())
    assert code == 4429
    # 200 requests would have been 200 replays; coalesced and rate-limited, at most two ran.
    assert received <= 2 * last, (received, last)


@pytest.mark.parametrize(
    "path", ["ws/nothing/", "ws/experiments/x/", "ws/experiments/" + "9" * 30 + "/"]
)
def test_a_path_no_route_serves_is_refused_not_a_500(world, path):
    stack, *_ = world
    mia = stack.session("mia")
    address = f"ws://127.0.0.1:{stack.port}/{path}"
    with pytest.raises((InvalidStatus, ConnectionClosed)) as refused:
        run_async(drain_one(address, headers(stack, mia)))
    if isinstance(refused.value, InvalidStatus):
        assert refused.value.response.status_code == 403
    else:
        assert refused.value.rcvd.code == 4404


def test_a_script_signs_in_with_a_token_and_its_revocation_closes_the_socket(world):
    stack, exp_id, *_ = world
    (token_id, key), (_, spare), (_, oscars) = stack.tokens
    wes = stack.session("wes")
    token = {"Authorization": f"Token {key}"}  # and no Origin: a script, not a browser

    async def scenario():
        async with ws_connect(url(stack, exp_id), additional_headers=token) as ws:
            assert await drain(ws) > 0
            revoke = f"/accounts/settings/tokens/{token_id}/revoke/"
            return await closed_after(ws, lambda: post(stack, wes, revoke))

    code, seconds = run_async(scenario())
    assert code == 4403 and seconds < CLOSE_WITHIN, (code, seconds)
    refused = [
        token,  # revoked now
        {"Authorization": "Token evl_not-a-token"},
        {"Authorization": "Basic d2VzOnB3"},
        {"Authorization": f"Token {spare}", "Origin": "http://evil.example"},
        {"Authorization": f"Token {oscars}"},  # another team's user: no such run for them
    ]
    for headers_ in refused:
        with pytest.raises((InvalidStatus, ConnectionClosed)):
            run_async(drain_one(url(stack, exp_id), headers_))
    with_spare = {"Authorization": f"Token {spare}", "Origin": stack.url}
    assert run_async(drain_one_message(url(stack, exp_id), with_spare))["seq"] == 1


async def drain_one_message(address, hdrs) -> dict:
    async with ws_connect(address, additional_headers=hdrs) as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), 5))


def test_removing_a_member_closes_their_open_sockets_within_a_second(world):
    stack, exp_id, team_id, wes_id = world
    wes, ana = stack.session("wes"), stack.session("ana")

    async def scenario():
        async with (
            ws_connect(url(stack, exp_id), additional_headers=headers(stack, wes)) as run,
            ws_connect(url(stack, None), additional_headers=headers(stack, wes)) as runs,
        ):
            assert await drain(run) > 0
            remove = f"/accounts/teams/{team_id}/members/{wes_id}/remove/"
            closed = await closed_after(run, lambda: post(stack, ana, remove))
            return closed, runs.state.name

    (code, seconds), list_state = run_async(scenario())
    assert code == 4403 and seconds < CLOSE_WITHIN, (code, seconds, stack.logs())
    assert list_state == "OPEN"  # the list socket stays (it now follows no run of Vision)
    with pytest.raises((InvalidStatus, ConnectionClosed)):  # and a new socket is refused
        run_async(drain_one(url(stack, exp_id), headers(stack, wes)))
