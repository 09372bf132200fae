"""Sign-in throttle (evolab/accounts/throttle.py): wrong passwords for a username, or failures
from one address, lock it for a while at /accounts/login/, /admin/login/ and the API's tokens;
while locked the password is not even checked."""

import time

import pytest
from django.contrib.auth import SESSION_KEY
from rest_framework.test import APIClient

from evolab.accounts import throttle
from evolab.accounts.services import create_token

WRONG = "not-the-password"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast
    settings.EVOLAB_LOGIN_FAILURE_LIMIT = 3
    settings.EVOLAB_LOGIN_ADDRESS_FAILURE_LIMIT = 6
    settings.EVOLAB_LOGIN_FAILURE_WINDOW = 300


def sign_in(client, username, password, url="/accounts/login/", address="10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_wrong_passwords_lock_the_username_and_then_the_right_one_does_not_get_in(
    client, member, monkeypatch
):
    for _ in range(3):
        r = sign_in(client, "mia", WRONG)
        assert r.status_code == 200 and "didn&#x27;t match" in r.content.decode()
    checked = []
    monkeypatch.setattr("django.contrib.auth.forms.authenticate", lambda *a, **k: checked.append(1))
    r = sign_in(client, "MIA", "pw-mia-12345", address="10.0.0.2")  # any case, any address
    assert r.status_code == 429 and r["Retry-After"] == "300"
    assert "Too many failed sign-ins; try again in 5 minutes." in r.content.decode()
    assert not checked and SESSION_KEY not in client.session


def test_the_admin_login_is_throttled_too(client, admin):
    admin.is_staff = True
    admin.save()
    for _ in range(3):
        sign_in(client, "ada", WRONG, url="/admin/login/")
    r = sign_in(client, "ada", "pw-ada-12345", url="/admin/login/")
    assert "Too many failed sign-ins; try again in 5 minutes." in r.content.decode()
    assert SESSION_KEY not in client.session
    assert sign_in(client, "ada", "pw-ada-12345").status_code == 429  # one lock, both forms


def test_the_lock_ends_with_its_window_and_a_sign_in_clears_the_count(client, member, monkeypatch):
    for _ in range(2):
        sign_in(client, "mia", WRONG)
    assert sign_in(client, "mia", "pw-mia-12345").status_code == 302  # clears the count
    for _ in range(2):
        sign_in(client, "mia", WRONG)
    assert throttle.locked(None, "mia") == 0
    sign_in(client, "mia", WRONG)
    assert throttle.locked(None, "mia") == 300
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)  # the cache's clock too
    assert throttle.locked(None, "mia") == 0
    assert sign_in(client, "mia", "pw-mia-12345").status_code == 302


def test_one_address_trying_many_usernames_is_locked_others_are_not(client, member):
    for i in range(6):
        sign_in(client, f"nobody{i}", WRONG)
    assert sign_in(client, "mia", "pw-mia-12345").status_code == 429
    assert sign_in(client, "mia", "pw-mia-12345", address="10.0.0.9").status_code == 302


def test_wrong_api_tokens_lock_their_address(member, settings):
    settings.EVOLAB_LOGIN_ADDRESS_FAILURE_LIMIT = 2
    _, key = create_token(member, "script")
    api = APIClient(REMOTE_ADDR="10.0.0.1")
    for _ in range(2):
        assert api.get("/api/teams/", HTTP_AUTHORIZATION="Token evl_wrong").status_code == 401
    r = api.get("/api/teams/", HTTP_AUTHORIZATION=f"Token {key}")
    assert r.status_code == 429 and r.json()["detail"].startswith("Too many failed sign-ins")
    other = APIClient(REMOTE_ADDR="10.0.0.2")
    assert other.get("/api/teams/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_an_unreachable_cache_leaves_sign_in_working(client, member, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    for name in ("get_many", "add", "incr", "set", "delete_many"):
        monkeypatch.setattr(throttle.cache, name, down)
    assert sign_in(client, "mia", WRONG).status_code == 200
    assert sign_in(client, "mia", "pw-mia-12345").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_wrong_tokens_on_websockets_lock_their_address_too(member, settings):
    """A script could otherwise guess tokens over websocket handshakes, unthrottled."""
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from evolab.ws_auth import TokenAuthMiddleware

    async def accept(scope, receive, send):  # the routed app: it sees who signed in
        await receive()
        await send({"type": "websocket.accept"})

    settings.EVOLAB_LOGIN_ADDRESS_FAILURE_LIMIT = 2
    _, key = create_token(member, "script")

    async def handshake(token, address):
        async def app(scope, receive, send):
            scope = {**scope, "client": (address, 50000)}
            return await TokenAuthMiddleware(accept)(scope, receive, send)

        header = [(b"authorization", f"Token {token}".encode())]
        ws = WebsocketCommunicator(app, "/ws/experiments/", headers=header)
        connected, _ = await ws.connect()
        await ws.disconnect()
        return connected

    assert async_to_sync(handshake)(key, "10.0.0.1")
    for _ in range(2):
        assert not async_to_sync(handshake)("evl_wrong", "10.0.0.1")
    assert not async_to_sync(handshake)(key, "10.0.0.1")  # locked: the right token too
    assert async_to_sync(handshake)(key, "10.0.0.2")
    assert throttle.locked(type("R", (), {"META": {"REMOTE_ADDR": "10.0.0.1"}})()) > 0
