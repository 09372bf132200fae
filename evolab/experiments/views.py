"""Pages. Thin: look up with team scoping (another team's object is a 404), call services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from evolab.accounts.models import Role
from evolab.accounts.services import current_team, role_in, teams_for, teams_in_view
from evolab.redaction import redact_paths

from . import dashboard, processes, services
from .config import ConfigError
from .config_diff import config_diff
from .forms import ExperimentForm
from .models import Experiment, Status, TransitionError


def experiment_for(request: HttpRequest, pk: int, role: str = Role.VIEWER) -> Experiment:
    """The experiment if the user's team role allows `role`; 404 otherwise (ids leak nothing)."""
    return get_object_or_404(Experiment.objects.for_teams(teams_for(request.user, role)), pk=pk)


LIST_LIMIT = 200


@login_required
def experiment_list(request: HttpRequest) -> HttpResponse:
    """The team's runs, filtered by status, dataset and a text search, newest first."""
    base = Experiment.objects.for_teams(teams_in_view(request))  # the switcher's team, or all
    rows = base.select_related("team", "creator")
    status, dataset, text = (request.GET.get(k, "").strip() for k in ("status", "dataset", "q"))
    if status:
        rows = rows.filter(status=status)
    if dataset:
        rows = rows.filter(config__dataset=dataset)
    if text:
        rows = rows.filter(Q(name__icontains=text) | Q(creator__username__icontains=text))
    experiments = list(rows[:LIST_LIMIT])
    for exp in experiments:
        exp.sparkline = dashboard.sparkline_points(exp)
    datasets = sorted({c.get("dataset") for c in base.values_list("config", flat=True)} - {None})
    context = {
        "experiments": experiments,
        "filters": {"status": status, "dataset": dataset, "q": text},
        "statuses": Status.values,
        "datasets": datasets,
        "any_at_all": base.exists(),
    }
    return render(request, "experiments/list.html", context)


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
    current = current_team(request)
    form = ExperimentForm(
        request.POST or None, teams=teams, initial={"team": str(current.pk)} if current else None
    )
    if request.method == "POST" and form.is_valid():
        exp = services.create_experiment(
            form.cleaned_data["team"],
            request.user,
            form.cleaned_data["name"],
            form.cleaned_data["config"],
            start=True,
        )
        return redirect("experiment-detail", pk=exp.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "experiments/new.html", {"form": form, "has_team": bool(teams)}, status=status
    )


@login_required
def experiment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exp = experiment_for(request, pk)
    can_control = (role_in(request.user, exp.team_id) or "") in (Role.MEMBER, Role.ADMIN)
    context = {"experiment": exp, "can_control": can_control, "cfg": exp.cfg}
    context["capacity"] = processes.capacity(exp)  # more workers asked than processes?
    return render(request, "experiments/detail.html", context)


@login_required
def experiment_snapshot(request: HttpRequest, pk: int) -> JsonResponse:
    """Everything the page needs at load, as arrays; live events continue from `last_seq`."""
    return JsonResponse(dashboard.snapshot(experiment_for(request, pk)))


@login_required
def experiment_costs(request: HttpRequest, pk: int) -> JsonResponse:
    """FLOPs and parameters of the trained individuals (the accuracy-vs-cost chart)."""
    return JsonResponse(dashboard.costs(experiment_for(request, pk)))


@login_required
def individual_detail(request: HttpRequest, pk: int, number: int) -> JsonResponse:
    detail = dashboard.individual_detail(experiment_for(request, pk), number)
    if detail is None:
        raise Http404
    return JsonResponse(detail)


@login_required
def individual_lineage(request: HttpRequest, pk: int, number: int) -> JsonResponse:
    chain = dashboard.lineage(experiment_for(request, pk), number)
    if chain is None:
        raise Http404
    return JsonResponse({"lineage": chain})


@login_required
def experiment_analytics(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"mutations": dashboard.mutation_analytics(experiment_for(request, pk))})


@login_required
@require_POST
def experiment_control(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """The page's run controls; members and admins only (a viewer gets the 404 of a stranger)."""
    exp = experiment_for(request, pk, Role.MEMBER)
    try:
        if action == "clone":
            clone = services.clone(exp.pk, request.user)
            return redirect("experiment-detail", pk=clone.pk)
        if action in ESCAPES:
            messages.success(request, ESCAPES[action](exp.pk, request.POST))
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


ESCAPES = {"workers": _set_workers, "boost": _boost, "reset": _reset}


def _int(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: enter a whole number.") from None


def _message(exc: Exception) -> str:
    if isinstance(exc, ConfigError):
        return redact_paths("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items()))
    return redact_paths(str(exc))
