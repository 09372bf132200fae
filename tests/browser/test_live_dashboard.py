"""The live dashboard in Debian's Chromium: selection and parent diff, lineage, a web server
restart mid-run (caught up, no duplicate dot), and another team seeing nothing."""

import time

import pytest
import requests

from tests.integration.harness import wait_for

from .test_first_run_in_the_browser import log_in, points

pytestmark = pytest.mark.browser

SMALL = {"population": 4, "workers": 2, "steps_per_child": 40, "max_individuals": 14}


@pytest.fixture(scope="module")
def finished(stack):
    s = stack.session("mia")
    exp = stack.create(s, SMALL, name="dashboard finished")
    stack.wait_status(s, exp["id"], ("finished",), 240)
    return exp


def open_experiment(page, stack, exp_id):
    page.goto(f"{stack.url}/experiments/{exp_id}/")
    page.wait_for_selector("#conn.live")
    page.wait_for_selector("#arch svg")


def test_clicking_a_dot_shows_its_diagram_and_the_diff_against_its_parent(
    stack, page, finished, artefacts
):
    log_in(page, stack)
    open_experiment(page, stack, finished["id"])
    child = page.evaluate(
        "() => evolab.state.rows.find(r => r.parent !== null && r.id !== evolab.state.exp.best.id)"
    )
    pos = page.evaluate(f"() => evolab.chart.positionOf({child['id']})")
    over = page.locator("#chart .u-over").bounding_box()
    page.mouse.move(over["x"] + pos["left"], over["y"] + pos["top"])
    page.wait_for_selector("#tooltip:not([hidden])")
    page.mouse.click(over["x"] + pos["left"], over["y"] + pos["top"])
    page.wait_for_function(
        f"() => document.getElementById('arch').dataset.number === '{child['number']}'"
    )
    summary = page.text_content("#diff-summary")
    assert "vs parent #" in summary, summary
    statuses = page.eval_on_selector_all(
        "#arch [data-status]", "els => els.map(e => e.dataset.status)"
    )
    assert statuses and set(statuses) <= {"same", "inserted", "removed", "changed"}
    assert page.is_visible("#follow-best")
    page.screenshot(path=str(artefacts / f"dashboard-selected-{stack.kind}.png"), full_page=True)


def test_the_lineage_of_the_best_reaches_an_initial_individual(stack, page, finished):
    log_in(page, stack)
    open_experiment(page, stack, finished["id"])
    page.wait_for_selector("#lineage li.initial")
    numbers = page.eval_on_selector_all("#lineage li", "els => els.map(e => +e.dataset.number)")
    best = page.evaluate("() => evolab.state.byId.get(evolab.state.exp.best.id).number")
    assert numbers[0] == best and numbers[-1] < SMALL["population"]
    page.click(f"#lineage li[data-number='{numbers[-1]}'] button")
    page.wait_for_function(
        f"() => document.getElementById('arch').dataset.number === '{numbers[-1]}'"
    )
    assert "initial" in page.text_content("#diff-summary")


def test_a_web_server_restart_mid_run_ends_caught_up_without_duplicate_dots(stack, page, artefacts):
    s = stack.session("mia")
    # Long enough children that the run is surely mid-way when the web server dies, even on a
    # loaded CI machine (with 40-step children it could finish before the page saw them train).
    exp = stack.create(
        s, {**SMALL, "steps_per_child": 400, "max_individuals": 24}, name="dashboard restart"
    )
    log_in(page, stack)
    page.goto(f"{stack.url}/experiments/{exp['id']}/")
    page.evaluate("window.__noReload = true")
    page.wait_for_selector("#conn.live")
    wait_for(lambda: points(page) >= 2, 120, "a couple of dots")
    page.wait_for_selector("#inflight progress")
    stack.kill("web")
    page.wait_for_selector("#conn.down")
    time.sleep(3)  # children keep finishing while the page is cut off
    stack.start_web()
    page.wait_for_selector("#conn.live", timeout=60_000)
    stack.wait_status(s, exp["id"], ("finished",), 240)
    page.wait_for_function("() => document.getElementById('status').textContent === 'finished'")
    trained = stack.sql(
        "SELECT count(*) FROM experiments_individual"
        " WHERE experiment_id = ? AND trained IS NOT NULL",
        (exp["id"],),
    )[0][0]
    ids = page.evaluate("() => evolab.state.rows.map(r => r.id)")
    assert len(ids) == len(set(ids)) == trained == points(page)
    assert page.evaluate("window.__noReload") is True
    # Panels that fetched while the server was down recover too: 11 mutation rows, no error.
    page.wait_for_function(
        "() => document.querySelectorAll('#analytics tr[data-mutation]').length === 11"
    )
    assert page.locator("#analytics td.error").count() == 0
    page.screenshot(
        path=str(artefacts / f"dashboard-after-restart-{stack.kind}.png"), full_page=True
    )


def test_a_user_of_another_team_gets_no_data_over_http_or_websocket(stack, page, finished):
    oscar = stack.session("oscar")
    base = f"{stack.url}/experiments/{finished['id']}"
    for path in ("/", "/snapshot.json", "/analytics.json", "/individuals/0.json",
                 "/individuals/0/lineage.json"):  # fmt: skip
        assert oscar.get(base + path, timeout=10).status_code == 404, path
    log_in(page, stack, "oscar")
    outcome = page.evaluate(
        """id => new Promise(resolve => {
            const got = [];
            const ws = new WebSocket(`ws://${location.host}/ws/experiments/${id}/?after=0`);
            ws.onmessage = m => got.push(m.data);
            ws.onclose = e => resolve({code: e.code, messages: got.length});
        })""",
        finished["id"],
    )
    # Refused before the handshake completes: the browser reports 1006, and nothing arrives.
    assert outcome["messages"] == 0 and outcome["code"] in (1006, 4404)
    listing = page.content()
    assert "dashboard finished" not in listing


def test_the_list_and_compare_pages_show_the_team_runs(stack, page, finished, artefacts):
    log_in(page, stack)
    page.wait_for_selector(f"tr[data-id='{finished['id']}'] svg.spark polyline")
    page.screenshot(path=str(artefacts / f"experiments-list-{stack.kind}.png"), full_page=True)
    ids = [
        int(x)
        for x in page.eval_on_selector_all("#runs tr[data-id]", "els => els.map(e => e.dataset.id)")
    ]
    page.goto(f"{stack.url}/experiments/compare/?" + "&".join(f"ids={i}" for i in ids[:3]))
    page.wait_for_selector("#compare-chart canvas")
    assert page.locator("#compare-table tbody tr").count() == min(3, len(ids))
    page.screenshot(path=str(artefacts / f"compare-{stack.kind}.png"), full_page=True)
    assert requests.get(f"{stack.url}/experiments/compare/", timeout=10).status_code in (200, 302)


def test_a_run_s_pages_say_only_what_is_true_from_queued_to_stopped(stack, page):
    """A queued run says it has not started (nothing is training yet) and offers no downloads
    of an individual it does not have; its row in the list stops saying "no individuals yet"
    once live updates bring some; a stopped run does not promise a test accuracy (only a
    finished run is evaluated on the test split)."""
    s = stack.session("mia")
    r = s.post(
        f"{stack.url}/api/experiments/",
        json={"name": "texts", "config": {**SMALL, "max_individuals": 400}, "start": False},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    exp_id = r.json()["id"]
    log_in(page, stack)
    page.goto(f"{stack.url}/experiments/{exp_id}/")
    page.wait_for_selector("#conn.live")
    assert page.text_content("#status") == "queued"
    assert page.is_visible("#chart-empty")  # nothing trains before the run is started
    assert page.text_content("#chart-empty") == "No individuals yet: the run has not started."
    assert not page.is_visible("#dl-weights") and not page.is_visible("#dl-dna")

    page.goto(f"{stack.url}/experiments/")
    row = f"#runs tr[data-id='{exp_id}']"
    assert "no individuals yet" in page.inner_text(row)
    page.wait_for_selector("#conn.live")
    assert s.post(f"{stack.url}/api/experiments/{exp_id}/start/", timeout=10).status_code == 200
    page.wait_for_function(
        f'() => +document.querySelector("{row} [data-field=individuals_trained]").textContent > 0',
        timeout=120_000,
    )
    assert "no individuals yet" not in page.inner_text(row)

    assert s.post(f"{stack.url}/api/experiments/{exp_id}/stop/", timeout=10).status_code == 200
    stack.wait_status(s, exp_id, ("stopped",), 60)
    open_experiment(page, stack, exp_id)
    assert page.text_content("#status") == "stopped"
    assert page.text_content("#test-acc") == "not evaluated (stopped)"
    assert page.is_visible("#dl-dna")  # an individual is selected: its downloads are offered


def test_no_page_makes_the_browser_ask_for_a_favicon(stack, page):
    """The icon is inline in base.html, so /favicon.ico is never requested (and never a 404)."""
    log = stack.tmp / "web.log"
    start = log.stat().st_size  # the stack is shared: only what these pages asked for counts
    log_in(page, stack)  # the login page, then the list of runs
    page.goto(f"{stack.url}/accounts/teams/")
    time.sleep(1)  # a browser asks for a missing icon after the page has loaded
    with log.open("rb") as f:
        f.seek(start)
        assert b"favicon.ico" not in f.read()
    assert page.locator("link[rel=icon]").count() == 1
