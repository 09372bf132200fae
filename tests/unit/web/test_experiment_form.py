import re

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
    assert response.status_code == 403  # a role too low; the page says what to do instead
    assert "You cannot start runs yet" in response.content.decode()
    assert Experiment.objects.count() == 0


def test_anonymous_users_are_sent_to_the_login_page(client, db):
    response = client.get("/experiments/new/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_missing_dataset_file_is_named_with_its_expected_path(client, member, settings, tmp_path):
    settings.EVOLAB_DATA_DIR = tmp_path
    client.force_login(member)
    page = client.post("/experiments/new/", {**FORM, "dataset": "cifar10"}).content.decode()
    assert "EVOLAB_DATA_DIR/cifar-10-batches-py" in page
    assert "EVOLAB_DATA_DIR/cifar-10-python.tar.gz" in page
    assert str(tmp_path) not in page  # the page names no server path
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


def test_the_dataset_is_a_select_of_what_is_installed(client, member, settings, tmp_path):
    from tests.unit.workers.idx_files import write_set

    settings.EVOLAB_DATA_DIR = tmp_path
    write_set(tmp_path / "MNIST" / "raw")
    client.force_login(member)
    page = client.get("/experiments/new/").content.decode()
    assert '<select name="dataset"' in page and '<option value="digits" selected>' in page
    assert re.search(r'<option value="mnist">MNIST .*— 54 / 6 / 20 .*1×28×28, 10 classes', page)
    missing = r'<option value="cifar10" disabled>CIFAR-10 — missing: .*EVOLAB_DATA_DIR'
    assert re.search(missing, page)
    assert str(tmp_path) not in page


def test_a_run_on_an_mnist_format_set_keeps_its_val_size(client, member, settings, tmp_path):
    from tests.unit.workers.idx_files import write_set

    settings.EVOLAB_DATA_DIR = tmp_path
    write_set(tmp_path / "KMNIST" / "raw", gz=True)
    client.force_login(member)
    response = client.post("/experiments/new/", {**FORM, "dataset": "kmnist", "val_size": "20"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    exp = Experiment.objects.get()
    assert exp.config["val_size"] == 20 and exp.dataset_split["val"] == 20
