"""DELETE /api/experiments/<id>/: the run, its individuals and events, and every stored file
of it go; a running run is refused and keeps everything (on PostgreSQL too:
tests/integration/test_step_tests_on_postgresql.py runs this module there)."""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from evolab.experiments import services
from evolab.experiments.models import Event, Experiment, ExperimentTag, Individual
from evolab.experiments.storage import derived_names

from .conftest import api, store_individual


def test_a_member_deletes_a_run_with_its_individuals_and_files(member, team, exp):
    first = store_individual(exp, 0, 0.4)
    child = store_individual(exp, 1, 0.8, parent=first)
    Experiment.objects.filter(pk=exp.pk).update(best=child, status="finished")
    export = default_storage.save(derived_names(child.weights)[0], ContentFile(b"cached"))
    orphan = default_storage.save(f"experiments/{exp.pk}/9-dead.safetensors", ContentFile(b"x"))
    clone = services.clone(exp.pk, member)
    other = store_individual(clone, 0)  # another run's file stays
    api(member).patch(f"/api/experiments/{exp.pk}/", {"tags": ["gone"]}, format="json")
    services.control(clone.pk, "stop")  # an event of the other run, kept
    files = [first.weights, child.weights, export, orphan]
    assert all(default_storage.exists(name) for name in files)

    r = api(member).delete(f"/api/experiments/{exp.pk}/")
    assert r.status_code == 204
    assert not Experiment.objects.filter(pk=exp.pk).exists()
    assert not Individual.objects.filter(experiment_id=exp.pk).exists()
    assert not ExperimentTag.objects.filter(experiment_id=exp.pk).exists()
    assert not Event.objects.filter(experiment_id=exp.pk).exists()
    assert not any(default_storage.exists(name) for name in files)
    assert default_storage.exists(other.weights) and Event.objects.filter(experiment=clone)
    clone.refresh_from_db()
    assert clone.cloned_from_id is None
    assert api(member).get(f"/api/experiments/{exp.pk}/").status_code == 404


def test_a_running_run_is_refused_with_a_409_and_keeps_everything(member, admin, viewer, exp):
    ind = store_individual(exp, 0)
    services.control(exp.pk, "start")
    r = api(admin).delete(f"/api/experiments/{exp.pk}/")
    assert r.status_code == 409 and "Stop the run" in r.json()["detail"]
    assert Individual.objects.filter(pk=ind.pk).exists() and default_storage.exists(ind.weights)
    services.control(exp.pk, "stop")  # settles to stopped: nothing is in training
    assert api(viewer).delete(f"/api/experiments/{exp.pk}/").status_code == 403
    assert Experiment.objects.filter(pk=exp.pk).exists()
    assert api(admin).delete(f"/api/experiments/{exp.pk}/").status_code == 204
    assert not default_storage.exists(ind.weights)
