"""DNA files from a queued run's page in Chromium: the browser sends several files from its
multiple file inputs (with the weights of one, by name), they join the initial population,
and once the run starts (here from another tab) the page disables the import live."""

import json

import pytest

from tests.unit.api.test_seed_imports import seed_dna, weights_for

from .test_first_run_in_the_browser import log_in

# A page's behaviour, not the database's: on the embedded default only (the stacks' own
# differences are the integration tests'), to keep `make test` short.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]


def test_a_queued_runs_page_imports_dna_files_then_disables_the_import_live(
    stack, mia, page, artefacts, tmp_path
):
    config = {"dataset": "digits", "population": 3, "workers": 1, "steps_per_child": 5,
              "max_individuals": 3, "seed": 4}  # fmt: skip
    r = mia.post(f"{stack.url}/api/experiments/", json={"name": "dna files", "config": config,
                                                        "start": False}, timeout=30)  # fmt: skip
    assert r.status_code == 201, r.text
    exp_id, dna = r.json()["id"], seed_dna()
    (tmp_path / "cat.json").write_text(json.dumps(dna.to_json()))
    (tmp_path / "cat.safetensors").write_bytes(weights_for(dna))
    (tmp_path / "dog.json").write_text(json.dumps(dna.to_json()))

    log_in(page, stack)
    page.goto(f"{stack.url}/experiments/{exp_id}/")
    page.wait_for_selector("#conn.live")
    page.click("#seed-import summary")
    page.set_input_files("#id_seed-dna", [tmp_path / "cat.json", tmp_path / "dog.json"])
    page.set_input_files("#id_seed-weights", [tmp_path / "cat.safetensors"])
    page.click("#seed-import button")
    page.wait_for_selector(".message.success")
    assert page.text_content(".message.success") == (
        "Imported into the initial population: #0 (cat.json), #1 (dog.json)."
    )
    rows = stack.sql("SELECT number, weights != '' FROM experiments_individual "
                     "WHERE experiment_id = ? ORDER BY number", (exp_id,))  # fmt: skip
    assert [tuple(row) for row in rows] == [(0, 1), (1, 0)]
    page.screenshot(path=str(artefacts / f"dna-import-{stack.kind}.png"), full_page=True)

    page.wait_for_selector("#conn.live")
    assert page.is_enabled("#seed-import button")
    r = mia.post(f"{stack.url}/api/experiments/{exp_id}/start/", timeout=30)  # another tab
    assert r.status_code == 200, r.text
    page.wait_for_function("() => document.querySelector('#seed-import button').disabled")
    assert page.is_disabled("#id_seed-dna") and page.is_disabled("#id_seed-weights")
    mia.post(f"{stack.url}/api/experiments/{exp_id}/stop/", timeout=30)
