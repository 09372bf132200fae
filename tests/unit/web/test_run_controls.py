"""Run controls through the API: workers while running, escape knobs, pin, role checks."""

import pytest
from rest_framework.test import APIClient

from evolab.experiments import services
from evolab.experiments.models import Chain, Individual, Status


@pytest.fixture
def exp(team, member):
    return services.create_experiment(team, member, "controls", {"population": 4})


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_changing_workers_of_a_paused_run_changes_its_config(exp, member):
    r = api(member).post(f"/api/experiments/{exp.pk}/workers/", {"workers": 5}, format="json")
    assert r.status_code == 200 and r.json()["config"]["workers"] == 5


def test_fewer_workers_on_a_running_run_trims_its_chains(
    exp, member, django_capture_on_commit_callbacks
):
    for slot in range(3):
        Chain.objects.create(
            experiment=exp,
            slot=slot,
            token=f"00000000-0000-0000-0000-00000000000{slot}",
            state="running",
        )
    exp.status = Status.RUNNING
    exp.save()
    api(member).post(f"/api/experiments/{exp.pk}/workers/", {"workers": 1}, format="json")
    assert list(Chain.objects.filter(experiment=exp).values_list("slot", flat=True)) == [0]


def test_bad_worker_counts_are_refused_with_a_field_error(exp, member):
    for bad in (0, "many", 10**6):
        r = api(member).post(f"/api/experiments/{exp.pk}/workers/", {"workers": bad}, format="json")
        assert r.status_code == 400 and "workers" in r.json()
    exp.refresh_from_db()
    assert exp.config["workers"] == 2


def test_escape_knobs_boost_mutations_and_reset_living_weights(exp, member):
    Individual.objects.create(experiment=exp, number=0, dna={}, state="alive")
    Individual.objects.create(experiment=exp, number=1, dna={}, state="dead")
    r = api(member).post(
        f"/api/experiments/{exp.pk}/escape/",
        {"boost_children": 7, "reset_weights": True},
        format="json",
    )
    assert r.status_code == 200 and r.json() == {"boost_children": 7, "reset": 1}
    exp.refresh_from_db()
    assert exp.boost_remaining == 7
    assert list(exp.individuals.values_list("number", "weights_reset")) == [(0, True), (1, False)]


def test_viewers_cannot_control_runs(exp, viewer):
    client = api(viewer)
    for path, body in (
        ("workers/", {"workers": 3}),
        ("escape/", {"boost_children": 1}),
        ("pause/", {}),
        ("clone/", {}),
    ):
        assert (
            client.post(f"/api/experiments/{exp.pk}/{path}", body, format="json").status_code == 403
        )
    exp.refresh_from_db()
    assert exp.config["workers"] == 2 and exp.boost_remaining == 0


def test_another_team_gets_404_not_403(exp, outsider):
    r = api(outsider).post(f"/api/experiments/{exp.pk}/workers/", {"workers": 3}, format="json")
    assert r.status_code == 404


def test_pinning_keeps_weights_and_can_be_undone(exp, member):
    ind = Individual.objects.create(experiment=exp, number=0, dna={}, state="dead")
    assert api(member).post(f"/api/individuals/{ind.pk}/pin/").json()["pinned"] is True
    ind.refresh_from_db()
    assert ind.pinned
    api(member).delete(f"/api/individuals/{ind.pk}/pin/")
    ind.refresh_from_db()
    assert not ind.pinned


def test_the_page_starts_a_queued_clone_and_refuses_unknown_actions(
    exp, member, client, django_capture_on_commit_callbacks
):
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=False):  # no broker in unit tests
        r = client.post(f"/experiments/{exp.pk}/start/")
    assert r.status_code == 302
    exp.refresh_from_db()
    assert exp.status == Status.RUNNING
    r = client.post(f"/experiments/{exp.pk}/explode/", follow=True)
    assert r.status_code == 200 and "Unknown action" in r.content.decode()
