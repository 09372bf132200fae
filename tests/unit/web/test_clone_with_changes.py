"""Clone with changes: the run page's button opens the run form prefilled with the run's
config, dataset and team, named "<name> (2)"; submitting creates the new run, a clone of
the first. Clones are numbered, never "X (clone) (clone)"; a run the user may not clone is
a 404, for the prefill and for the submission alike."""

import re

import pytest
from rest_framework.test import APIClient

from evolab.experiments import services
from evolab.experiments.models import Experiment, Status
from tests.unit.web.test_experiment_form import FORM

CONFIG = {"population": 4, "max_individuals": 8, "steps_per_child": 7, "batch_size": 20,
          "selection": "aging", "sample_size": 3, "target_accuracy": 0.9}  # fmt: skip


@pytest.fixture
def source(team, member):
    return services.create_experiment(team, member, "digits baseline", CONFIG)


def value_of(page: str, name: str) -> str | None:
    tag = re.search(rf'<input [^>]*name="{name}"[^>]*>', page)
    found = tag and re.search(r'value="([^"]*)"', tag.group(0))
    return found.group(1) if found else None


def test_the_run_page_offers_clone_with_changes(client, member, source):
    client.force_login(member)
    page = client.get(f"/experiments/{source.pk}/").content.decode()
    button = re.search(r'<form method="get" action="/experiments/new/">(.*?)</form>', page, re.S)
    assert button and f'name="from" value="{source.pk}"' in button.group(1)
    assert "Clone with changes" in button.group(1)


def test_the_form_opens_prefilled_with_the_runs_settings(client, member, source):
    client.force_login(member)
    page = client.get(f"/experiments/new/?from={source.pk}").content.decode()
    assert "<h1>Clone with changes</h1>" in page and f"#{source.pk} digits baseline" in page
    assert value_of(page, "name") == "digits baseline (2)"
    assert value_of(page, "cloned_from") == str(source.pk)
    for name in ("population", "max_individuals", "steps_per_child", "batch_size", "sample_size",
                 "target_accuracy"):  # fmt: skip
        assert value_of(page, name) == str(CONFIG[name]), name
    assert '<option value="aging" selected>' in page and '<option value="digits" selected>' in page
    assert '<details class="form-group" id="group-advanced" open>' in page  # batch_size: 20


def test_submitting_creates_a_started_clone_with_the_changes(client, member, source):
    client.force_login(member)
    page = client.get(f"/experiments/new/?from={source.pk}").content.decode()
    changed = {**FORM, **CONFIG, "name": value_of(page, "name"), "cloned_from": str(source.pk),
               "selection": "aging", "steps_per_child": "9", "target_accuracy": "95%"}  # fmt: skip
    response = client.post("/experiments/new/", changed)
    assert response.status_code == 302, response.content.decode()[-2000:]
    clone = Experiment.objects.exclude(pk=source.pk).get()
    assert response["Location"] == f"/experiments/{clone.pk}/"
    assert clone.name == "digits baseline (2)" and clone.cloned_from_id == source.pk
    assert clone.status == Status.RUNNING and clone.team_id == source.team_id
    assert clone.config == {**source.config, "steps_per_child": 9, "target_accuracy": 0.95,
                            "workers": 1, "seed": 1}  # fmt: skip
    source.refresh_from_db()
    assert source.config["steps_per_child"] == 7  # the source is unchanged


def test_clones_are_numbered_not_piled_up(team, member, source):
    first = services.clone(source.pk, member)
    second = services.clone(source.pk, member)
    of_a_clone = services.clone(first.pk, member)
    assert [first.name, second.name, of_a_clone.name] == [
        "digits baseline (2)",
        "digits baseline (3)",
        "digits baseline (4)",
    ]
    old = services.create_experiment(team, member, "legacy (clone) (clone)", {})
    assert services.clone(old.pk, member).name == "legacy (2)"
    dated = services.create_experiment(team, member, "sweep (2024)", {})
    assert services.clone(dated.pk, member).name == "sweep (2024) (2)"
    # The API's clone keeps its contract (201, the same config, queued) and its new name.
    r = APIClient()
    r.force_authenticate(member)
    body = r.post(f"/api/experiments/{source.pk}/clone/").json()
    assert body["name"] == "digits baseline (5)" and body["config"] == source.config
    assert body["status"] == "queued"


def test_a_run_you_may_not_clone_is_a_404_and_nothing_is_created(
    client, member, viewer, outsider, source
):
    before = Experiment.objects.count()
    client.force_login(viewer)  # a viewer only: the page that says what to do instead
    assert client.get(f"/experiments/new/?from={source.pk}").templates[0].name == (
        "experiments/new_unavailable.html"
    )
    r = client.post("/experiments/new/", {**FORM, "cloned_from": str(source.pk)})
    assert r.status_code == 403
    client.force_login(outsider)  # another team's admin: no such run for them
    assert client.get(f"/experiments/new/?from={source.pk}").status_code == 404
    r = client.post("/experiments/new/", {**FORM, "cloned_from": str(source.pk)})
    assert r.status_code == 404
    client.force_login(member)
    for bad in ("999999", "abc", "1²", "-1"):
        assert client.get(f"/experiments/new/?from={bad}").status_code == 404, bad
    assert Experiment.objects.count() == before


def test_a_clone_of_a_run_whose_dataset_is_gone_does_not_switch_it_silently(
    client, member, team, source
):
    Experiment.objects.filter(pk=source.pk).update(config={**source.config, "dataset": "upload:77"})
    client.force_login(member)
    page = client.get(f"/experiments/new/?from={source.pk}").content.decode()
    gone = '<option value="upload:77" selected disabled>upload:77 — not available here any more'
    assert gone in page
    response = client.post("/experiments/new/", {**FORM, "cloned_from": str(source.pk),
                                                  "dataset": ""})  # fmt: skip
    assert response.status_code == 400 and 'id="dataset-error"' in response.content.decode()
    assert Experiment.objects.count() == 1
