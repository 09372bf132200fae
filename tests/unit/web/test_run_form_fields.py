"""The run form offers the whole config, grouped, each field with its unit and range (from
the config's own definition), refuses bad values per field with the API's messages, and
offers the datasets the catalog finds (missing ones disabled, with where the files go)."""

import html
import re

from PIL import Image

from evolab.experiments.config import ExperimentConfig, int_bounds
from evolab.experiments.config_form import GROUPS
from evolab.experiments.forms import ExperimentForm
from evolab.experiments.models import Experiment, TeamDataset
from tests.unit.web.test_experiment_form import FORM


def test_every_config_field_is_a_form_field_with_its_range(team, settings):
    form = ExperimentForm(teams=[team])
    bounds = int_bounds(settings.EVOLAB_LIMITS)
    grouped = [name for *_, names in GROUPS for name in names]
    defaults = ExperimentConfig()
    for name in ExperimentConfig.field_names():
        field = form.fields[name]
        assert grouped.count(name) == 1, name  # in exactly one fieldset
        assert field.label and field.help_text, name
        assert field.initial == getattr(defaults, name), name
        if name in bounds:
            low, high = bounds[name]
            assert field.widget.attrs["min"] == low and field.widget.attrs["max"] == high
            assert field.range == f"{low:,}–{high:,}", name
            default = getattr(defaults, name)
            assert field.empty.endswith(f"{default:,}") if default is not None else field.empty
    assert form.fields["population"].range == f"2–{settings.EVOLAB_LIMITS['max_population']:,}"
    assert form.fields["population"].unit == "individuals"
    assert (
        form.fields["target_accuracy"].unit == "0–1"
        and "90%" in form.fields["target_accuracy"].range
    )
    assert form.fields["max_flops"].unit == "FLOPs" and form.fields["max_flops"].range == (
        "more than 0"
    )
    assert [v for v, _ in form.fields["selection"].choices] == ["tournament", "aging", "random"]


def test_the_page_groups_the_fields_and_collapses_advanced(client, member):
    client.force_login(member)
    page = client.get("/experiments/new/").content.decode()
    for key, legend, _, names in GROUPS:
        start = page.index(f'id="group-{key}"')
        end = page.index("</details>" if key == "advanced" else "</fieldset>", start)
        for name in names:
            if name != "team":  # hidden: one team only
                assert f'name="{name}"' in page[start:end], (key, name)
        assert html.escape(legend) in page[start:end]
    assert '<details class="form-group" id="group-advanced">' in page  # closed
    batch = re.search(r'<input type="number" name="batch_size"[^>]*>', page).group(0)
    assert 'value="50"' in batch and 'min="1"' in batch and 'max="4096"' in batch
    assert '<span class="unit">individuals</span>' in page
    assert "empty: no time limit" in page and "0.9 = 90%" in page


def test_bad_values_get_a_message_per_field_and_create_nothing(client, member):
    client.force_login(member)
    bad = {"batch_size": "0", "mutations_per_child": "21", "ensemble_k": "26",
           "plateau_individuals": "0", "max_flops": "-1", "target_accuracy": "90",
           "sample_size": "2.5", "population": "1"}  # fmt: skip
    response = client.post("/experiments/new/", {**FORM, **bad})
    page = response.content.decode()
    assert response.status_code == 400 and Experiment.objects.count() == 0
    expected = {
        "batch_size": "Must be at least 1.",
        "mutations_per_child": "Must be at most 20",
        "ensemble_k": "Must be at most 25",
        "plateau_individuals": "Must be at least 1.",
        "max_flops": "Enter a positive number of FLOPs.",
        "target_accuracy": "or 90% if you mean a percentage",
        "sample_size": "Enter a whole number.",
        "population": "Must be at least 2.",
    }
    assert sorted(re.findall(r'id="(\w+)-error"', page)) == sorted(expected)
    for name, message in expected.items():
        error = re.search(rf'<p class="error field-error" id="{name}-error">([^<]*)</p>', page)
        assert error and message in error.group(1), (name, error and error.group(1))
    assert '<details class="form-group" id="group-advanced" open>' in page  # errors shown


def test_every_setting_reaches_the_run_and_a_percentage_is_a_fraction(client, member):
    client.force_login(member)
    advanced = {"selection": "aging", "sample_size": "3", "batch_size": "20",
                "mutations_per_child": "2", "max_seconds": "600", "max_flops": "1e12",
                "target_accuracy": "95 %", "plateau_individuals": "5",
                "ensemble_k": "3"}  # fmt: skip
    response = client.post("/experiments/new/", {**FORM, **advanced})
    assert response.status_code == 302, response.content.decode()[-3000:]
    config = Experiment.objects.get().config
    assert config == {**ExperimentConfig().to_json(), "population": 6, "workers": 1,
                      "steps_per_child": 5, "max_individuals": 12, "selection": "aging",
                      "sample_size": 3, "batch_size": 20, "mutations_per_child": 2,
                      "max_seconds": 600, "max_flops": 1e12, "target_accuracy": 0.95,
                      "plateau_individuals": 5, "ensemble_k": 3}  # fmt: skip


def image_folder(root, name: str, per_class: int = 10) -> None:
    for cls, colour in (("cat", "red"), ("dog", "blue")):
        (root / name / cls).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (8, 8), colour).save(root / name / cls / f"{i}.png")


def test_the_dataset_choice_lists_what_the_catalog_finds(
    client, member, team, other_team, settings, tmp_path
):
    settings.EVOLAB_DATA_DIR = tmp_path
    image_folder(tmp_path, "pets")
    ours = TeamDataset.objects.create(team=team, name="flowers", state="ready")
    busy = TeamDataset.objects.create(team=team, name="birds", state="indexing")
    theirs = TeamDataset.objects.create(team=other_team, name="secret-set", state="ready")
    client.force_login(member)
    page = client.get("/experiments/new/").content.decode()
    groups = dict(re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', page, re.S))
    assert list(groups) == ["Built in", "Files found", "Uploaded by your teams",
                            "Not installed here"]  # fmt: skip
    assert '<option value="digits" selected>' in groups["Built in"]
    assert re.search(r'<option value="folder:pets">image folder pets — .*2 classes', page)
    assert f'<option value="{ours.config_name}">flowers — Vision, ready' in page
    assert f'<option value="{busy.config_name}" disabled>birds' in page
    assert theirs.config_name not in page and "secret-set" not in page
    unavailable = groups["Not installed here"]
    assert (
        '<option value="mnist" disabled>MNIST (handwritten digits) — missing: needs 4 files in '
        "EVOLAB_DATA_DIR/MNIST/raw/</option>" in unavailable
    )
    assert (
        "needs EVOLAB_DATA_DIR/cifar-10-batches-py/ or EVOLAB_DATA_DIR/cifar-10-python.tar.gz"
        in unavailable
    )
    hints = page[page.index('id="missing-datasets"') :]
    assert "<code>cifar10</code>: expected the extracted folder EVOLAB_DATA_DIR/" in hints
    assert str(tmp_path) not in page


def test_a_listed_but_missing_dataset_and_another_teams_upload_are_refused(
    client, member, other_team, settings, tmp_path
):
    settings.EVOLAB_DATA_DIR = tmp_path
    theirs = TeamDataset.objects.create(team=other_team, name="secret-set", state="ready")
    client.force_login(member)
    for dataset, message in (("mnist", "EVOLAB_DATA_DIR/MNIST/raw/"),
                             (theirs.config_name, "Unknown dataset")):  # fmt: skip
        page = client.post("/experiments/new/", {**FORM, "dataset": dataset}).content.decode()
        error = re.search(r'id="dataset-error">([^<]*)<', page)
        assert error and message in error.group(1), (dataset, error and error.group(1))
    assert Experiment.objects.count() == 0
