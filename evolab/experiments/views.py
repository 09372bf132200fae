"""Pages. Thin: look up with team scoping (another team's object is a 404), call services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from evolab.accounts.models import Membership, Role
from evolab.accounts.services import current_team, role_in, teams_for, teams_in_view
from evolab.json_routes import json_login_required
from evolab.redaction import redact_paths

from . import (
    actions,
    dashboard,
    downloads,
    listing,
    processes,
    report,
    seed_files,
    services,
    warmstart,
)
from .config import ConfigError
from .config_diff import config_diff
from .forms import ExperimentForm, clone_initial
from .models import Experiment, Status, TransitionError
from .warmstart_form import SeedFilesForm, StartFromForm


def experiment_for(request: HttpRequest, pk: int, role: str = Role.VIEWER) -> Experiment:
    """The experiment if the user's team role allows `role`; 404 otherwise (ids leak nothing)."""
    return get_object_or_404(Experiment.objects.for_teams(teams_for(request.user, role)), pk=pk)


@login_required
def experiment_list(request: HttpRequest) -> HttpResponse:
    """The team's runs: filtered, sorted by any column and paged on the server (listing.py)."""
    base = Experiment.objects.for_teams(teams_in_view(request))  # the switcher's team, or all
    context, status = listing.list_context(base, request.GET)
    context["statuses"] = Status.values
    return render(request, "experiments/list.html", context, status=status)


def _plain_id(text: str) -> bool:
    """ASCII digits within a database id's range ('²' is a digit to str.isdigit, not to int)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


@login_required
def experiment_compare(request: HttpRequest) -> HttpResponse:
    """Best-so-far curves of chosen runs overlaid: the paper's repeatability figure."""
    ids = [int(x) for x in request.GET.getlist("ids") if _plain_id(x)][:12]
    runs = list(Experiment.objects.for_teams(teams_for(request.user)).filter(pk__in=ids))
    runs.sort(key=lambda e: ids.index(e.pk))
    configs = config_diff([exp.config for exp in runs])
    same = sum(not row["differs"] for row in configs)
    context = {"runs": dashboard.compare(runs), "configs": configs, "same_count": same}
    return render(request, "experiments/compare.html", context)


@login_required
def experiment_new(request: HttpRequest) -> HttpResponse:
    teams = teams_for(request.user, Role.MEMBER)
    if not teams.exists():
        return _cannot_create(request)
    current = current_team(request)
    source = _clone_source(request)
    initial = clone_initial(source) if source else {"team": str(current.pk)} if current else None
    form = ExperimentForm(request.POST or None, teams=teams, initial=initial)
    start = StartFromForm(
        request.POST or None,
        request.FILES or None,
        teams=teams,
        initial={"run": request.GET.get("start_from", "")},
    )
    if request.method == "POST" and all([form.is_valid(), start.is_valid()]):
        config = form.cleaned_data["config"]
        seeds = start.checked_seeds(config, config.population)  # before anything is made
        try:
            if seeds is not None:
                exp = services.create_experiment(
                    form.cleaned_data["team"],
                    request.user,
                    form.cleaned_data["name"],
                    config,
                    start=True,
                    start_from=start.cleaned_data["start_from"],
                    cloned_from=source,
                    seeds=seeds,
                )
                return redirect("experiment-detail", pk=exp.pk)
        except (warmstart.SourceNotFound, warmstart.WarmStartError) as exc:
            start.add_error("k" if str(exc).startswith("k:") else "run", str(exc))
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "start_form": start, "has_team": bool(teams), "source": source}
    return render(request, "experiments/new.html", context, status=status)


def _clone_source(request: HttpRequest) -> Experiment | None:
    """The run "Clone with changes" starts from (?from=<id>, then the form's cloned_from):
    one the user may clone (a member of its team), else a 404 like any stranger's id."""
    value = request.POST.get("cloned_from") if request.method == "POST" else request.GET.get("from")
    if not value:
        return None
    if not _plain_id(value):
        raise Http404
    return experiment_for(request, int(value), Role.MEMBER)


def _cannot_create(request: HttpRequest) -> HttpResponse:
    """In no team, or a viewer only: what to do instead of a form that cannot be sent."""
    viewing = list(Membership.objects.for_user(request.user).select_related("team"))
    admins = {
        m.team_id: m.user.username
        for m in Membership.objects.filter(team__in=[v.team for v in viewing], role=Role.ADMIN)
        .select_related("user")
        .order_by("user__username")
    }
    context = {"viewing": [(m.team, admins.get(m.team_id)) for m in viewing]}
    status = 403 if request.method == "POST" else 200
    return render(request, "experiments/new_unavailable.html", context, status=status)


@login_required
def experiment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exp = experiment_for(request, pk)
    can_control = (role_in(request.user, exp.team_id) or "") in (Role.MEMBER, Role.ADMIN)
    context = {"experiment": exp, "can_control": can_control, "cfg": exp.cfg,
               "actions": actions.allowed(exp)}  # fmt: skip
    context["capacity"] = processes.capacity(exp)  # more workers asked than processes?
    if can_control and exp.status == Status.QUEUED:  # its import of DNA files
        context["seed_form"] = form = SeedFilesForm(prefix="seed")
        for field in form.fields.values():  # disabled live once it starts (experiment.js)
            field.widget.attrs.update({"data-action": "seed", "data-needs": "start"})
        context["seed_room"] = max(0, exp.cfg.population - exp.individuals_created)
    return render(request, "experiments/detail.html", context)


@login_required
@require_POST
def experiment_seed(request: HttpRequest, pk: int) -> HttpResponse:
    """A queued run's page: DNA files (each with optional weights) join its initial
    population, as the API's seed import does one file; all of them or, with the reason
    each file was refused, none. Members and admins only (a viewer gets a stranger's 404)."""
    exp = experiment_for(request, pk, Role.MEMBER)
    try:
        messages.success(request, _import_files(request, exp))
    except ValueError as exc:  # imports.ImportError_ included: started or filled meanwhile
        messages.error(request, f"Nothing was imported: {exc}")
    return redirect("experiment-detail", pk=exp.pk)


def _import_files(request: HttpRequest, exp: Experiment) -> str:
    form = SeedFilesForm(request.POST, request.FILES, prefix="seed")
    form.is_valid()  # its fields refuse nothing: seed_files checks the files
    if exp.status != Status.QUEUED:
        raise ValueError("individuals join a run before it starts.")
    if not form.cleaned_data.get("dna"):
        raise ValueError("choose one or more DNA files (JSON).")
    seeds = form.checked_seeds(exp.cfg, exp.cfg.population - exp.individuals_created)
    if seeds is None:
        raise ValueError(" ".join(m for errors in form.errors.values() for m in errors))
    made = seed_files.store(exp.pk, seeds, request.user)
    names = ", ".join(f"#{i.number} ({s.name})" for i, s in zip(made, seeds, strict=True))
    return f"Imported into the initial population: {names}."


@json_login_required
def experiment_snapshot(request: HttpRequest, pk: int) -> JsonResponse:
    """Everything the page needs at load, as arrays; live events continue from `last_seq`."""
    return JsonResponse(dashboard.snapshot(experiment_for(request, pk)))


@json_login_required
def experiment_costs(request: HttpRequest, pk: int) -> JsonResponse:
    """FLOPs and parameters of the trained individuals (the accuracy-vs-cost chart)."""
    return JsonResponse(dashboard.costs(experiment_for(request, pk)))


@json_login_required
def individual_detail(request: HttpRequest, pk: int, number: int) -> JsonResponse:
    detail = dashboard.individual_detail(experiment_for(request, pk), number)
    if detail is None:
        raise Http404
    return JsonResponse(detail)


@json_login_required
def individual_lineage(request: HttpRequest, pk: int, number: int) -> JsonResponse:
    chain = dashboard.lineage(experiment_for(request, pk), number)
    if chain is None:
        raise Http404
    return JsonResponse({"lineage": chain})


@json_login_required
def individual_downloads(request: HttpRequest, pk: int, number: int) -> JsonResponse:
    """The page's download links of one individual: file names, sizes when known, and
    whether a first request has to make the file (downloads.offered)."""
    ind = get_object_or_404(experiment_for(request, pk).individuals, number=number)
    return JsonResponse({"downloads": downloads.offered(ind)})


@json_login_required
def experiment_downloads(request: HttpRequest, pk: int) -> JsonResponse:
    """The page's download of the run: its top-k ensemble (downloads.offered_ensemble)."""
    return JsonResponse({"ensemble": downloads.offered_ensemble(experiment_for(request, pk))})


@json_login_required
def experiment_analytics(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"mutations": dashboard.mutation_analytics(experiment_for(request, pk))})


@login_required
@require_safe
def experiment_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The run report inside the site (the same body as the download)."""
    exp = experiment_for(request, pk)
    return render(request, "experiments/report.html", report.context(exp))


@login_required
@require_safe
def experiment_report_file(request: HttpRequest, pk: int) -> HttpResponse:
    """The run report as one self-contained HTML file, an attachment."""
    return report.attachment(request, experiment_for(request, pk))


@login_required
@require_safe
def experiment_report_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The run report as a PDF (the same file, laid out by WeasyPrint), an attachment."""
    return report.attachment(request, experiment_for(request, pk), "pdf")


@login_required
@require_POST
def experiment_control(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """The page's run controls; members and admins only (a viewer gets the 404 of a stranger)."""
    exp = experiment_for(request, pk, Role.MEMBER)
    try:
        if action == "clone":
            clone = services.clone(exp.pk, request.user)
            return redirect("experiment-detail", pk=clone.pk)
        if action in PAGE_ACTIONS:
            messages.success(request, PAGE_ACTIONS[action](exp.pk, request.POST))
        else:
            services.control(exp.pk, action)
    except (TransitionError, ConfigError, ValueError) as exc:
        messages.error(request, _message(exc))
    return redirect("experiment-detail", pk=exp.pk)


def _set_workers(experiment_id: int, form) -> str:
    workers = _int(form.get("workers"), "workers")
    services.set_workers(experiment_id, workers)
    return f"Workers set to {workers}."


def _boost(experiment_id: int, form) -> str:
    children = _int(form.get("children"), "children")
    services.boost_mutations(experiment_id, children)
    return f"The next {children} children get 5 mutations each."


def _reset(experiment_id: int, form) -> str:
    return f"Weights of {services.reset_all_weights(experiment_id)} living individuals reset."


def _evaluate(experiment_id: int, form) -> str:
    services.evaluate(experiment_id)
    return "Evaluating the best and the ensemble on the test split: the numbers follow here."


ESCAPES = {"workers": _set_workers, "boost": _boost, "reset": _reset}
PAGE_ACTIONS = {**ESCAPES, "evaluate": _evaluate}


def _int(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: enter a whole number.") from None


def _message(exc: Exception) -> str:
    if isinstance(exc, ConfigError):
        return redact_paths("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items()))
    return redact_paths(str(exc))
