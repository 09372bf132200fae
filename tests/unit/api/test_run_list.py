"""The list of runs, in the API and on the page: sorted by any column, filtered by tag,
status, dataset, text and archived, paged on the server; a bad value is a 400 with a
message, never a 500."""

from django.test import Client

from evolab.experiments import editing
from evolab.experiments.api_filters import EXPERIMENT_ORDERING
from evolab.experiments.models import Experiment

from .conftest import api

CONFIG = {"dataset": "digits", "population": 2, "max_individuals": 4}


def runs(team, member, count: int) -> list[int]:
    """`count` runs straight into the table (create_experiment's split per run is slow)."""
    base = Experiment.objects.create(team=team, creator=member, name="run 0", config=CONFIG)
    rows = [Experiment(team=team, creator=member, name=f"Run {i}", config={**CONFIG,
            "dataset": "mnist" if i % 3 else "digits"}, individuals_trained=i,
            best_val_accuracy=None if i % 4 == 0 else i / 100, status="finished" if i % 2
            else "queued") for i in range(1, count)]  # fmt: skip
    return [base.pk, *(e.pk for e in Experiment.objects.bulk_create(rows))]


def ids(client, query: str) -> list[int]:
    r = client.get(f"/api/experiments/?{query}")
    assert r.status_code == 200, (query, r.json())
    return [row["id"] for row in r.json()["results"]]


def test_every_column_sorts_both_ways_and_pages_never_overlap(member, team):
    made = set(runs(team, member, 12))
    client = api(member)
    for key in EXPERIMENT_ORDERING:
        for term in (key, f"-{key}"):
            paged = [ids(client, f"ordering={term}&limit=5&offset={at}") for at in (0, 5, 10)]
            flat = [pk for page in paged for pk in page]
            assert sorted(flat) == sorted(made), term  # each run once, none lost
    names = [r["name"] for r in client.get("/api/experiments/?ordering=name").json()["results"]]
    assert names[:3] == ["run 0", "Run 1", "Run 10"]  # case-insensitive
    best = client.get("/api/experiments/?ordering=-best_val_accuracy").json()["results"]
    accuracies = [r["best"]["val_accuracy"] for r in best]
    assert accuracies[0] == 0.11 and accuracies[-1] is None  # no value last
    status = [
        r["status"] for r in client.get("/api/experiments/?ordering=status").json()["results"]
    ]
    assert status == sorted(status, key=["queued", "finished"].index)  # life-cycle order


def test_filters_by_tag_dataset_text_status_and_archived(member, team):
    first, second, third, *_ = runs(team, member, 6)
    editing.update_experiment(first, {"tags": ["Baseline"], "notes": "lr sweep on digits"})
    editing.update_experiment(second, {"tags": ["baseline", "x"], "archived": True})
    client = api(member)
    assert ids(client, "tag=BASELINE") == [first]  # the archived one is hidden
    assert ids(client, "tag=baseline&archived=true") == [second]
    assert set(ids(client, "tag=baseline&archived=any")) == {first, second}
    assert ids(client, "q=LR%20SWEEP") == [first]
    assert set(ids(client, "dataset=mnist&status=finished")) == {
        e.pk
        for e in Experiment.objects.filter(
            config__dataset="mnist", status="finished", archived=False
        )
    }
    assert third in ids(client, "dataset=mnist") and first not in ids(client, "dataset=mnist")
    for bad in ("tag=two%20words", "archived=maybe", "ordering=colour", "ordering=-", "q=" + "x" *
                201, "dataset=" + "d" * 121, "status=zombie", "tag=a&tag=b"):  # fmt: skip
        r = client.get(f"/api/experiments/?{bad}")
        assert r.status_code == 400 and bad.split("=")[0] in r.json(), bad


def test_the_page_sorts_filters_pages_and_says_what_it_refused(member, team):
    made = runs(team, member, 55)
    editing.update_experiment(made[7], {"archived": True, "tags": ["old"]})
    web = Client()
    web.force_login(member)
    page = web.get("/experiments/").content.decode()
    assert page.count('<tr data-id="') == 50 and "page 1 of 2 · 54 runs" in page
    assert f'data-id="{made[7]}"' not in page and 'href="?page=2"' in page
    second = web.get("/experiments/?page=2").content.decode()
    assert second.count('<tr data-id="') == 4
    by_name = web.get("/experiments/?ordering=-name").content.decode()
    assert 'aria-sort="descending"' in by_name and 'href="?ordering=name"' in by_name
    assert by_name.index(f'data-id="{made[9]}"') < by_name.index(f'data-id="{made[54]}"')
    archived = web.get("/experiments/?archived=true&tag=old").content.decode()
    assert archived.count('<tr data-id="') == 1 and "archived: hidden" not in archived
    assert '<span class="badge archived">archived</span>' in archived
    bad = web.get("/experiments/?ordering=colour&status=zombie")
    text = bad.content.decode()
    assert bad.status_code == 400 and "ordering: Order by created" in text and "status:" in text
    assert '<tr data-id="' not in text
