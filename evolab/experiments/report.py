"""The run report (issue #18.4): the paper's figures for one run, as one HTML document.

`context(exp)` reads the run (a handful of queries whatever its size) and draws its figures
as SVG text (report_svg.py, report_arch.py); the templates lay them out. The page
(/experiments/<id>/report/, inside the site: its stylesheet linked, its CSP kept) and the
download (/experiments/<id>/report.html, /api/experiments/<id>/report/, `evolab report`)
include the same body, experiments/_report_body.html; the download inlines the stylesheet
instead of linking it, so the file opens offline, with no script at all. The PDF
(/experiments/<id>/report.pdf, the API's ?format=pdf, `evolab report -o FILE.pdf`) is that
file laid out by WeasyPrint, A4 with page numbers, fetching nothing. Only the run's team
reaches any of them (the caller looks the run up with its team scoping), and runs of the
same config shown beside it are that team's too.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.text import slugify

from evolab import __version__
from evolab.evolution.config import EvolutionConfig

from . import dashboard, report_svg
from .models import TERMINAL, Experiment, State
from .report_arch import architecture_figure

STYLESHEET = "evolab/report.css"
MAX_REPEATS = 12
IGNORED_FOR_REPEATS = ("seed",)  # a repeat: the same config but for these (and the name)
ROW = ("number", "state", "val_accuracy", "trained", "flops", "train_seconds", "timings")


def _pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else (f"{m} min {s:02d} s" if m else f"{s} s")


def _flops(value: float | None) -> str:
    return "–" if not value else f"{report_svg.si(value)}FLOPs ({value:.3g})"


def _individuals(exp: Experiment) -> list[tuple]:
    """(number, state, acc, seconds since start, flops, worker seconds) of the trained ones."""
    t0 = exp.started.timestamp() if exp.started else 0.0
    rows = (
        exp.individuals.exclude(trained=None)
        .exclude(val_accuracy=None)
        .order_by("trained", "number")
        .values_list(*ROW)
    )
    out = []
    for number, state, acc, trained, flops, train_s, timings in rows.iterator(chunk_size=5000):
        worker_s = (timings or {}).get("step") or train_s or 0.0
        out.append((number, state, acc, max(0.0, trained.timestamp() - t0), flops, worker_s))
    return out


def _figures(exp: Experiment, rows: list[tuple], curve: list[tuple]) -> dict[str, str]:
    best = exp.best.number if exp.best_id and exp.best else None
    dead = {State.DEAD}
    population = [(t, acc, state in dead, n) for n, state, acc, t, _, _ in rows]
    figures = {
        "population": report_svg.population_figure(
            population, [(t, acc) for _, t, acc in curve], best
        ),
        "flops": report_svg.flops_figure(
            [(f, acc, state in dead, n) for n, state, acc, _, f, _ in rows], best
        ),
    }
    return {k: mark_safe(v) for k, v in figures.items()}  # noqa: S308 (escaped in report_svg)


def _best(exp: Experiment) -> dict[str, Any] | None:
    ind = exp.best
    if ind is None:
        return None
    chain = dashboard.lineage(exp, ind.number) or []
    shapes = dashboard.dna_shapes(ind.dna, exp.cfg.in_shape)
    return {
        "number": ind.number,
        "state": ind.state,
        "facts": [
            ("Validation accuracy", _pct(ind.val_accuracy)),
            (
                "Test accuracy",
                "not evaluated" if ind.test_accuracy is None else _pct(ind.test_accuracy),
            ),
            ("Parameters", f"{ind.params:,}"),
            ("FLOPs to train and validate", _flops(ind.flops)),
            ("Learning rate", f"{ind.dna.get('learning_rate', 0):.4g}"),
            ("Training steps along its lineage", f"{ind.steps:,}"),
            ("Made by", ind.mutation or "the initial population"),
        ],  # fmt: skip
        "architecture": mark_safe(architecture_figure(ind.dna, shapes)),  # noqa: S308
        "lineage": [_link(x, x is chain[0]) for x in reversed(chain)],  # initial first
        "generations": max(0, len(chain) - 1),
    }


def _delta(delta: float | None) -> tuple[str, str]:
    """(text, class) of an accuracy change: "+1.25 pts", "up"."""
    if delta is None:
        return "–", ""
    return f"{delta * 100:+.2f} pts", "up" if delta > 0 else "down" if delta < 0 else ""


def _link(link: dict, best: bool) -> dict[str, Any]:
    text, sign = _delta(link["delta"])
    kind = "initial" if link["initial"] else "best" if best else "child"
    return {**link, "acc": _pct(link["val_accuracy"]), "delta_text": text, "sign": sign,
            "kind": kind}  # fmt: skip


def _mutations(exp: Experiment) -> list[dict[str, Any]]:
    rows = dashboard.mutation_analytics(exp)
    most = max((r["applied"] for r in rows), default=0) or 1
    for r in rows:
        r["bar"] = mark_safe(report_svg.bar(r["applied"] / most))  # noqa: S308
        r["rate"] = _pct(r["survival_rate"], 0) if r["survival_rate"] is not None else "–"
        r["delta"], r["sign"] = _delta(r["mean_delta"])
    return rows


def _share(spent: float, limit: float | None, shown: str) -> str:
    return f"of {shown} ({100 * spent / limit:.0f}%)" if limit else "no limit"


def _budget(exp: Experiment, rows: list[tuple]) -> list[tuple[str, str, str]]:
    """(what, spent, against its limit) rows. Worker-hours: the whole step of every trained
    individual (claim, train, validate, commit; its training time where older rows lack it)."""
    cfg, elapsed, trained = exp.cfg, exp.elapsed_seconds(), exp.individuals_trained
    worker_s = sum(r[5] for r in rows)
    worker_time = f"{worker_s / 3600:.2f} h" if worker_s >= 360 else _duration(worker_s)
    limit_flops = report_svg.si(cfg.max_flops) + "FLOPs" if cfg.max_flops else ""
    return [
        ("Individuals trained", f"{trained:,}",
         _share(trained, cfg.max_individuals, f"{cfg.max_individuals:,}")),
        ("Individuals conceived", f"{exp.individuals_created:,}",
         "the initial population and every child, failed ones included"),
        ("Compute", _flops(exp.total_flops), _share(exp.total_flops, cfg.max_flops, limit_flops)),
        ("Wall-clock time", _duration(elapsed),
         _share(elapsed, cfg.max_seconds, _duration(cfg.max_seconds))),
        ("Worker-hours", worker_time,
         f"summed over the steps of the {len(rows):,} trained individuals"),
    ]  # fmt: skip


def _evaluation(exp: Experiment) -> list[tuple[str, str]]:
    """Test and ensemble accuracy, or why there is none (honestly: never a placeholder)."""
    if exp.status not in TERMINAL:
        why = f"not evaluated: the run is {exp.status}; the test set is used once, at the end"
    else:
        why = "not evaluated" + (f" (the run {exp.status})" if exp.status != "finished" else "")
    best, ensemble = exp.test_accuracy, exp.ensemble_test_accuracy
    return [
        ("Test accuracy of the best", why if best is None else _pct(best)),
        (f"Test accuracy of the top-{exp.cfg.ensemble_k} ensemble",
         why if ensemble is None else _pct(ensemble)),
    ]  # fmt: skip


def _same_config(a: dict, b: dict) -> bool:
    def key(config: dict) -> dict:
        full = {**EvolutionConfig().to_json(), **config}  # older runs lack newer keys
        return {k: v for k, v in full.items() if k not in IGNORED_FOR_REPEATS}

    return key(a) == key(b)


def repeats(exp: Experiment) -> list[Experiment]:
    """This run and the team's other runs of the same config but for the seed (at most 12)."""
    rows = (
        Experiment.objects.filter(team_id=exp.team_id, config__dataset=exp.config.get("dataset"))
        .exclude(pk=exp.pk)
        .exclude(started=None)
        .order_by("-created")
    )
    same = [e for e in rows if _same_config(e.config, exp.config)]
    return [exp, *same[: MAX_REPEATS - 1]]


def _repeats_figure(runs: list[Experiment], this: Experiment, curve) -> dict[str, Any] | None:
    if len(runs) < 2:
        return None
    curves, table = [], []
    for run in runs:
        steps = curve if run.pk == this.pk else dashboard.best_so_far(run)
        curves.append((f"#{run.pk} {run.name} (seed {run.config.get('seed')})", run.pk == this.pk,
                       [(n, acc) for n, _, acc in steps]))  # fmt: skip
        table.append({"id": run.pk, "name": run.name, "seed": run.config.get("seed"),
                      "status": run.status, "trained": run.individuals_trained,
                      "best": _pct(run.best_val_accuracy), "test": _pct(run.test_accuracy),
                      "this": run.pk == this.pk})  # fmt: skip
    bests = [r.best_val_accuracy for r in runs if r.best_val_accuracy is not None]
    spread = None
    if len(bests) >= 2:
        mean = sum(bests) / len(bests)
        sd = math.sqrt(sum((b - mean) ** 2 for b in bests) / (len(bests) - 1))
        spread = f"{mean * 100:.2f}% ± {sd * 100:.2f} (mean ± s.d. of {len(bests)} runs)"
    svg = report_svg.repeats_figure(curves)
    return {"figure": mark_safe(svg), "runs": table, "spread": spread}  # noqa: S308


def _config(exp: Experiment) -> list[tuple[str, Any]]:
    names = EvolutionConfig.field_names()
    known = [(k, exp.config[k]) for k in names if k in exp.config]
    return known + sorted((k, v) for k, v in exp.config.items() if k not in names)


def context(exp: Experiment, link: str | None = None) -> dict[str, Any]:
    """Everything the report's templates show. `link`: the run's page, as an absolute URL."""
    rows, curve = _individuals(exp), dashboard.best_so_far(exp)
    return {
        "experiment": exp,
        "link": link,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "summary": [
            ("Best validation accuracy", _pct(exp.best_val_accuracy)),
            ("Individuals trained", f"{exp.individuals_trained:,}"),
            ("Wall-clock time", _duration(exp.elapsed_seconds())),
        ],
        "figures": _figures(exp, rows, curve),
        "best": _best(exp),
        "mutations": _mutations(exp),
        "budget": _budget(exp, rows),
        "evaluation": _evaluation(exp),
        "repeats": _repeats_figure(repeats(exp), exp, curve),
        "config": _config(exp),
        "split": exp.dataset_split,
    }


def stylesheet() -> str:
    """The report's CSS, for inlining into the standalone file."""
    path = finders.find(STYLESHEET)
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def standalone(exp: Experiment, link: str | None = None) -> str:
    """The self-contained HTML file: the same body as the page, the stylesheet inlined."""
    ctx = context(exp, link) | {"css": mark_safe(stylesheet())}  # noqa: S308 (our own file)
    return render_to_string("experiments/report_file.html", ctx)


class PdfUnavailable(RuntimeError):
    """WeasyPrint cannot load here (it needs the Pango library from the system)."""


PDF_UNAVAILABLE = (
    "The PDF report needs the Pango library, which this server lacks (Debian: apt-get install "
    "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0; `make test` installs it). "
    "The HTML report works without it."
)


def pdf(exp: Experiment, link: str | None = None) -> bytes:
    """The standalone file as a PDF. The file names no resource to fetch; WeasyPrint's
    fetcher is given no protocol all the same, so nothing (file:, http:) is ever read."""
    try:
        import weasyprint  # noqa: PLC0415 (a heavy import, for this download only)
    except (ImportError, OSError) as exc:  # OSError: cannot load library 'libpango…'
        raise PdfUnavailable(PDF_UNAVAILABLE) from exc

    fetcher = weasyprint.URLFetcher(allowed_protocols=())
    page = weasyprint.CSS(string=PDF_PAGE, url_fetcher=fetcher)
    html = weasyprint.HTML(string=standalone(exp, link), url_fetcher=fetcher)
    return html.write_pdf(stylesheets=[page])


PDF_PAGE = """@page { size: A4; margin: 14mm 12mm 16mm;
  @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; color: #667; } }"""
FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def filename(exp: Experiment, fmt: str = "html") -> str:
    return f"evolab-report-{exp.pk}-{slugify(exp.name)[:60] or 'run'}.{fmt}"


def attachment(request: HttpRequest, exp: Experiment, fmt: str = "html") -> HttpResponse:
    """The standalone file (or its PDF) as a download: the page's links, the API, the CLI."""
    link = request.build_absolute_uri(f"/experiments/{exp.pk}/")
    try:
        body = pdf(exp, link) if fmt == "pdf" else standalone(exp, link)
    except PdfUnavailable as exc:
        return HttpResponse(str(exc), status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(body, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename(exp, fmt)}"'
    return response
