"""The run report in Debian's Chromium: the page inside the site under its CSP (the page
fixture fails on any violation), its "Download" link, and the downloaded file opened from
disk with JavaScript off and no network, its figures drawn (a screenshot that is not
blank, dots and lines where the figures are)."""

import pytest
from PIL import Image

from .test_first_run_in_the_browser import log_in

# A page's behaviour, not the database's: on the embedded default only (the stacks' own
# differences are the integration tests'), to keep `make test` short.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]


def test_the_report_page_and_its_downloaded_file_draw_the_figures_offline(
    finished_run, page, browser, artefacts, tmp_path
):
    stack, mia, exp_id = finished_run
    trained = mia.get(f"{stack.url}/api/experiments/{exp_id}/", timeout=30).json()
    trained = trained["individuals_trained"]
    log_in(page, stack)
    page.goto(f"{stack.url}/experiments/{exp_id}/report/")  # the run page links it (unit test)
    assert page.locator("svg.figure.population circle.dot").count() == trained
    page.screenshot(path=str(artefacts / f"report-page-{stack.kind}.png"), full_page=True)
    with page.expect_download() as download:
        page.click("text=Download as one HTML file")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == f"evolab-report-{exp_id}-ws.html"
    with page.expect_download() as pdf:
        page.click("text=Download PDF")
    assert pdf.value.suggested_filename == f"evolab-report-{exp_id}-ws.pdf"
    assert open(pdf.value.path(), "rb").read(5) == b"%PDF-"

    offline = browser.new_context(
        java_script_enabled=False, offline=True, viewport={"width": 1200, "height": 900}
    )
    try:
        view = offline.new_page()
        view.goto(path.as_uri())
        figure = view.locator("svg.figure.population")
        box = figure.bounding_box()
        assert box["width"] > 500 and box["height"] > 200
        assert view.locator("svg.figure.population circle.dot").count() == trained
        assert view.locator("polyline.best-line").count() == 1
        assert view.locator("svg.figure.architecture g.vertex").count() >= 2
        shot = artefacts / f"report-file-{stack.kind}.png"
        view.screenshot(path=str(shot), full_page=True)
        figure.screenshot(path=str(tmp_path / "figure.png"))
    finally:
        offline.close()
    whole, chart = Image.open(shot).convert("RGB"), Image.open(tmp_path / "figure.png")
    assert whole.height > 1500  # every section laid out, not an empty page
    colours = chart.convert("RGB").getcolors(maxcolors=1 << 16) or []
    assert len(colours) > 20  # dots, line, grid and labels: not one flat colour
    blue = sum(n for n, (r, g, b) in colours if b > 150 and r < 90)  # the alive dots
    orange = sum(n for n, (r, g, b) in colours if r > 170 and 40 < g < 110 and b < 60)  # best
    assert blue > 30 and orange > 30, (blue, orange)
