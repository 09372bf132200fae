"""Experiments over the API: create with the form's validation, roles, filters, events."""

from evolab.experiments import services
from evolab.experiments.models import Experiment

from .conftest import api, store_individual

CONFIG = {"dataset": "digits", "population": 3, "max_individuals": 5, "steps_per_child": 5}


def test_a_member_of_one_team_creates_a_run_without_naming_the_team(member, team):
    r = api(member).post("/api/experiments/", {"name": "a", "config": CONFIG}, format="json")
    body = r.json()
    assert r.status_code == 201 and body["status"] == "queued" and body["team"] == team.pk
    assert {"id", "name", "status", "config", "individuals_trained", "best"} <= set(body)
    assert body["best"] == {"id": None, "val_accuracy": None}


def test_a_bad_config_is_a_400_with_field_errors_and_creates_nothing(member):
    bad = {**CONFIG, "population": 0, "selection": "best"}
    r = api(member).post("/api/experiments/", {"name": "a", "config": bad}, format="json")
    assert r.status_code == 400
    assert {"population", "selection"} <= set(r.json()["config"])
    assert not Experiment.objects.exists()


def test_a_blank_name_is_a_field_error(member):
    r = api(member).post("/api/experiments/", {"name": "  ", "config": CONFIG}, format="json")
    assert r.status_code == 400 and "name" in r.json()


def test_viewers_cannot_create_or_control_but_can_read(viewer, exp):
    client = api(viewer)
    r = client.post("/api/experiments/", {"name": "a", "config": CONFIG}, format="json")
    assert r.status_code == 400 and "team" in r.json()
    assert client.post(f"/api/experiments/{exp.pk}/stop/").status_code == 403
    assert client.get(f"/api/experiments/{exp.pk}/").status_code == 200


def test_another_team_gets_404_everywhere(outsider, exp):
    client = api(outsider)
    for verb in ("start", "pause", "resume", "stop", "clone"):
        assert client.post(f"/api/experiments/{exp.pk}/{verb}/").status_code == 404
    assert client.get(f"/api/experiments/{exp.pk}/events/").status_code == 404
    assert client.get("/api/experiments/").json()["count"] == 0


def test_a_member_stops_and_clones_and_a_bad_transition_is_409(member, exp):
    client = api(member)
    assert client.post(f"/api/experiments/{exp.pk}/stop/").json()["status"] == "stopped"
    assert client.post(f"/api/experiments/{exp.pk}/pause/").status_code == 409
    clone = client.post(f"/api/experiments/{exp.pk}/clone/")
    assert clone.status_code == 201 and clone.json()["config"] == exp.config


def test_the_list_filters_by_status_and_orders(member, team, exp):
    services.create_experiment(team, member, "b", CONFIG)
    Experiment.objects.filter(pk=exp.pk).update(status="finished")
    client = api(member)
    assert [e["id"] for e in client.get("/api/experiments/?status=finished").json()["results"]] == [
        exp.pk
    ]
    names = [e["name"] for e in client.get("/api/experiments/?ordering=name").json()["results"]]
    assert names == ["api", "b"]


def test_individuals_filter_by_state_accuracy_and_mutation(member, exp):
    first = store_individual(exp, 0, 0.4)
    store_individual(exp, 1, 0.8, parent=first)
    client = api(member)
    url = f"/api/experiments/{exp.pk}/individuals/"
    assert [i["number"] for i in client.get(url + "?min_accuracy=0.5").json()["results"]] == [1]
    assert client.get(url + "?mutation=ALTER-LR").json()["count"] == 1
    assert client.get(url + "?state=dead").json()["count"] == 0
    ranked = client.get(url + "?ordering=-val_accuracy").json()["results"]
    assert [i["number"] for i in ranked] == [1, 0]
    assert client.get(url + "?state=zombie").status_code == 400


def test_an_individual_has_its_dna_parent_and_weights_size(member, exp):
    first = store_individual(exp, 0)
    child = store_individual(exp, 1, parent=first)
    body = api(member).get(f"/api/individuals/{child.pk}/").json()
    assert body["parent"] == first.pk and body["mutation"] == "ALTER-LR"
    assert body["dna"]["vertices"] and body["weights_size"] > 0 and body["has_weights"]
    for key in ("state", "val_accuracy", "test_accuracy", "flops", "params"):
        assert key in body


def test_events_after_a_sequence_number(member, exp):
    services.control(exp.pk, "stop")
    body = api(member).get(f"/api/experiments/{exp.pk}/events/?after=0").json()
    assert body["events"][0]["seq"] == 1 and body["last_seq"] == 1
    bad = api(member).get(f"/api/experiments/{exp.pk}/events/?after=x")
    assert bad.status_code == 400


def test_teams_list_shows_only_mine_with_my_role(member, outsider):
    body = api(member).get("/api/teams/").json()
    assert [(t["name"], t["role"]) for t in body["results"]] == [("Vision", "member")]
