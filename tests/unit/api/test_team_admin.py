"""Team admins change roles, remove members and rename the team; a team keeps an admin."""

from evolab.accounts.models import Membership


def test_an_admin_changes_a_role(client, admin, member, team):
    client.force_login(admin)
    client.post(f"/accounts/teams/{team.pk}/members/{member.pk}/role/", {"role": "viewer"})
    assert Membership.objects.get(user=member).role == "viewer"


def test_an_admin_removes_a_member(client, admin, member, team):
    client.force_login(admin)
    client.post(f"/accounts/teams/{team.pk}/members/{member.pk}/remove/")
    assert not Membership.objects.filter(user=member).exists()


def test_the_last_admin_cannot_leave_or_step_down(client, admin, team):
    client.force_login(admin)
    client.post(f"/accounts/teams/{team.pk}/members/{admin.pk}/role/", {"role": "member"})
    client.post(f"/accounts/teams/{team.pk}/members/{admin.pk}/remove/")
    assert Membership.objects.get(user=admin).role == "admin"


def test_members_see_the_list_but_cannot_manage(client, member, viewer, team):
    client.force_login(member)
    page = client.get(f"/accounts/teams/{team.pk}/")
    assert page.status_code == 200 and "vic" in page.content.decode()
    url = f"/accounts/teams/{team.pk}/members/{viewer.pk}/role/"
    assert client.post(url, {"role": "admin"}).status_code == 403
    assert client.post(f"/accounts/teams/{team.pk}/settings/", {"name": "X"}).status_code == 403


def test_another_teams_admin_gets_404(client, outsider, member, team):
    client.force_login(outsider)
    assert client.get(f"/accounts/teams/{team.pk}/").status_code == 404
    url = f"/accounts/teams/{team.pk}/members/{member.pk}/remove/"
    assert client.post(url).status_code == 404
    assert Membership.objects.filter(user=member).exists()


def test_an_admin_renames_the_team(client, admin, team):
    client.force_login(admin)
    client.post(f"/accounts/teams/{team.pk}/settings/", {"name": "Vision lab"})
    team.refresh_from_db()
    assert team.name == "Vision lab"


def test_anyone_logged_in_starts_a_team_and_is_its_admin(client, viewer):
    client.force_login(viewer)
    assert client.post("/accounts/teams/new/", {"name": "Audio"}).status_code == 302
    assert Membership.objects.get(user=viewer, team__name="Audio").role == "admin"
    assert client.post("/accounts/teams/new/", {"name": "Vision"}).status_code == 400
