"""The accuracy-vs-cost chart draws a dot per trained individual and a click on one selects
it (diagram and kept loss curve); the workers page lists the stack's live worker processes."""

import json

import pytest

from .test_first_run_in_the_browser import log_in

# A page's behaviour, not the database's: on the embedded default only (the stacks' own
# differences are the integration tests'), to keep `make test` short.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]


def test_a_cost_dot_selects_its_individual_and_the_workers_page_lists_live_workers(
    finished_run, page, artefacts
):
    stack, _, exp_id = finished_run
    log_in(page, stack)
    page.goto(f"{stack.url}/experiments/{exp_id}/")
    page.wait_for_selector("#conn.live")
    page.wait_for_selector("#arch svg")
    ((trained,),) = stack.sql(
        "SELECT count(*) FROM experiments_individual WHERE experiment_id = ?"
        " AND trained IS NOT NULL AND val_accuracy IS NOT NULL AND flops > 0",
        (exp_id,),
    )
    page.wait_for_function(
        f"() => document.getElementById('scatter').dataset.points === '{trained}'"
    )
    # A dot where the selected individual is not (children of a learning-rate mutation sit
    # where their parents do: clicking there selects one of those, all "the dot there").
    target = page.evaluate("""() => {
        const s = evolab.scatter, here = (r) => s.positionOf(r.id), sel = evolab.state.selected;
        const near = (a, b) => Math.hypot(a.left - b.left, a.top - b.top) < 1;
        return s.rows.find((r) => !near(here(r), here(sel)));
    }""")
    assert target, "every dot sits where the selected one does"
    page.locator("#scatter").scroll_into_view_if_needed()  # a click must land in the viewport
    pos = page.evaluate(f"() => evolab.scatter.positionOf({target['id']})")
    over = page.locator("#scatter .u-over").bounding_box()
    page.mouse.click(over["x"] + pos["left"], over["y"] + pos["top"])
    page.wait_for_function(
        """([left, top]) => {
            const sel = evolab.state.selected, p = evolab.scatter.positionOf(sel.id);
            const shown = document.getElementById("arch").dataset.number === String(sel.number);
            return shown && Math.hypot(p.left - left, p.top - top) < 1;
        }""",
        arg=[pos["left"], pos["top"]],
    )
    target = page.evaluate("() => evolab.state.selected")
    assert page.text_content("#sel-title").startswith(f"Individual #{target['number']}")
    ((curve,),) = stack.sql("SELECT loss_curve FROM experiments_individual WHERE id = ?",
                            (target["id"],))  # fmt: skip
    curve = json.loads(curve) if isinstance(curve, str) else curve  # SQLite: the JSON text
    assert len(curve) == 5  # 5 steps per child: every step kept
    assert page.get_attribute("#loss-curve", "data-points") == "5"
    assert page.locator("#loss-curve canvas").count() == 1
    page.check("input[name=cost-mode][value=params]")
    page.wait_for_function("() => evolab.scatter.xMode === 'params'")
    assert page.get_attribute("#scatter", "data-points") == str(trained)
    page.locator("#cost-h").scroll_into_view_if_needed()
    page.screenshot(path=str(artefacts / f"cost-chart-{stack.kind}.png"), full_page=True)

    page.click("header.top >> text=Workers")
    page.wait_for_selector("#workers tbody tr[data-state]")
    rows = page.locator("#workers tbody tr[data-state]")
    assert rows.count() >= 1
    first = rows.first.text_content()
    assert "CPU" in first and "pid" in first
    assert "worker process" in page.text_content("#workers-summary")
    page.screenshot(path=str(artefacts / f"workers-{stack.kind}.png"), full_page=True)
