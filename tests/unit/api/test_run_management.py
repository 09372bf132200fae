"""PATCH /api/experiments/<id>/: rename, notes, tags, archive, and the settings of a run that
has not started; all or nothing, by the team's members and admins only."""

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from evolab.accounts.services import create_token
from evolab.experiments import sender, services
from evolab.experiments.events import group_name
from evolab.experiments.models import Event, Experiment

from .conftest import api

CONFIG = {"dataset": "digits", "population": 3, "max_individuals": 5, "steps_per_child": 5}


def patch(user, exp_id, body):
    return api(user).patch(f"/api/experiments/{exp_id}/", body, format="json")


def state(exp_id) -> tuple:
    exp = Experiment.objects.get(pk=exp_id)
    tags = sorted(exp.tag_rows.values_list("name", flat=True))
    return exp.name, exp.notes, tags, exp.archived, exp.config, exp.status


def test_a_member_renames_annotates_tags_and_archives(member, exp):
    body = {"name": " renamed ", "notes": "# Plan\n<b>x</b>", "tags": ["Baseline", "lr:0.1",
            "baseline"], "archived": True}  # fmt: skip
    r = patch(member, exp.pk, body)
    assert r.status_code == 200, r.json()
    got = r.json()
    assert (got["name"], got["notes"], got["tags"], got["archived"]) == (
        "renamed",
        "# Plan\n<b>x</b>",
        ["baseline", "lr:0.1"],
        True,
    )
    assert state(exp.pk)[:4] == ("renamed", "# Plan\n<b>x</b>", ["baseline", "lr:0.1"], True)
    r = patch(member, exp.pk, {"tags": ["seed-2"], "archived": False})
    assert r.json()["tags"] == ["seed-2"] and r.json()["archived"] is False
    assert api(member).get(f"/api/experiments/{exp.pk}/").json()["tags"] == ["seed-2"]


REFUSED = [({"name": "ok", "status": "finished"}, "status"), ({"name": "   "}, "name"),
           ({"tags": ["two words"]}, "tags"), ({"tags": ["x" * 33]}, "tags"),
           ({"tags": [f"t{i}" for i in range(21)]}, "tags"), ({"tags": "solo"}, "tags"),
           ({"notes": "x" * 20_001}, "notes"), ({"notes": "a\x00b"}, "notes"),
           ({"archived": "yes"}, "archived"), ({"name": "ok", "config": {"population": 0}},
           "config"), ({"config": {"dataset": "nope"}}, "config"),
           ({"config": {"colour": 1}}, "config")]  # fmt: skip


def test_a_refused_field_is_a_400_naming_it_and_nothing_changes(member, exp):
    before = state(exp.pk)
    for body, field in REFUSED:
        r = patch(member, exp.pk, body)
        assert r.status_code == 400 and field in r.json(), (body, r.json())
        assert state(exp.pk) == before, body


def test_settings_change_before_the_start_and_are_checked_as_at_creation(member, exp):
    r = patch(member, exp.pk, {"config": {"population": 3, "max_individuals": 9, "seed": 7}})
    assert r.status_code == 200, r.json()
    config = Experiment.objects.get(pk=exp.pk).config
    assert (config["population"], config["max_individuals"], config["seed"]) == (3, 9, 7)
    assert config["steps_per_child"] == exp.config["steps_per_child"]  # the rest kept
    assert Experiment.objects.get(pk=exp.pk).dataset_split["seed"] == 7  # recorded anew
    r = patch(member, exp.pk, {"config": {"population": 20}})  # above max_individuals 9
    assert r.status_code == 400 and "max_individuals" in r.json()["config"]


def test_settings_are_refused_with_a_409_once_the_run_has_started(member, exp):
    services.control(exp.pk, "stop")
    before = state(exp.pk)
    r = patch(member, exp.pk, {"name": "new", "config": {"seed": 3}})
    assert r.status_code == 409 and "started" in r.json()["detail"]
    assert state(exp.pk) == before
    assert patch(member, exp.pk, {"name": "new"}).status_code == 200  # the rest still may


def test_viewers_outsiders_and_strangers_change_nothing(viewer, outsider, exp):
    before = state(exp.pk)
    for method in ("patch", "delete"):
        r = getattr(api(viewer), method)(f"/api/experiments/{exp.pk}/", {"name": "v"}, "json")
        assert r.status_code == 403, method
        mine = getattr(api(outsider), method)(f"/api/experiments/{exp.pk}/", {"name": "o"}, "json")
        none = getattr(api(outsider), method)("/api/experiments/987654/", {"name": "o"}, "json")
        assert mine.status_code == none.status_code == 404 and mine.json() == none.json()
        anonymous = getattr(api(), method)(f"/api/experiments/{exp.pk}/", {"name": "a"}, "json")
        assert anonymous.status_code == 401
    assert state(exp.pk) == before


def test_a_token_works_as_the_session_does(member, exp, client):
    key = create_token(member, "script")[1]
    r = client.patch(
        f"/api/experiments/{exp.pk}/",
        {"tags": ["from-cli"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert r.status_code == 200 and r.json()["tags"] == ["from-cli"]


def test_the_page_shows_notes_to_viewers_and_the_controls_to_members(member, viewer, exp, client):
    patch(member, exp.pk, {"notes": "</script><script>alert(1)</script>", "tags": ["a1"]})
    client.force_login(viewer)
    page = client.get(f"/experiments/{exp.pk}/").content.decode()
    assert 'id="notes-source"' in page and "</script><script>alert(1)" not in page
    assert 'data-tag="a1"' in page and 'id="delete"' not in page and 'id="rename"' not in page
    client.force_login(member)
    page = client.get(f"/experiments/{exp.pk}/").content.decode()
    assert 'id="delete"' in page and 'id="rename"' in page and 'id="notes-edit"' in page


def test_an_edit_is_sent_to_the_runs_open_pages(
    member, exp, monkeypatch, django_capture_on_commit_callbacks
):
    """PATCH logs an `edited` event with the run as it now is and, after commit, sends it to
    the run's group on the channel layer (the unit tests' in-memory one), as the pages get it."""
    fresh = sender.EventSender()  # its loop takes this test's layer (the process's kept its first)
    monkeypatch.setattr(sender, "sender", fresh)
    layer = get_channel_layer()
    page = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group_name(exp.pk), page)
    with django_capture_on_commit_callbacks(execute=True):
        r = patch(member, exp.pk, {"name": "renamed live", "tags": ["Live"], "notes": "n"})
    assert r.status_code == 200
    fresh.drain()
    message = async_to_sync(asyncio.wait_for)(layer.receive(page), 5)
    assert message["type"] == "evolab.event" and message["event"]["kind"] == "edited"
    data = message["event"]["data"]
    assert (data["id"], data["name"], data["tags"], data["notes"]) == (
        exp.pk, "renamed live", ["live"], "n")  # fmt: skip
    assert data["archived"] is False and data["config"] == exp.config
    logged = Event.objects.get(experiment=exp, seq=message["event"]["seq"])
    assert logged.to_message() == message["event"]
