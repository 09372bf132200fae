"""A new password revokes the user's API tokens (EVOLAB_REVOKE_TOKENS_ON_PASSWORD_CHANGE, on by
default), whichever way it was set; off, they keep working. Other users' tokens are untouched."""

import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from evolab.accounts.services import create_token

NEW = {"new_password1": "brand-new-pw-42", "new_password2": "brand-new-pw-42"}


@pytest.fixture(autouse=True)
def fast_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def works(key: str) -> bool:
    return APIClient().get("/api/teams/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def change_password(client, user) -> str:
    client.force_login(user)
    data = {"old_password": f"pw-{user.username}-12345", **NEW}
    r = client.post("/accounts/password/", data, follow=True)
    assert r.redirect_chain[-1][0] == "/accounts/password/done/"
    return r.content.decode()


def test_changing_a_password_revokes_that_users_tokens(client, member, viewer):
    _, mine = create_token(member, "laptop")
    _, theirs = create_token(viewer, "laptop")
    page = change_password(client, member)
    assert "Your API tokens were revoked" in page
    assert not works(mine) and works(theirs)
    assert works(create_token(member, "new laptop")[1])  # a new one works at once


def test_a_password_reset_revokes_them_too(client, member):
    _, key = create_token(member, "laptop")
    client.post("/accounts/password/reset/", {"email": "mia@lab.test"})
    link = re.search(r"http://testserver(\S+)", mail.outbox[0].body).group(1)
    url = client.get(link, follow=True).redirect_chain[-1][0]
    assert "Your API tokens were revoked" in client.post(url, NEW, follow=True).content.decode()
    assert not works(key)


def test_set_to_keep_them_tokens_survive_a_password_change(client, member, settings):
    settings.EVOLAB_REVOKE_TOKENS_ON_PASSWORD_CHANGE = False
    _, key = create_token(member, "laptop")
    assert "Your API tokens were revoked" not in change_password(client, member)
    assert works(key)


def test_signing_in_revokes_nothing_not_even_when_it_upgrades_the_hash(client, member, settings):
    _, key = create_token(member, "laptop")
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    assert client.login(username="mia", password="pw-mia-12345")
    member.refresh_from_db()
    assert member.password.startswith("pbkdf2_") and works(key)  # re-hashed, same password
