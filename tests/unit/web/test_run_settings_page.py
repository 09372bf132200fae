"""Edit settings of a run that has not started: the run form prefilled with the run's name
and settings; saving changes that run (checked as at creation, all or nothing). Once it has
started the page is a 409 that says why; a viewer gets a 403, another team a 404."""

import pytest

from evolab.experiments import services
from evolab.experiments.models import Event, Experiment
from tests.unit.web.test_clone_with_changes import value_of
from tests.unit.web.test_experiment_form import FORM

CONFIG = {"population": 4, "max_individuals": 8, "steps_per_child": 7, "seed": 3}


@pytest.fixture
def draft(team, member):
    return services.create_experiment(team, member, "draft", CONFIG)  # start=False: queued


def url(exp) -> str:
    return f"/experiments/{exp.pk}/settings/"


def stored(exp) -> tuple:
    exp = Experiment.objects.get(pk=exp.pk)
    return exp.name, exp.config, exp.dataset_split, exp.last_seq


def test_a_queued_runs_page_offers_edit_settings_to_members_only(client, member, viewer, draft):
    client.force_login(member)
    assert f'action="{url(draft)}"' in client.get(f"/experiments/{draft.pk}/").content.decode()
    client.force_login(viewer)
    assert url(draft) not in client.get(f"/experiments/{draft.pk}/").content.decode()
    services.control(draft.pk, "start")
    client.force_login(member)
    assert url(draft) not in client.get(f"/experiments/{draft.pk}/").content.decode()


def test_the_form_opens_with_the_runs_settings_and_saving_changes_the_run(client, member, draft):
    client.force_login(member)
    page = client.get(url(draft)).content.decode()
    assert "<h1>Edit settings</h1>" in page and value_of(page, "name") == "draft"
    for name in ("population", "max_individuals", "steps_per_child", "seed"):
        assert value_of(page, name) == str(CONFIG[name]), name
    body = {**FORM, "name": "draft b", "population": "5", "max_individuals": "10", "seed": "4"}
    r = client.post(url(draft), body)
    assert r.status_code == 302 and r["Location"] == f"/experiments/{draft.pk}/"
    exp = Experiment.objects.get(pk=draft.pk)
    assert (exp.name, exp.config["population"], exp.config["max_individuals"]) == ("draft b", 5, 10)
    assert exp.dataset_split["seed"] == 4 and exp.status == "queued"  # the split recorded anew
    assert Experiment.objects.count() == 1  # the run itself, not a copy
    edited = Event.objects.get(experiment=exp, kind="edited").data
    assert edited["name"] == "draft b" and edited["config"]["population"] == 5


def test_bad_settings_are_named_and_change_nothing(client, member, draft):
    client.force_login(member)
    before = stored(draft)
    r = client.post(url(draft), {**FORM, "population": "9", "max_individuals": "4"})
    page = r.content.decode()
    assert r.status_code == 400 and "Nothing was changed" in page
    assert 'id="max_individuals-error"' in page
    r = client.post(url(draft), {**FORM, "name": "  "})
    assert r.status_code == 400 and 'id="name-error"' in r.content.decode()
    assert stored(draft) == before


def test_once_started_the_settings_page_is_a_409_that_says_why(client, member, draft):
    services.control(draft.pk, "start")
    client.force_login(member)
    before = stored(draft)
    for r in (client.get(url(draft)), client.post(url(draft), {**FORM, "seed": "9"})):
        assert r.status_code == 409
        assert "cannot change once it has started (it is running)" in r.content.decode()
    assert stored(draft) == before


def test_viewers_get_403_other_teams_404_and_logged_out_users_the_login(
    client, viewer, outsider, draft
):
    before = stored(draft)
    client.force_login(viewer)
    assert client.get(url(draft)).status_code == 403
    assert client.post(url(draft), {**FORM, "seed": "9"}).status_code == 403
    client.force_login(outsider)
    for method in (client.get, client.post):
        theirs, nobodys = method(url(draft)), method("/experiments/987654/settings/")
        assert theirs.status_code == nobodys.status_code == 404
    client.logout()
    for method in (client.get, client.post):
        r = method(url(draft))
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert stored(draft) == before
