"""Warm starts (issue #18, item 5): a new run's initial population seeded from another run of
its team, alive or best k, through the API; the seeds' origin in the lineage, their weights
copied; another team's run a 404 like none, another input shape a 400, nothing created."""

import pytest
from django.core.files.storage import default_storage

from evolab.evolution.step import TrainedChild
from evolab.experiments import claims, commits, services, warmstart
from evolab.experiments.models import Experiment, Individual, State, Status

from .conftest import api

P = 4
ACCURACIES = (0.5, 0.9, 0.7, 0.9)  # #1 and #3 tie: the younger (#3) ranks first


def trained(acc: float, number: int) -> TrainedChild:
    return TrainedChild(
        val_accuracy=acc, flops=1.0, params=1, steps=3, train_seconds=0.1,
        weights=f"weights of #{number}".encode(),
    )  # fmt: skip


@pytest.fixture
def source(team, member):
    """A finished run of P trained individuals, through the claims and commits of a real
    run (weights in storage); one more child conceived and trained kills one of them."""
    exp = services.create_experiment(
        team, member, "source", {"population": P, "max_individuals": P + 1, "seed": 2}
    )
    Experiment.objects.filter(pk=exp.pk).update(status=Status.RUNNING)
    for n in range(P + 1):
        claim = claims.claim(exp.pk, "w")
        assert commits.commit(claim, trained(ACCURACIES[n] if n < P else 0.6, n))
    Experiment.objects.filter(pk=exp.pk).update(status=Status.FINISHED)
    return exp


def create(user, start_from, population=6, **extra):
    body = {"name": "warm", "config": {"population": population, "max_individuals": 12}}
    return api(user).post(
        "/api/experiments/", {**body, "start_from": start_from, **extra}, format="json"
    )


def seeds_of(run_id):
    return list(Individual.objects.filter(experiment_id=run_id).order_by("number"))


def test_a_run_starts_from_the_alive_individuals_of_a_finished_run(source, member):
    alive = list(source.individuals.filter(state=State.ALIVE).order_by("number"))
    assert len(alive) == P and source.individuals.filter(state=State.DEAD).count() == 1
    r = create(member, {"experiment": source.pk, "individuals": "alive"})
    assert r.status_code == 201, r.json()
    run = r.json()
    assert run["start_from"] == {"experiment": source.pk, "individuals": "alive", "k": None,
                                 "seeds": P}  # fmt: skip
    seeds = seeds_of(run["id"])
    assert [s.number for s in seeds] == list(range(P))
    assert [(s.seeded_from_run, s.seeded_from_number) for s in seeds] == [
        (source.pk, a.number) for a in alive
    ]
    for seed, origin in zip(seeds, alive, strict=True):  # copied, a file of the new run's
        assert seed.state == State.TRAINING and seed.parent is None
        assert seed.weights.startswith(f"experiments/{run['id']}/")
        assert seed.weights != origin.weights and seed.dna == origin.dna
        assert (
            default_storage.open(seed.weights).read() == default_storage.open(origin.weights).read()
        )
        assert seed.mutation_description == (
            f"seeded from run #{source.pk}, individual #{origin.number}"
        )

    # The source goes, files and all: the new run trains its seeds from their own copies,
    # first, then fills its population of 6 with trivial individuals.
    source_id = source.pk
    for ind in source.individuals.exclude(weights=""):
        default_storage.delete(ind.weights)
    source.delete()
    Experiment.objects.filter(pk=run["id"]).update(status=Status.RUNNING)
    for seed in seeds:
        claim = claims.claim(run["id"], "w")
        assert (claim.number, claim.parent_weights) == (seed.number, seed.weights)
        assert default_storage.exists(claim.parent_weights)
        assert commits.commit(claim, trained(0.8, seed.number))
    filler = claims.claim(run["id"], "w")
    assert filler.number == P and filler.parent_weights == ""
    assert Individual.objects.get(pk=filler.individual_id).seeded_from_run is None

    # The lineage, the individual's JSON and the API say where a seed came from.
    web = api(member)
    web.force_login(member)
    chain = web.get(f"/experiments/{run['id']}/individuals/0/lineage.json").json()["lineage"]
    assert chain == [chain[0]] and chain[0]["initial"]
    assert chain[0]["seeded_from"] == {"experiment": source_id, "number": alive[0].number}
    detail = web.get(f"/experiments/{run['id']}/individuals/0.json").json()
    assert detail["seeded_from"] == chain[0]["seeded_from"]
    listed = web.get(f"/api/experiments/{run['id']}/individuals/").json()["results"]
    assert [i["seeded_from"] for i in listed][P] is None
    assert listed[1]["seeded_from"] == {"experiment": source_id, "number": alive[1].number}


def test_best_k_takes_the_top_k_by_validation_the_younger_first_on_a_tie(source, member):
    kept = source.individuals.exclude(weights="").exclude(val_accuracy=None)
    expected = sorted(kept, key=lambda i: (-i.val_accuracy, -i.number))[:2]
    assert [i.number for i in expected] == [3, 1]  # 0.9 and 0.9: #3 is the younger
    r = create(member, {"experiment": source.pk, "individuals": "best", "k": 2}, start=True)
    assert r.status_code == 201, r.json()
    assert r.json()["status"] == "running" and r.json()["start_from"]["seeds"] == 2
    seeds = seeds_of(r.json()["id"])
    assert [s.seeded_from_number for s in seeds] == [3, 1]


def test_another_teams_run_is_a_404_like_no_run_and_creates_nothing(source, outsider):
    before = Experiment.objects.count()
    theirs = create(outsider, {"experiment": source.pk})
    nothing = create(outsider, {"experiment": source.pk + 1000})
    assert theirs.status_code == nothing.status_code == 404
    assert theirs.json()["detail"].replace(str(source.pk), "N") == nothing.json()["detail"].replace(
        str(source.pk + 1000), "N"
    )
    assert Experiment.objects.count() == before


def test_a_source_on_images_of_another_shape_is_a_400_and_creates_nothing(team, member):
    mnist = Experiment.objects.create(
        team=team, name="mnist", config={"dataset": "mnist", "population": 2}, status="finished"
    )
    Individual.objects.create(
        experiment=mnist, number=0, dna={}, state=State.ALIVE, val_accuracy=0.9, weights="x"
    )
    r = create(member, {"experiment": mnist.pk})
    assert r.status_code == 400
    message = " ".join(r.json()["start_from"])
    assert "1×28×28" in message and "1×8×8" in message and "input shape" in message
    assert Experiment.objects.count() == 1 and Individual.objects.count() == 1


def test_the_class_counts_must_match(team):
    cifar100 = Experiment(team=team, pk=7, config={"dataset": "cifar100"})
    cifar10 = Experiment(config={"dataset": "cifar10"}).cfg
    with pytest.raises(warmstart.WarmStartError, match=r"100 classes.*\(10\).*must match"):
        warmstart.check_compatible(cifar100, team, cifar10)
    warmstart.check_compatible(cifar100, team, Experiment(config={"dataset": "cifar100"}).cfg)


MALFORMED = [
    ({"experiment": 1, "from": "x"}, "Unknown keys: from"),
    ({"experiment": "1"}, "experiment"),
    ({"experiment": 1, "individuals": "worst"}, '"alive" or "best"'),
    ({"experiment": 1, "individuals": "alive", "k": 2}, "k is for"),
    ({"experiment": 1, "individuals": "best"}, "k: with"),
    ({"experiment": 1, "individuals": "best", "k": 0}, "k: with"),
    ({"experiment": 1, "individuals": "best", "k": True}, "k: with"),
    ([1], "Expected an object"),
]


def test_a_malformed_start_from_is_a_400_naming_it(member):
    for start_from, message in MALFORMED:  # one user for all (a password hash each is slow)
        r = create(member, start_from)
        assert r.status_code == 400 and message in " ".join(r.json()["start_from"]), r.json()
    assert not Experiment.objects.exists()


def test_more_seeds_than_the_population_are_refused(source, member):
    best = create(member, {"experiment": source.pk, "individuals": "best", "k": 3}, population=2)
    alive = create(member, {"experiment": source.pk}, population=3)
    assert best.status_code == alive.status_code == 400
    assert "at most this run's population (2)" in best.json()["start_from"][0]
    assert f"has {P} alive individuals" in alive.json()["start_from"][0]
    assert Experiment.objects.count() == 1


def test_the_form_starts_a_run_from_the_best_k_of_a_run(source, member, client):
    client.force_login(member)
    page = client.get(f"/experiments/new/?start_from={source.pk}").content.decode()
    assert 'id="start-from"' in page and f'<option value="{source.pk}" selected>' in page
    form = {"name": "warm", "dataset": "digits", "population": "6", "workers": "1",
            "steps_per_child": "5", "max_individuals": "12", "selection": "tournament",
            "seed": "1", "start-run": str(source.pk), "start-individuals": "best"}  # fmt: skip
    refused = client.post("/experiments/new/", {**form, "start-k": "7"})
    assert refused.status_code == 400 and "at most this run&#x27;s population (6)" in (
        refused.content.decode()
    )
    assert Experiment.objects.count() == 1
    response = client.post("/experiments/new/", {**form, "start-k": "2"})
    assert response.status_code == 302, response.content.decode()[:2000]
    run = Experiment.objects.exclude(pk=source.pk).get()
    assert run.status == Status.RUNNING and run.start_from["seeds"] == 2
    assert [s.seeded_from_number for s in seeds_of(run.pk)] == [3, 1]
    detail = client.get(f"/experiments/{run.pk}/").content.decode()
    assert f'seeded from <a href="/experiments/{source.pk}/">run #{source.pk}</a>' in detail


@pytest.mark.django_db(transaction=True)
def test_the_cli_creates_a_run_from_a_run_with_json_output(
    source, member, live_server, monkeypatch, capsys, tmp_path
):
    import json

    from evolab import cli
    from evolab.accounts.services import create_token

    monkeypatch.setenv("EVOLAB_URL", live_server.url)
    monkeypatch.setenv("EVOLAB_TOKEN", create_token(member, "cli")[1])
    monkeypatch.setenv("EVOLAB_CONFIG", str(tmp_path / "none.json"))
    argv = ["runs", "create", "warm", "--population", "6", "--max-individuals", "12",
            "--no-start", "--json", "--from-run", str(source.pk)]  # fmt: skip
    assert cli.main([*argv, "--best", "2"]) == cli.OK
    run = json.loads(capsys.readouterr().out)
    assert run["start_from"] == {"experiment": source.pk, "individuals": "best", "k": 2,
                                 "seeds": 2}  # fmt: skip
    assert [s.seeded_from_number for s in seeds_of(run["id"])] == [3, 1]
    argv[-1] = str(source.pk + 1000)  # no such run: the server's 404, exit code 1
    assert cli.main(argv) == cli.REFUSED
    assert "HTTP 404" in capsys.readouterr().err


def test_a_running_source_gives_its_alive_individuals_of_the_moment(source, member):
    Experiment.objects.filter(pk=source.pk).update(status=Status.RUNNING)
    Individual.objects.create(experiment=source, number=P + 1, dna={}, state=State.TRAINING)
    r = create(member, {"experiment": source.pk})
    assert r.status_code == 201, r.json()
    alive = source.individuals.filter(state=State.ALIVE).order_by("number")
    assert [s.seeded_from_number for s in seeds_of(r.json()["id"])] == [a.number for a in alive]
