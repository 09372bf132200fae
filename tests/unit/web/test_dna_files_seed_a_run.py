"""DNA files from the pages (issue #18): the new-experiment form's "Start from" group and a
queued run's page take DNA files, each with optional weights of the same name, checked as
the API's import checks one before anything is stored. A good set makes the run with the
seeds as the start of its initial population; one bad file (named, with its reason) makes
nothing; another team's run is a 404; a run and DNA files at once are refused."""

import json
import pickle
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evolab.evolution.dna import DNA
from evolab.experiments import services
from evolab.experiments.models import Experiment, Individual, State, Status
from tests.unit.api.test_seed_imports import seed_dna, weights_for
from tests.unit.web.test_experiment_form import FORM


def dna_upload(name: str, dna: DNA | None = None, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps((dna or seed_dna()).to_json()).encode()
    return SimpleUploadedFile(name, body, content_type="application/json")


def weights_upload(name: str, dna: DNA | None = None, raw: bytes | None = None):
    return SimpleUploadedFile(name, raw if raw is not None else weights_for(dna or seed_dna()))


def stored_files(settings) -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def messages_of(page: str) -> list[str]:
    return re.findall(r'<p class="message (\w+)" role="alert">(.*?)</p>', page, re.S)


def test_the_form_starts_a_run_from_dna_files_with_and_without_weights(client, member):
    client.force_login(member)
    page = client.get("/experiments/new/").content.decode()
    assert 'enctype="multipart/form-data"' in page
    assert re.search(r'<input type="file" name="start-dna"[^>]* multiple', page)
    assert "cat.json takes cat.safetensors" in page  # the help says how they pair
    dna = seed_dna()
    form = {**FORM, "start-dna": [dna_upload("cat.json", dna), dna_upload("plain.json")],
            "start-weights": [weights_upload("cat.safetensors", dna)]}  # fmt: skip
    response = client.post("/experiments/new/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    run = Experiment.objects.get()
    assert run.status == Status.RUNNING and run.individuals_created == 2
    cat, plain = run.individuals.order_by("number")
    assert (cat.number, plain.number) == (0, 1) and cat.state == plain.state == State.TRAINING
    assert DNA.from_json(cat.dna) == dna and cat.weights.startswith(f"experiments/{run.pk}/")
    assert plain.weights == ""  # no weights: trained from scratch
    assert cat.mutation_description == "imported by mia (cat.json)"


BAD = {  # files of the form (made anew for each test), the field, its message
    "dna": (lambda: {"start-dna": [dna_upload("ok.json"), dna_upload("bad.json", raw=b"{no")]},
            "start-dna", "bad.json: invalid DNA"),
    "pickle": (lambda: {"start-dna": [dna_upload("cat.json")], "start-weights": [
        weights_upload("cat.safetensors", raw=pickle.dumps({"w": 1}))]},
               "start-weights", "cat.safetensors: a Python pickle is refused"),
    "unpaired": (lambda: {"start-dna": [dna_upload("cat.json")],
                          "start-weights": [weights_upload("dog.safetensors")]},
                 "start-weights", "dog.safetensors: no DNA file named dog.json"),
    "too many": (lambda: {"start-dna": [dna_upload(f"{n}.json") for n in "abcdefg"]},
                 "start-dna", "7 DNA files for 6 places"),
    "empty": (lambda: {"start-dna": [dna_upload("empty.json", raw=b"")]},
              "start-dna", "empty.json: the file is empty"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_one_bad_file_is_named_on_its_field_and_nothing_is_created(case, client, member, settings):
    files, field, message = BAD[case]
    client.force_login(member)
    response = client.post("/experiments/new/", {**FORM, **files()})
    page = response.content.decode()
    assert response.status_code == 400
    errors = re.findall(rf'<p class="error field-error" id="{field}-error[^"]*">([^<]*)</p>', page)
    assert any(e.startswith(message) for e in errors), errors
    assert not Experiment.objects.exists() and not Individual.objects.exists()
    assert stored_files(settings) == []


def test_a_run_and_dna_files_at_once_are_refused_and_another_teams_run_is_none(
    client, member, team, outsider
):
    source = services.create_experiment(team, member, "source", {"population": 2})
    Experiment.objects.filter(pk=source.pk).update(status=Status.FINISHED)
    client.force_login(member)
    form = {**FORM, "start-run": str(source.pk), "start-dna": [dna_upload("cat.json")]}
    response = client.post("/experiments/new/", form)
    assert response.status_code == 400
    assert "Start from a run or from DNA files, not both" in response.content.decode()
    client.force_login(outsider)  # Vision's run is not among the choices of another team
    response = client.post("/experiments/new/", {**FORM, "start-run": str(source.pk)})
    assert response.status_code == 400 and 'id="start-run-error"' in response.content.decode()
    assert Experiment.objects.count() == 1


@pytest.fixture
def queued(team, member):
    return services.create_experiment(team, member, "queued", {"population": 4})


def test_a_queued_runs_page_imports_dna_files_for_its_members(client, member, queued):
    client.force_login(member)
    page = client.get(f"/experiments/{queued.pk}/").content.decode()
    assert f'action="/experiments/{queued.pk}/seed/"' in page and "4 of 4 places" in page
    dna = seed_dna()
    files = {"seed-dna": [dna_upload("a.json", dna), dna_upload("b.json")],
             "seed-weights": [weights_upload("a.safetensors", dna)]}  # fmt: skip
    page = client.post(f"/experiments/{queued.pk}/seed/", files, follow=True).content.decode()
    assert messages_of(page) == [
        ("success", "Imported into the initial population: #0 (a.json), #1 (b.json).")
    ]
    assert [(i.number, bool(i.weights)) for i in queued.individuals.order_by("number")] == [
        (0, True), (1, False)
    ]  # fmt: skip
    bad = {"seed-dna": [dna_upload("c.json"), dna_upload("d.json", raw=pickle.dumps([]))]}
    page = client.post(f"/experiments/{queued.pk}/seed/", bad, follow=True).content.decode()
    ((level, text),) = messages_of(page)
    assert level == "error" and text.startswith("Nothing was imported: d.json: a Python pickle")
    assert queued.individuals.count() == 2  # c.json, good, did not go in either
    three = {"seed-dna": [dna_upload(f"{n}.json") for n in "efg"]}
    page = client.post(f"/experiments/{queued.pk}/seed/", three, follow=True).content.decode()
    assert "3 DNA files for 2 places left" in messages_of(page)[0][1]
    assert queued.individuals.count() == 2


def test_no_import_for_a_started_run_a_viewer_or_another_team(client, member, viewer, outsider,
                                                               queued):  # fmt: skip
    files = {"seed-dna": [dna_upload("a.json")]}
    for user in (viewer, outsider):
        client.force_login(user)
        assert client.post(f"/experiments/{queued.pk}/seed/", files).status_code == 404
    client.force_login(viewer)
    assert "seed-import" not in client.get(f"/experiments/{queued.pk}/").content.decode()
    Experiment.objects.filter(pk=queued.pk).update(status=Status.RUNNING)
    client.force_login(member)
    assert "seed-import" not in client.get(f"/experiments/{queued.pk}/").content.decode()
    files = {"seed-dna": [dna_upload("a.json")]}
    page = client.post(f"/experiments/{queued.pk}/seed/", files, follow=True).content.decode()
    assert "Nothing was imported: individuals join a run before it starts." in page
    assert not Individual.objects.exists()
