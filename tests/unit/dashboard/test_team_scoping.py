"""Another team's user gets a 404 from every dashboard endpoint; viewers get no controls."""

import pytest
from django.test import Client


def client_for(user):
    c = Client()
    c.force_login(user)
    return c


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/snapshot.json",
        "/analytics.json",
        "/individuals/0.json",
        "/individuals/0/lineage.json",
    ],
)
def test_an_outsider_gets_404_everywhere(exp, birth, outsider, member, path):
    birth(0.5)
    assert client_for(member).get(f"/experiments/{exp.pk}{path}").status_code == 200
    assert client_for(outsider).get(f"/experiments/{exp.pk}{path}").status_code == 404


def test_an_outsider_sees_no_curve_of_another_team_on_compare(exp, birth, outsider):
    birth(0.5)
    page = client_for(outsider).get(f"/experiments/compare/?ids={exp.pk}")
    assert exp.name not in page.content.decode()


def test_a_viewer_sees_no_controls_and_cannot_post_them(exp, viewer, member):
    assert b'data-action="pause"' not in client_for(viewer).get(f"/experiments/{exp.pk}/").content
    assert b'data-action="pause"' in client_for(member).get(f"/experiments/{exp.pk}/").content
    assert (
        client_for(viewer).post(f"/experiments/{exp.pk}/workers/", {"workers": 3}).status_code
        == 404
    )


def test_a_member_sets_workers_from_the_page(exp, member):
    r = client_for(member).post(f"/experiments/{exp.pk}/workers/", {"workers": 3})
    assert r.status_code == 302
    exp.refresh_from_db()
    assert exp.config["workers"] == 3


def test_the_list_filters_by_status_and_text(exp, member):
    page = client_for(member).get("/experiments/?status=finished")
    assert exp.name not in page.content.decode().split("<table")[-1]
    assert f'data-id="{exp.pk}"' in client_for(member).get("/experiments/?q=da").content.decode()
