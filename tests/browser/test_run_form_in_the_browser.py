"""The run form as a user drives it: the fieldsets, the collapsed Advanced group, a few
settings filled in, the run created with them (checked through the API), then "Clone with
changes" from the run's page: the form prefilled, one setting changed, a numbered clone."""

from pathlib import Path

import pytest

from .test_first_run_in_the_browser import log_in

# A page's behaviour, not the database's: on the embedded default only (the stacks' own
# differences are the integration tests'), to keep `make test` short.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]
SHOTS = Path("/tmp/shots-form")


def run_config(stack, mia, page) -> tuple[int, dict]:
    run_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    body = mia.get(f"{stack.url}/api/experiments/{run_id}/", timeout=10).json()
    return run_id, body


def test_the_form_creates_a_run_with_advanced_settings_and_clones_it_with_changes(stack, page, mia):
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, stack)
    page.goto(f"{stack.url}/experiments/new/")
    if page.is_visible("#missing-datasets"):  # where the files of the missing sets go
        page.click("#missing-datasets summary")
    page.screenshot(path=str(SHOTS / f"form-{stack.kind}.png"))
    assert page.is_visible("#group-budget") and not page.is_visible("#id_batch_size")
    page.click("#group-advanced summary")
    page.fill("#id_name", f"form {stack.kind}")
    for field, value in (("population", "3"), ("max_individuals", "4"), ("steps_per_child", "5"),
                         ("mutations_per_child", "2"), ("batch_size", "16"), ("workers", "1"),
                         ("ensemble_k", "1"), ("target_accuracy", "99%")):  # fmt: skip
        page.fill(f"#id_{field}", value)
    page.select_option("#id_selection", "aging")
    page.screenshot(path=str(SHOTS / f"form-advanced-{stack.kind}.png"), full_page=True)
    page.click("button.primary")
    page.wait_for_url(f"{stack.url}/experiments/*/")
    run_id, body = run_config(stack, mia, page)
    assert body["name"] == f"form {stack.kind}"
    config = body["config"]
    assert (config["population"], config["max_individuals"], config["steps_per_child"]) == (3, 4, 5)
    assert (config["mutations_per_child"], config["batch_size"], config["workers"]) == (2, 16, 1)
    assert (config["ensemble_k"], config["target_accuracy"], config["selection"]) == (
        1, 0.99, "aging",
    )  # fmt: skip

    page.click("[data-action=clone-with-changes]")
    page.wait_for_url(f"{stack.url}/experiments/new/?from={run_id}")
    assert page.input_value("#id_name") == f"form {stack.kind} (2)"
    assert page.input_value("#id_batch_size") == "16" and page.is_visible("#id_batch_size")
    assert page.input_value("#id_target_accuracy") == "0.99"
    page.screenshot(path=str(SHOTS / f"clone-{stack.kind}.png"))
    page.fill("#id_steps_per_child", "6")
    page.click("button.primary")
    page.wait_for_url(f"{stack.url}/experiments/*/")
    clone_id, clone = run_config(stack, mia, page)
    assert clone_id != run_id and clone["name"] == f"form {stack.kind} (2)"
    assert clone["config"] == {**config, "steps_per_child": 6}
    assert page.is_visible(f"a[href='/experiments/{run_id}/']")  # "clone of #<run>"
