""" "Edit settings" of a run that has not started: the run form (forms.ExperimentForm, the
fields and checks of "New experiment") filled in with the run's name and settings; saving
changes that run through editing.update_experiment, as PATCH /api/experiments/<id>/ does.

Another team's run is a 404, a viewer gets a 403, and a run that has started a 409 that says
why (GET and POST alike); a refused form changes nothing and names what to correct."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from evolab.accounts.models import Role, Team
from evolab.accounts.services import role_in

from . import editing
from .config import ConfigError
from .config_form import initial_from
from .forms import ExperimentForm
from .models import Experiment, TransitionError
from .views import experiment_for


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def experiment_settings(request: HttpRequest, pk: int) -> HttpResponse:
    exp = experiment_for(request, pk)  # another team's run: 404, as for no run
    if role_in(request.user, exp.team_id) not in (Role.MEMBER, Role.ADMIN):
        raise PermissionDenied("Only a team member or admin can change a run's settings.")
    refused = editing.settings_refusal(exp)
    if refused:
        return _locked(request, exp, refused)
    teams = Team.objects.filter(pk=exp.team_id)
    initial = {**initial_from(exp.config), "name": exp.name, "team": str(exp.team_id)}
    form = ExperimentForm(request.POST or None, teams=teams, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes = {"name": data["name"], "config": data["config"].to_json()}
        try:
            editing.update_experiment(exp.pk, changes)
            return redirect("experiment-detail", pk=exp.pk)
        except TransitionError as exc:  # it started while the form was open
            return _locked(request, exp, str(exc))
        except ConfigError as exc:  # what only the run itself can refuse (imported seeds)
            for field, messages in exc.errors.items():
                form.add_error(field if field in form.fields else None, messages)
        except editing.FieldRefused as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
    status = 400 if request.method == "POST" else 200
    return render(request, "experiments/settings.html", {"form": form, "experiment": exp},
                  status=status)  # fmt: skip


def _locked(request: HttpRequest, exp: Experiment, message: str) -> HttpResponse:
    context = {"experiment": exp, "message": message}
    return render(request, "experiments/settings_locked.html", context, status=409)
