"""Honest pages: a viewer (or a user in no team) is offered no create action and is told what
to do instead; unknown ids get the site's styled 404 with its navigation; the pages' JSON
routes answer JSON, 401 to a logged-out client; the 500 page needs no database."""

import pytest
from django.contrib.auth.models import User
from django.test import Client, RequestFactory

from evolab.experiments import services
from evolab.experiments.models import Experiment

JSON_ROUTES = ("snapshot.json", "analytics.json", "individuals/0.json",
               "individuals/0/lineage.json")  # fmt: skip
NAV = '<a href="/experiments/">Experiments</a>'


def client_for(user=None) -> Client:
    c = Client()
    if user:
        c.force_login(user)
    return c


@pytest.fixture
def exp(team, member):
    return services.create_experiment(team, member, "honest", {"population": 2})


def test_a_viewer_is_offered_no_new_experiment_and_no_controls(exp, viewer, member):
    mine = client_for(member).get("/experiments/").content.decode()
    assert 'href="/experiments/new/"' in mine
    for path in ("/experiments/", f"/experiments/{exp.pk}/", "/accounts/teams/"):
        page = client_for(viewer).get(path).content.decode()
        assert 'href="/experiments/new/"' not in page, path
        assert 'data-action="clone"' not in page and "run controls" not in page, path


@pytest.mark.parametrize("who", ["viewer", "nobody"])
def test_the_new_experiment_address_says_what_to_do_instead_of_a_form(who, request, admin):
    user = request.getfixturevalue(who) if who == "viewer" else User.objects.create_user("nobody")
    client = client_for(user)
    page = client.get("/experiments/new/")
    text = page.content.decode()
    assert page.status_code == 200 and "You cannot start runs yet" in text
    assert "Create and start" not in text and 'name="population"' not in text
    assert 'href="/accounts/teams/"' in text  # where to start a team of one's own
    if who == "viewer":
        assert "You are a viewer in <strong>Vision</strong>" in text
        assert "<strong>ada</strong>" in text  # the admin to ask
    else:
        assert "You are in no team yet" in text
    r = client.post("/experiments/new/", {"name": "x", "dataset": "digits"})
    assert r.status_code == 403 and not Experiment.objects.exists()


def test_an_unknown_id_gets_the_styled_404_with_the_navigation(exp, member, outsider):
    for user, path in ((member, "/experiments/999999/"), (outsider, f"/experiments/{exp.pk}/"),
                       (member, "/no/such/page/")):  # fmt: skip
        r = client_for(user).get(path)
        text = r.content.decode()
        assert r.status_code == 404 and 'class="card error-page"' in text, path
        assert NAV in text and "Log out" in text and "Not found" in text
        assert r["Content-Type"].startswith("text/html")


def test_the_pages_json_routes_answer_json_errors(exp, member, outsider):
    for path in JSON_ROUTES:
        r = client_for().get(f"/experiments/{exp.pk}/{path}")
        assert r.status_code == 401 and r.json()["detail"] == "Log in first.", path
        assert r["WWW-Authenticate"] and "Location" not in r
        for user, pk in ((outsider, exp.pk), (member, 999999)):
            r = client_for(user).get(f"/experiments/{pk}/{path}")
            assert r.status_code == 404 and r.json() == {"detail": "Not found."}, path
    r = client_for().get(f"/experiments/{exp.pk}/")  # a page still sends to the login form
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


def test_a_role_too_low_gets_the_styled_403(team, viewer):
    r = client_for(viewer).post(f"/accounts/teams/{team.pk}/invite/", {"role": "viewer"})
    text = r.content.decode()
    assert r.status_code == 403 and 'class="card error-page"' in text and NAV in text


def test_the_500_page_renders_without_the_database_or_a_user():
    # No `db` fixture: pytest-django fails any query, so this proves the page makes none.
    from evolab.api_contract import server_error  # handler500

    page = server_error(RequestFactory().get("/experiments/5/"))
    text = page.content.decode()
    assert page.status_code == 500 and "Something went wrong on our side" in text
    assert NAV in text and 'href="/accounts/login/"' in text
    assert "<script>" not in text and "style=" not in text  # the CSP allows neither
    api = server_error(RequestFactory().get("/api/experiments/5/"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"
