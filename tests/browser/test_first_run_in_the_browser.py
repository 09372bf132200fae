"""A new user's first run, in a real browser: log in, fill the form, watch dots arrive live,
download the best model and check that its weights load into its DNA's network."""

import pytest
import torch
from safetensors.torch import load_file

from evolab.evolution.dna import DNA
from evolab.evolution.network import build_network
from tests.integration.harness import PASSWORD, wait_for

pytestmark = pytest.mark.browser


def log_in(page, stack, username="mia"):
    page.goto(f"{stack.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/experiments/")


def points(page) -> int:
    return int(page.eval_on_selector("#chart", "e => e.dataset.points || '0'"))


def test_a_run_started_from_the_form_shows_new_dots_without_reload(
    stack, page, artefacts, tmp_path
):
    log_in(page, stack)
    page.click("text=New experiment")
    page.fill("#id_name", f"browser {stack.kind}")
    page.fill("#id_population", "4")
    page.click("#group-advanced summary")  # workers: in the Advanced group, closed at first
    page.fill("#id_workers", "2")
    page.fill("#id_steps_per_child", "120")  # long enough to see children train
    page.fill("#id_max_individuals", "16")
    page.click("button.primary")
    page.wait_for_url(f"{stack.url}/experiments/*/")
    page.evaluate("window.__noReload = true")  # gone if the page reloads
    page.wait_for_selector("#conn.live")
    page.wait_for_selector("#inflight progress", timeout=60_000)  # progress bars, live
    first = wait_for(lambda: points(page) or None, 60, "a first dot")
    wait_for(lambda: points(page) > first, 90, "more dots")
    page.wait_for_function(
        "() => document.getElementById('status').textContent === 'finished'", timeout=120_000
    )
    assert page.evaluate("window.__noReload") is True
    assert points(page) == 16
    assert page.text_content("#best-acc").endswith("%")
    page.wait_for_selector("#arch svg")
    page.screenshot(path=str(artefacts / f"first-run-{stack.kind}.png"), full_page=True)

    with page.expect_download() as weights_dl:
        page.click("#dl-weights")
    with page.expect_download() as dna_dl:
        page.click("#dl-dna")
    weights_path, dna_path = tmp_path / "w.safetensors", tmp_path / "dna.json"
    weights_dl.value.save_as(weights_path)
    dna_dl.value.save_as(dna_path)
    import json

    model = build_network(DNA.from_json(json.loads(dna_path.read_text())), (1, 8, 8), 10)
    model.load_state_dict(load_file(weights_path), strict=True)
    assert model.eval()(torch.zeros(1, 1, 8, 8)).shape == (1, 10)
