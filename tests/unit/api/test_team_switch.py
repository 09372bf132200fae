"""The header's team switcher keeps the current team in the session."""

from evolab.accounts.models import Membership
from evolab.accounts.services import CURRENT_TEAM_SESSION_KEY


def test_switching_stores_the_team_and_the_header_shows_it(client, member, team, other_team):
    Membership.objects.create(user=member, team=other_team, role="viewer")
    client.force_login(member)
    r = client.post("/accounts/teams/switch/", {"team": other_team.pk, "next": "/accounts/teams/"})
    assert r.status_code == 302 and r["Location"] == "/accounts/teams/"
    assert client.session[CURRENT_TEAM_SESSION_KEY] == other_team.pk
    page = client.get("/accounts/teams/").content.decode()
    assert f'<option value="{other_team.pk}" selected>' in page


def test_a_team_one_is_not_in_cannot_be_picked(client, member, other_team):
    client.force_login(member)
    client.post("/accounts/teams/switch/", {"team": other_team.pk})
    assert CURRENT_TEAM_SESSION_KEY not in client.session


def test_switching_never_redirects_off_site(client, member, team):
    client.force_login(member)
    r = client.post("/accounts/teams/switch/", {"team": team.pk, "next": "https://evil.example/"})
    assert r["Location"] == "/experiments/"
