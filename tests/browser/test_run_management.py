"""Managing a run from its page: rename, tag, write notes (HTML in them shows as text and
never runs), edit the settings of the run before it starts, archive (gone from the list, back
under the archived filter), delete after typing its name. Another user's open pages (the
run's and the list) show the edits live."""

import shutil
from pathlib import Path

import pytest

from .test_first_run_in_the_browser import log_in

# A page's behaviour, not the database's: on the embedded default only (the stacks' own
# differences are the integration tests'), to keep `make test` short.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]

SHOTS = Path("/tmp/shots-manage")
NOTES = "## Plan\n**bold** <script>window.__ran = 1</script> <img src=x onerror=alert(1)>\n" \
        "- [docs](https://example.org) [bad](javascript:window.__ran=2)"  # fmt: skip


def test_rename_tag_annotate_archive_and_delete(stack, page, browser, artefacts):
    mia = stack.session("mia")
    config = {"dataset": "digits", "population": 2, "max_individuals": 2, "steps_per_child": 5}
    r = mia.post(f"{stack.url}/api/experiments/", json={"name": "x (clone)", "config": config},
                 timeout=30)  # fmt: skip
    run_id, name = r.json()["id"], f"renamed {stack.kind}"
    # vic (a viewer of the team) has the run's page and the list open in another browser:
    # mia's edits reach both without a reload.
    others = browser.new_context(viewport={"width": 1300, "height": 900})
    vic_list, vic_run = others.new_page(), others.new_page()
    log_in(vic_list, stack, "vic")
    vic_list.wait_for_selector("#conn.live")
    vic_run.goto(f"{stack.url}/experiments/{run_id}/")
    vic_run.wait_for_selector("#conn.live")
    log_in(page, stack)
    page.goto(f"{stack.url}/experiments/{run_id}/")

    page.click("#rename")
    page.fill("#rename-input", name)
    page.click("#rename-form button:not([data-cancel])")
    page.wait_for_selector(f"#experiment h1:text-is('{name}')")
    vic_run.wait_for_selector(f"#experiment h1:text-is('{name}')")
    vic_list.wait_for_selector(f"tr[data-id='{run_id}'] [data-field=name] a:text-is('{name}')")
    assert name in vic_run.title(), vic_run.title()
    # A live status update (here: the workers set through the API) keeps the new name in the
    # tab's title: the page's copy of the run was renamed too.
    r = mia.post(f"{stack.url}/api/experiments/{run_id}/workers/", json={"workers": 2},
                 timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    page.wait_for_function("() => document.getElementById('workers-input').value === '2'")
    assert name in page.title(), page.title()

    page.click("#tags-edit")
    page.fill("#tags-input", "Baseline, lr-sweep")
    page.click("#tags-form button:not([data-cancel])")
    page.wait_for_selector("#tags-view [data-tag=lr-sweep]")
    assert page.text_content("#tags-view") == "baselinelr-sweep"
    vic_run.wait_for_selector("#tags-view [data-tag=lr-sweep]")
    vic_list.wait_for_selector(f"tr[data-id='{run_id}'] a.tag:text-is('lr-sweep')")

    page.click("#notes-edit")
    page.fill("#notes-input", NOTES)
    assert page.text_content("#notes-preview strong") == "bold"  # the preview, live
    page.click("#notes-form button:not([data-cancel])")
    page.wait_for_selector("#notes-view h4")
    vic_run.wait_for_selector("#notes-view h4")
    assert vic_run.evaluate("window.__ran") is None

    # Not started yet: its settings open in the run form, and a save changes this run.
    page.click("[data-action=settings]")
    page.wait_for_selector("h1:text-is('Edit settings')")
    page.fill("#id_steps_per_child", "7")
    page.click(".run-form button[type=submit]")
    page.wait_for_url(f"{stack.url}/experiments/{run_id}/")
    assert page.text_content("[data-config=steps_per_child]") == "7"
    vic_run.wait_for_selector("[data-config=steps_per_child]:text-is('7')")
    others.close()
    page.reload()  # the notes as stored, rendered anew
    page.wait_for_selector("#notes-view h4")
    view = page.locator("#notes-view")
    assert "<script>window.__ran = 1</script>" in view.text_content()
    assert view.locator("script, img").count() == 0
    assert view.locator("a").evaluate_all("links => links.map(a => a.href)") == [
        "https://example.org/"
    ]
    assert page.evaluate("window.__ran") is None
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(artefacts / f"manage-{stack.kind}.png"), full_page=True)
    shutil.copy(artefacts / f"manage-{stack.kind}.png", SHOTS)

    assert page.is_hidden("#archived-badge") and page.is_hidden("#rename-form")
    page.click("#archive")
    page.wait_for_selector("#archived-badge:visible")
    page.goto(f"{stack.url}/experiments/")
    assert page.locator(f"tr[data-id='{run_id}']").count() == 0
    page.select_option("#f-archived", "true")
    page.click(".filters button")
    page.wait_for_selector(f"tr[data-id='{run_id}'] .badge.archived")
    page.screenshot(path=str(SHOTS / f"list-archived-{stack.kind}.png"), full_page=True)

    page.goto(f"{stack.url}/experiments/{run_id}/")
    page.click("#delete")
    assert page.text_content("#delete-name") == name
    page.fill("#delete-confirm", "renamed")
    assert page.is_disabled("#delete-go")
    page.fill("#delete-confirm", name)
    page.screenshot(path=str(SHOTS / f"delete-{stack.kind}.png"))
    page.click("#delete-go")
    page.wait_for_url(f"{stack.url}/experiments/")
    assert page.text_content("#notice") == f"Deleted “{name}”."
    assert mia.get(f"{stack.url}/api/experiments/{run_id}/", timeout=10).status_code == 404
