"""The run report (issue #18.4) of a run of a few individuals: one dot per individual (the
killed ones grey), a best-so-far line that never falls, the lineage's edges named by their
mutations, the run's own numbers, and repeats of its config overlaid; the page and the
downloaded file share one body, with no script and no style attribute; only the team sees
either (another team's run and a missing one are the same 404)."""

import random
import re
import zlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from evolab.evolution.dna import DNA
from evolab.evolution.mutations import apply_mutation
from evolab.experiments import report, services
from evolab.experiments.models import Experiment

from .conftest import Births

ACCS = [0.2, 0.35, 0.3, 0.5, 0.45, 0.62]  # trained in this order
DEAD = {1, 2}  # numbers killed by tournaments


def grown_dna() -> dict:
    """A DNA with two convolutions and a skip, made by real mutations."""
    rng, dna = random.Random(4), DNA.initial()
    for name in ("INSERT-CONVOLUTION", "INSERT-CONVOLUTION", "ADD-SKIP"):
        dna = apply_mutation(dna, name, rng, in_shape=(1, 8, 8)).dna
    return dna.to_json()


@pytest.fixture
def run(exp, birth):
    """#0, #1 initial; #2 from #0; #3 from #0; #4 from #3; #5 (the best) from #3: a lineage
    0 -> 3 -> 5 made by INSERT-CONVOLUTION then ADD-SKIP. Plus one child still training."""
    a = birth(ACCS[0], flops=1e6, timings={"step": 1800.0})
    birth(ACCS[1], state="dead", flops=2e6, train_seconds=900.0)
    birth(ACCS[2], parent=a, mutation="IDENTITY", state="dead", flops=3e6)
    b = birth(ACCS[3], parent=a, mutation="INSERT-CONVOLUTION", flops=4e7)
    birth(ACCS[4], parent=b, mutation="ALTER-LEARNING-RATE", flops=5e7)
    best = birth(ACCS[5], parent=b, mutation="ADD-SKIP", flops=6e8, params=1234)
    birth(None, parent=best, mutation="IDENTITY", state="training", trained=False)
    best.dna = grown_dna()
    best.save()
    exp.best, exp.best_val_accuracy, exp.status = best, ACCS[5], "finished"
    exp.individuals_trained, exp.individuals_created, exp.total_flops = 6, 7, 7.04e8
    exp.ended = exp.started + timedelta(seconds=90)
    exp.save()
    return exp


def polyline(svg: str, cls: str) -> list[tuple[float, float]]:
    found = re.search(rf'<polyline class="{cls}[^"]*" points="([^"]+)"', svg)
    return [tuple(map(float, p.split(","))) for p in found.group(1).split()]


def figure(html: str, cls: str) -> str:
    return re.search(rf'<svg [^>]*class="figure {cls}".*?</svg>', html, re.S).group(0)


def test_the_file_draws_every_individual_the_best_so_far_and_the_lineage(run):
    html = report.standalone(run, "http://testserver/experiments/1/")
    population = figure(html, "population")
    dots = re.findall(r'<circle class="dot (alive|dead)" data-number="(\d+)"', population)
    assert sorted(int(n) for _, n in dots) == list(range(6))  # not the child in training
    assert {int(n) for state, n in dots if state == "dead"} == DEAD
    line = polyline(population, "best-line")
    assert [x for x, _ in line] == sorted(x for x, _ in line)  # left to right
    assert [y for _, y in line] == sorted((y for _, y in line), reverse=True)  # never falls
    assert len({y for _, y in line}) == 4  # it rose at 0.2, 0.35, 0.5 and 0.62
    assert len(re.findall(r'<circle class="dot', figure(html, "flops"))) == 6

    edges = re.findall(r'class="lineage-edge" data-mutation="([A-Z-]+)"', html)
    assert edges == ["INSERT-CONVOLUTION", "ADD-SKIP"]  # 0 -> 3 -> 5, the initial first
    assert "+30.00 pts" in html and "+12.00 pts" in html  # 0.2 -> 0.5 -> 0.62
    arch = figure(html, "architecture")
    assert 'data-convs="2"' in arch and 'data-skips="1"' in arch and "conv 3×3" in arch

    mutations = dict(re.findall(r'<tr data-mutation="([A-Z-]+)"><td>[A-Z-]+</td><td class="num">'
                                r"(\d+)", html))  # fmt: skip
    assert mutations["IDENTITY"] == "2" and mutations["ADD-SKIP"] == "1"
    assert mutations["REMOVE-SKIP"] == "0"
    assert "62.00%" in html and ">6<" in html.replace(",", "") and "704 MFLOPs" in html
    assert "0.75 h" in html  # worker-hours: 1,800 s of #0's step + 900 s of #1's training
    assert html.count("not evaluated") == 3  # the best's, the run's and the ensemble's tests
    # Self-contained: the stylesheet inline, nothing fetched, nothing run.
    assert "<style>" in html and ".report-lineage" in html
    assert not re.search(r"<script|<link|\ssrc=|@import|url\(http", html)


def test_the_page_shares_the_files_body_without_script_or_style_attribute(run, member):
    page = Client()
    page.force_login(member)
    html = page.get(f"/experiments/{run.pk}/report/").content.decode()
    body = re.search(r'<article class="report".*</article>', html, re.S).group(0)
    file = report.standalone(run, f"http://testserver/experiments/{run.pk}/")
    same = re.search(r'<article class="report".*</article>', file, re.S).group(0)
    footer = re.compile(r'<footer class="report-foot">.*?</footer>', re.S)
    assert footer.sub("", body) == footer.sub("", same)
    assert not re.search(r"\sstyle=|<style|<script(?![^>]*\ssrc=)", html)  # the site's CSP
    assert f'href="/experiments/{run.pk}/report.html"' in html
    detail = page.get(f"/experiments/{run.pk}/").content.decode()
    assert f'href="/experiments/{run.pk}/report/"' in detail


CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')


def test_only_the_team_gets_the_report_as_a_page_a_file_and_from_the_api(run, outsider, member):
    missing = Experiment.objects.order_by("-pk").first().pk + 1
    for path in ("/experiments/{}/report/", "/experiments/{}/report.html",
                 "/api/experiments/{}/report/"):  # fmt: skip
        own = Client()
        own.force_login(member)
        r = own.get(path.format(run.pk))
        assert r.status_code == 200 and r["Content-Type"].startswith("text/html"), path
        stranger = Client()
        stranger.force_login(outsider)
        gone = [stranger.get(path.format(pk)) for pk in (run.pk, missing)]
        assert [g.status_code for g in gone] == [404, 404], path
        unmasked = [CSRF.sub(b"", g.content) for g in gone]  # each page masks its token anew
        assert unmasked[0] == unmasked[1]  # indistinguishable
        assert Client().get(path.format(run.pk)).status_code in (302, 401, 403), path
    client = APIClient()
    client.force_authenticate(member)
    r = client.get(f"/api/experiments/{run.pk}/report/", HTTP_ACCEPT="text/html")
    assert r["Content-Disposition"] == f'attachment; filename="evolab-report-{run.pk}-dash.html"'
    assert b'class="figure population"' in r.content


def test_repeats_of_the_config_are_overlaid_and_nothing_else(run, team, member, other_team):
    def clone(owner_team, config):
        other = services.create_experiment(owner_team, member, "again", config)
        other.started = timezone.now() - timedelta(seconds=60)
        other.save()
        return other

    again = clone(team, {**run.config, "seed": 99})
    clone(team, {**run.config, "population": 3})  # another config: not a repeat
    clone(other_team, {**run.config, "seed": 98})  # another team's
    assert [e.pk for e in report.repeats(run)] == [run.pk, again.pk]
    Births(again)(0.7)
    repeats = figure(report.standalone(run), "repeats")
    assert repeats.count('class="repeat-line') == 2 and 'data-runs="2"' in repeats
    assert f"#{again.pk} again (seed 99)" in repeats


def test_a_run_still_going_says_so_instead_of_a_test_accuracy(exp, birth):
    birth(0.4)
    html = report.standalone(exp)
    assert "not evaluated: the run is queued" in html
    assert html.count('<circle class="dot alive"') == 1


def inflated(pdf: bytes) -> bytes:
    """The PDF with its compressed streams inflated (WeasyPrint packs its objects into
    FlateDecode object streams; there is no PDF reader in the venv to ask instead)."""
    parts = [pdf]
    for found in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(found.group(1)))
        except zlib.error:
            pass  # a stream of another filter (none here), or not one at all
    return b"\n".join(parts)


def test_the_pdf_is_the_report_laid_out_and_only_for_the_team(run, member, outsider):
    """A real PDF: its header, a page tree of at least one page (as many page objects as it
    counts), and the run's name as text in it (the outline entry WeasyPrint makes of the
    report's title: the pages draw their text as glyph codes of subset fonts, which only
    each font's ToUnicode map turns back into letters)."""
    Experiment.objects.filter(pk=run.pk).update(name="Digits baseline")
    missing = Experiment.objects.order_by("-pk").first().pk + 1
    own, stranger = Client(), Client()
    own.force_login(member)
    stranger.force_login(outsider)
    page = own.get(f"/experiments/{run.pk}/report/").content.decode()
    assert f'href="/experiments/{run.pk}/report.pdf"' in page  # "Download PDF"
    for path in ("/experiments/{}/report.pdf", "/api/experiments/{}/report/?format=pdf"):
        r = own.get(path.format(run.pk), HTTP_ACCEPT="application/pdf")
        assert r.status_code == 200 and r["Content-Type"] == "application/pdf", path
        name = f"evolab-report-{run.pk}-digits-baseline.pdf"
        assert r["Content-Disposition"] == f'attachment; filename="{name}"'
        assert r.content.startswith(b"%PDF-")
        body = inflated(r.content)
        count = int(re.search(rb"/Type /Pages\b.*?/Count (\d+)", body, re.S).group(1))
        assert count >= 1 and len(re.findall(rb"/Type /Page\b(?!s)", body)) == count
        assert f"/Title (Digits baseline run #{run.pk})".encode() in body
        assert [stranger.get(path.format(pk)).status_code for pk in (run.pk, missing)] == [404] * 2
        assert Client().get(path.format(run.pk)).status_code in (302, 401, 403), path
    r = own.get(f"/api/experiments/{run.pk}/report/?format=docx")
    assert r.status_code == 400 and "format" in r.json()


def test_without_pango_the_pdf_is_a_503_that_says_what_to_install(run, member, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as when libpango cannot load
    own = Client()
    own.force_login(member)
    r = own.get(f"/experiments/{run.pk}/report.pdf")
    assert r.status_code == 503 and "Pango" in r.content.decode()
    assert own.get(f"/experiments/{run.pk}/report/").status_code == 200  # the HTML still is


def test_the_pdf_fetches_nothing(run):
    """A report names no resource; were one to, WeasyPrint's fetcher reads no URL at all."""
    import weasyprint

    fetcher = weasyprint.URLFetcher(allowed_protocols=())
    with pytest.raises(ValueError, match="disallowed protocol"):
        fetcher("file:///etc/passwd")
    assert report.pdf(run).startswith(b"%PDF-")
