"""Invitation links: made by team admins, single use, expiring, join with the given role."""

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.html import escape

from evolab.accounts import services
from evolab.accounts.models import Invitation, Membership


def invite_link(client, admin, team, role="viewer") -> str:
    client.force_login(admin)
    r = client.post(f"/accounts/teams/{team.pk}/invite/", {"role": role, "days": 7})
    assert r.status_code == 200
    return r.context["invite_link"].removeprefix("http://testserver")


def test_a_new_colleague_creates_an_account_and_joins_with_the_role(client, admin, team):
    link = invite_link(client, admin, team)
    client.logout()
    assert client.get(link).status_code == 302
    r = client.post(
        "/accounts/invite/",
        {"username": "nia", "password1": "a-long-pass-987", "password2": "a-long-pass-987"},
    )
    assert r.status_code == 302
    assert Membership.objects.get(user__username="nia", team=team).role == "viewer"


def test_a_link_works_only_once(client, admin, team, outsider):
    link = invite_link(client, admin, team, role="member")
    client.force_login(outsider)
    client.get(link)
    assert client.post("/accounts/invite/").status_code == 302
    client.force_login(User.objects.create_user("late", password="x-long-pass-987"))
    client.get(link)
    assert client.post("/accounts/invite/").status_code == 404
    assert not Membership.objects.filter(user__username="late").exists()


def test_an_expired_link_is_refused(client, team, admin):
    _, secret = services.invite(team, "member", admin)
    Invitation.objects.update(expires=timezone.now() - timedelta(seconds=1))
    client.get(f"/accounts/invite/{secret}/")
    assert client.get("/accounts/invite/").status_code == 404


def test_members_cannot_invite_and_other_teams_see_nothing(client, member, outsider, team):
    client.force_login(member)
    assert client.post(f"/accounts/teams/{team.pk}/invite/", {"role": "admin"}).status_code == 403
    client.force_login(outsider)
    assert client.post(f"/accounts/teams/{team.pk}/invite/", {"role": "admin"}).status_code == 404
    assert not Invitation.objects.exists()


def test_open_signup_is_off(client):
    assert client.get("/accounts/signup/").status_code == 404
    assert client.get("/accounts/invite/").status_code == 404
    assert "/accounts/signup/" not in client.get("/accounts/login/").content.decode()


def test_open_signup_can_be_turned_on(client, settings, db):
    settings.EVOLAB_OPEN_SIGNUP = True
    assert 'href="/accounts/signup/"' in client.get("/accounts/login/").content.decode()
    data = {"username": "sam", "password1": "a-long-pass-987", "password2": "a-long-pass-987"}
    assert client.post("/accounts/signup/", data).status_code == 302
    assert User.objects.filter(username="sam").exists()


def test_an_invitation_with_an_invalid_role_says_what_is_wrong(client, admin, team):
    client.force_login(admin)
    r = client.post(f"/accounts/teams/{team.pk}/invite/", {"role": "owner", "days": 99})
    assert r.status_code == 400
    page = r.content.decode()
    for field in ("role", "days"):
        for error in r.context["invite_form"].errors[field]:
            assert escape(error) in page, (field, error)
    assert not Invitation.objects.exists()
