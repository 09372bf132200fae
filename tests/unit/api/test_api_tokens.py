"""Per-user API tokens: several, named, shown once, stored hashed, revocable, never logged."""

import logging
from io import StringIO

from django.core.management import call_command
from rest_framework.test import APIClient

from evolab.accounts import services
from evolab.accounts.models import ApiToken


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_token_authenticates_its_user_and_only_its_digest_is_stored(member):
    token, key = services.create_token(member, "laptop")
    assert key not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    r = token_client(key).get("/api/teams/")
    assert r.status_code == 200 and r.json()["results"][0]["role"] == "member"


def test_a_user_may_hold_several_tokens_and_revoke_one(member):
    first, key1 = services.create_token(member, "laptop")
    _, key2 = services.create_token(member, "cluster")
    assert services.revoke_token(member, first.pk)
    assert token_client(key1).get("/api/teams/").status_code == 401
    assert token_client(key2).get("/api/teams/").status_code == 200


def test_nobody_revokes_another_users_token(member, viewer):
    token, key = services.create_token(member, "laptop")
    assert not services.revoke_token(viewer, token.pk)
    assert token_client(key).get("/api/teams/").status_code == 200


def test_the_settings_page_shows_a_new_token_once_and_lists_it(client, member):
    client.force_login(member)
    r = client.post("/accounts/settings/tokens/", {"name": "ci"})
    key = r.context["new_key"]
    assert key.startswith("evl_") and key in r.content.decode()
    page = client.get("/accounts/settings/").content.decode()
    assert "ci" in page and key not in page and key[:10] in page


def test_revoking_from_the_settings_page(client, member):
    token, key = services.create_token(member, "old")
    client.force_login(member)
    assert client.post(f"/accounts/settings/tokens/{token.pk}/revoke/").status_code == 302
    assert token_client(key).get("/api/teams/").status_code == 401


def test_manage_apitoken_prints_a_working_token(member):
    out = StringIO()
    call_command("apitoken", "mia", stdout=out)
    assert token_client(out.getvalue().strip()).get("/api/teams/").status_code == 200


def test_tokens_never_reach_the_logs(member, caplog):
    _, key = services.create_token(member, "laptop")
    with caplog.at_level(logging.DEBUG):
        token_client(key).get("/api/teams/")
        token_client(key + "x").get("/api/teams/")
        token_client(key).get("/api/experiments/999999/")
    assert key not in caplog.text
