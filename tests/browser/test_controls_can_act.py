"""Controls in Chromium are enabled only when the run's state lets them act: a finished run's
Workers, Boost and Reset are disabled; a stopped run offers "Evaluate the best now" and shows
the numbers live. The error pages and the viewer's pages keep the CSP and the navigation."""

import pytest

from tests.integration.harness import wait_for

from .test_first_run_in_the_browser import log_in

# A page's behaviour, not the database's: on the embedded default only (the stacks' own
# differences are the integration tests'), to keep `make test` short.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]

DISABLED = ("#workers-input", "[data-action=workers]", "#boost-input",
            "button[data-action=escape] >> nth=0", "button[data-action=escape] >> nth=1",
            "[data-action=pause]", "[data-action=resume]", "[data-action=stop]")  # fmt: skip


@pytest.fixture(scope="module")
def stopped(stack):
    s = stack.session("mia")
    config = {"population": 3, "workers": 1, "steps_per_child": 30, "max_individuals": 500}
    exp = stack.create(s, config, name="stopped in the browser")
    wait_for(lambda: stack.trained(exp["id"]) >= 3, 120, "a population")
    s.post(f"{stack.url}/api/experiments/{exp['id']}/stop/", timeout=30)
    stack.wait_status(s, exp["id"], ("stopped",), 60)
    return s, exp["id"]


def test_a_finished_run_disables_what_cannot_act(finished_run, page, artefacts):
    stack, _, exp_id = finished_run
    log_in(page, stack)
    page.goto(f"{stack.url}/experiments/{exp_id}/")
    page.wait_for_selector("#conn.live")
    page.click(".escape summary")  # open the knobs: disabled, not just hidden
    for selector in DISABLED:
        assert page.is_disabled(selector), selector
    assert page.is_enabled("[data-action=clone]")
    assert page.is_hidden("[data-action=evaluate]")
    page.screenshot(path=str(artefacts / f"controls-finished-{stack.kind}.png"), full_page=True)


def test_a_stopped_run_offers_evaluation_and_shows_the_numbers_live(
    stack, stopped, page, artefacts
):
    s, exp_id = stopped
    log_in(page, stack)
    page.goto(f"{stack.url}/experiments/{exp_id}/")
    page.wait_for_selector("#conn.live")
    button = page.locator("[data-action=evaluate]")
    assert button.is_visible() and button.is_enabled()
    assert button.text_content() == "Evaluate the best now"
    assert page.text_content("#test-acc") == "not evaluated (stopped)"
    assert page.is_enabled("[data-action=resume]") and page.is_disabled("#workers-input")
    page.evaluate("window.__noReload = true")  # gone if the page reloads
    r = s.post(f"{stack.url}/api/experiments/{exp_id}/evaluate/", timeout=30)  # another tab
    assert r.status_code == 202, r.text
    page.wait_for_function(
        "() => document.getElementById('test-acc').textContent.endsWith('%')"
        " && document.getElementById('ensemble-acc').textContent.startsWith('ensemble ')",
        timeout=90_000,
    )
    page.wait_for_function(  # the evaluation's end: evaluated (no second time), resumable
        "() => document.querySelector('[data-action=evaluate]').disabled"
        " && !document.querySelector('[data-action=resume]').disabled",
        timeout=30_000,
    )
    assert page.evaluate("window.__noReload") is True
    assert page.text_content("[data-action=evaluate]") == "Evaluated"
    page.screenshot(path=str(artefacts / f"controls-stopped-evaluated-{stack.kind}.png"))


def test_the_error_and_viewer_pages_keep_the_csp_and_the_navigation(stack, page, artefacts):
    ((team,),) = stack.sql("SELECT id FROM accounts_team WHERE name = 'Vision'")
    page.goto(f"{stack.url}/experiments/999999/snapshot.json")
    assert "Log in first." in page.text_content("body")  # JSON, not the login page
    log_in(page, stack, "vic")
    assert page.locator("header nav >> text=New experiment").count() == 0
    for path, heading in (("/experiments/999999/", "Not found"),
                          ("/experiments/new/", "You cannot start runs yet")):  # fmt: skip
        response = page.goto(stack.url + path)
        assert page.text_content("h1") == heading, path
        assert page.is_visible("header nav >> text=Experiments")
        assert response.status in (200, 404)
        page.screenshot(path=str(artefacts / f"honest{path.replace('/', '-')}{stack.kind}.png"))
    page.evaluate(  # a viewer sends an admin's form: the styled 403
        """(team) => { const form = document.createElement("form");
        form.method = "post"; form.action = `/accounts/teams/${team}/invite/`;
        form.append(document.querySelector("[name=csrfmiddlewaretoken]").cloneNode());
        document.body.append(form); form.submit(); }""",
        team,
    )
    page.wait_for_selector("h1:text('Not allowed')")
    assert page.is_visible("header nav >> text=Experiments")
