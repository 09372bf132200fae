"""The pages: a team admin adds and deletes webhooks on the team page (the secret shown once,
a refused address explained) and reads the delivery log; other roles see none of it; each
user manages their own e-mail notifications in their settings."""

from __future__ import annotations

import pytest
from django.test import Client

from evolab.notifications import services as subscriptions
from evolab.notifications.models import Subscription


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def public_only(settings):
    settings.EVOLAB_WEBHOOK_ALLOW_PRIVATE = False


def test_an_admin_adds_a_webhook_and_sees_its_secret_once(team, admin):
    client = signed_in(admin)
    url = f"/accounts/teams/{team.pk}/webhooks/"
    form = {"url": "https://93.184.216.34/hook", "events": ["finished", "failed"],
            "no_improvement_individuals": "100"}  # fmt: skip
    r = client.post(url, form)
    sub = Subscription.objects.get()
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"
    assert sub.secret in r.content.decode() and sub.events == ["finished", "failed"]
    page = client.get(f"/accounts/teams/{team.pk}/").content.decode()
    assert "https://93.184.216.34/hook" in page and sub.secret not in page
    assert "Nothing sent yet." in page
    r = client.post(url, {**form, "url": "http://169.254.169.254/latest/meta-data/"})
    assert r.status_code == 400
    assert "169.254.169.254 is a link-local address" in r.content.decode()
    r = client.post(f"/accounts/teams/{team.pk}/webhooks/{sub.pk}/delete/")
    assert r.status_code == 302 and not Subscription.objects.exists()


def test_only_admins_see_and_manage_the_teams_webhooks(team, admin, member, other_team, outsider):
    sub, _ = subscriptions.create_webhook(team, admin, "https://93.184.216.34/hook", ["finished"])
    page = signed_in(member).get(f"/accounts/teams/{team.pk}/").content.decode()
    assert "Webhooks" not in page and "93.184.216.34" not in page
    form = {"url": "https://93.184.216.34/x", "events": ["finished"],
            "no_improvement_individuals": "5"}  # fmt: skip
    assert signed_in(member).post(f"/accounts/teams/{team.pk}/webhooks/", form).status_code == 403
    delete = f"/accounts/teams/{team.pk}/webhooks/{sub.pk}/delete/"
    assert signed_in(member).post(delete).status_code == 403
    assert signed_in(outsider).post(delete).status_code == 404
    theirs = f"/accounts/teams/{other_team.pk}/webhooks/{sub.pk}/delete/"
    assert signed_in(outsider).post(theirs).status_code == 404  # their team, our webhook
    assert Subscription.objects.count() == 1


def test_a_user_subscribes_to_emails_and_removes_only_their_own(team, member, viewer):
    client = signed_in(member)
    r = client.post("/accounts/settings/notifications/", {
        "team": team.pk, "events": ["finished", "no_improvement"],
        "no_improvement_individuals": "25", "mine_only": "on"})  # fmt: skip
    assert r.status_code == 302
    sub = Subscription.objects.get(user=member)
    assert (sub.events, sub.no_improvement_individuals, sub.mine_only) == (
        ["finished", "no_improvement"], 25, True)  # fmt: skip
    page = client.get("/accounts/settings/").content.decode()
    assert "mia@lab.test" in page and "finished, no_improvement" in page
    r = client.post("/accounts/settings/notifications/", {"team": team.pk, "events": []})
    assert r.status_code == 400 and "Choose at least one event." in r.content.decode()
    other = signed_in(viewer)
    assert other.post(f"/accounts/settings/notifications/{sub.pk}/delete/").status_code == 404
    r = other.post("/accounts/settings/notifications/", {
        "team": 999999, "events": ["finished"], "no_improvement_individuals": "5"})  # fmt: skip
    assert r.status_code == 400 and not Subscription.objects.filter(user=viewer).exists()
    assert client.post(f"/accounts/settings/notifications/{sub.pk}/delete/").status_code == 302
    assert not Subscription.objects.exists()
