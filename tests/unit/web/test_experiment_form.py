from evolab.experiments.models import Experiment

FORM = {
    "name": "first",
    "dataset": "digits",
    "population": "6",
    "workers": "1",
    "steps_per_child": "5",
    "max_individuals": "12",
    "selection": "tournament",
    "seed": "1",
}


def test_the_form_page_shows_every_field(client, member):
    client.force_login(member)
    page = client.get("/experiments/new/").content.decode()
    for field in ("name", "dataset", "population", "workers", "steps_per_child", "max_individuals"):
        assert f'name="{field}"' in page


def test_a_bad_form_shows_errors_next_to_fields_and_creates_nothing(client, member):
    client.force_login(member)
    response = client.post(
        "/experiments/new/", {**FORM, "population": "1", "workers": "0", "dataset": "imagenet"}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="population-error"' in page and 'id="workers-error"' in page
    assert 'id="dataset-error"' in page and "Unknown dataset" in page
    assert Experiment.objects.count() == 0


def test_a_viewer_cannot_create_runs(client, viewer):
    client.force_login(viewer)
    response = client.post("/experiments/new/", FORM)
    assert response.status_code == 400
    assert Experiment.objects.count() == 0


def test_anonymous_users_are_sent_to_the_login_page(client, db):
    response = client.get("/experiments/new/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_missing_dataset_file_is_named_with_its_expected_path(client, member, settings, tmp_path):
    settings.EVOLAB_DATA_DIR = tmp_path
    client.force_login(member)
    page = client.post("/experiments/new/", {**FORM, "dataset": "cifar10"}).content.decode()
    assert "cifar-10-batches-py" in page and "cifar-10-python.tar.gz" in page
    assert str(tmp_path) in page
    assert Experiment.objects.count() == 0


def test_the_api_refuses_a_missing_dataset_with_a_field_error(member, settings, tmp_path):
    from rest_framework.test import APIClient

    settings.EVOLAB_DATA_DIR = tmp_path
    client = APIClient()
    client.force_authenticate(member)
    r = client.post(
        "/api/experiments/", {"name": "c", "config": {"dataset": "folder:cats"}}, format="json"
    )
    assert r.status_code == 400 and "not found" in str(r.json())
    assert Experiment.objects.count() == 0
