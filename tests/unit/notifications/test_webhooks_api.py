"""/api/teams/<id>/webhooks/: team admins manage the team's webhooks (the secret shown once,
at creation); viewers and members get 403; another team's, or an unknown id, 404;
anonymous 401. A refused URL is a 400 naming why, and changes nothing."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from evolab.notifications import services as subscriptions
from evolab.notifications.models import Attempt, Delivery, Subscription

PUBLIC = "https://93.184.216.34/evolab"


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def hooks(team) -> str:
    return f"/api/teams/{team.pk}/webhooks/"


@pytest.fixture(autouse=True)
def public_only(settings):
    settings.EVOLAB_WEBHOOK_ALLOW_PRIVATE = False


def test_an_admin_creates_lists_changes_and_deletes_a_webhook(team, admin):
    client = api(admin)
    r = client.post(hooks(team), {"url": PUBLIC, "events": ["finished", "no_improvement"],
                                  "no_improvement_individuals": 40}, format="json")  # fmt: skip
    assert r.status_code == 201, r.json()
    created = r.json()
    assert created["secret"].startswith("whsec_") and r["Cache-Control"] == "no-store"
    assert created["events"] == ["finished", "no_improvement"] and created["created_by"] == "ada"
    assert Subscription.objects.get(pk=created["id"]).secret == created["secret"]
    listed = client.get(hooks(team)).json()
    assert [w["id"] for w in listed] == [created["id"]] and "secret" not in listed[0]
    url = f"{hooks(team)}{created['id']}/"
    assert "secret" not in client.get(url).json()
    r = client.patch(url, {"active": False, "events": ["failed"]}, format="json")
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["events"] == ["failed"]
    assert client.delete(url).status_code == 204
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    "body,field,message",
    [
        ({"url": "http://169.254.169.254/latest/meta-data/"}, "url", "link-local address"),
        ({"url": "http://localhost:8000/"}, "url", "localhost resolves to 127.0.0.1"),
        ({"events": ["exploded"]}, "events", "is not a valid choice"),
        ({"events": []}, "events", "at least 1"),
        ({"no_improvement_individuals": 0}, "no_improvement_individuals", "greater than"),
    ],
)
def test_a_refused_value_is_a_400_that_says_why_and_changes_nothing(team, admin, body, field,
                                                                    message):  # fmt: skip
    client = api(admin)
    sub, _ = subscriptions.create_webhook(team, admin, PUBLIC, ["finished"])
    r = client.post(hooks(team), {"url": PUBLIC, "events": ["finished"], **body}, format="json")
    assert r.status_code == 400 and message in str(r.json()[field]), r.json()
    r = client.patch(f"{hooks(team)}{sub.pk}/", body, format="json")
    assert r.status_code == 400 and message in str(r.json()[field]), r.json()
    assert list(Subscription.objects.values_list("url", "events")) == [(PUBLIC, ["finished"])]


def test_viewers_and_members_may_not_manage_and_others_find_nothing(
    team, admin, member, viewer, other_team, outsider
):
    sub, _ = subscriptions.create_webhook(team, admin, PUBLIC, ["finished"])
    theirs, _ = subscriptions.create_webhook(other_team, outsider, PUBLIC, ["finished"])
    item, body = f"{hooks(team)}{sub.pk}/", {"url": PUBLIC, "events": ["failed"]}
    for user in (member, viewer):
        client = api(user)
        assert client.get(hooks(team)).status_code == 403
        assert client.post(hooks(team), body, format="json").status_code == 403
        assert client.get(item).status_code == 403
        assert client.patch(item, body, format="json").status_code == 403
        assert client.delete(item).status_code == 403
        assert client.get(f"{item}deliveries/").status_code == 403
    outsider_client = api(outsider)
    for url in (hooks(team), item, f"{item}deliveries/", "/api/teams/999999/webhooks/"):
        assert outsider_client.get(url).status_code == 404
    assert outsider_client.delete(item).status_code == 404
    # Their own team's route does not reach our webhook, nor ours theirs.
    assert outsider_client.get(f"{hooks(other_team)}{sub.pk}/").status_code == 404
    assert api(admin).get(f"{hooks(team)}{theirs.pk}/").status_code == 404
    assert api().get(hooks(team)).status_code == 401
    assert Subscription.objects.count() == 2


def test_the_delivery_log_shows_each_attempt(team, admin, member):
    from evolab.experiments import services

    sub, _ = subscriptions.create_webhook(team, admin, PUBLIC, ["finished"])
    exp = services.create_experiment(team, member, "logged", {"population": 2})
    row = Delivery.objects.create(subscription=sub, experiment=exp, event="finished")
    Attempt.objects.create(delivery=row, number=1, status_code=500, error="HTTP 500", retry_in=10)
    Attempt.objects.create(delivery=row, number=2, ok=True, status_code=200)
    log = api(admin).get(f"{hooks(team)}{sub.pk}/deliveries/").json()
    assert [(a["attempt"], a["ok"], a["status_code"], a["error"], a["event"]) for a in log] == [
        (2, True, 200, "", "finished"), (1, False, 500, "HTTP 500", "finished")]  # fmt: skip
    assert log[0]["experiment"] == exp.pk
