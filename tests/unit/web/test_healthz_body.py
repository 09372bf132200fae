"""/healthz tells the world only its status; the parts (what the launchers and the test
harness wait on) only to this machine, not through a proxy, and to staff."""

import pytest

from evolab import health

PARTS = {"status": "ok", "database": "ok", "redis": "ok", "workers": 2}


@pytest.fixture(autouse=True)
def all_up(monkeypatch):
    monkeypatch.setattr(health, "_database", lambda: "ok")
    monkeypatch.setattr(health, "_redis", lambda: "ok")
    monkeypatch.setattr(health, "_workers", lambda: 2)


def test_from_elsewhere_only_the_status(client, db):
    r = client.get("/healthz", REMOTE_ADDR="203.0.113.7")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    proxied = client.get("/healthz", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert proxied.json() == {"status": "ok"}


def test_a_degraded_state_is_a_503_with_no_reason_given(client, db, monkeypatch):
    monkeypatch.setattr(health, "_workers", lambda: 0)
    r = client.get("/healthz", REMOTE_ADDR="203.0.113.7")
    assert r.status_code == 503 and r.json() == {"status": "degraded"}


def test_this_machine_and_staff_see_the_parts(client, admin):
    assert client.get("/healthz", REMOTE_ADDR="127.0.0.1").json() == PARTS
    assert client.get("/healthz", REMOTE_ADDR="::1").json() == PARTS
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    assert client.get("/healthz", REMOTE_ADDR="203.0.113.7").json() == PARTS
