"""Notification pages: a team admin's webhooks (on the team page) and a user's e-mails (on
the settings page). Each answer is that page again, with the form's errors (400) or, once,
a new webhook's secret; state changes only through `services`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from evolab.accounts import views as account_views
from evolab.accounts.models import Role

from . import services
from .forms import EmailForm, WebhookForm


def _refused(form, exc: services.Refused) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, str(exc))


@login_required
@require_POST
def webhook_create(request: HttpRequest, pk: int) -> HttpResponse:
    team = account_views.team_for(request, pk, Role.ADMIN)
    form = WebhookForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            _, request.webhook_secret = services.create_webhook(
                team, request.user, data["url"], data["events"], data["no_improvement_individuals"]
            )
        except services.Refused as exc:
            _refused(form, exc)
    request.webhook_form = form if form.errors else None  # read by {% team_webhooks %}
    response = account_views.team_detail(request, pk)
    response.status_code = 400 if form.errors else 200
    response["Cache-Control"] = "no-store"  # the secret is in it
    return response


@login_required
@require_POST
def webhook_delete(request: HttpRequest, pk: int, webhook_id: int) -> HttpResponse:
    team = account_views.team_for(request, pk, Role.ADMIN)
    get_object_or_404(services.team_webhooks(team), pk=webhook_id).delete()
    messages.success(request, "Webhook deleted.")
    return redirect("team-detail", pk=team.pk)


@login_required
@require_POST
def email_create(request: HttpRequest) -> HttpResponse:
    form = EmailForm(request.user, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.create_email(
                request.user, data["team"], data["events"], data["no_improvement_individuals"],
                data["mine_only"],
            )  # fmt: skip
        except services.Refused as exc:
            _refused(form, exc)
    if form.errors:
        request.email_form = form  # read by {% email_subscriptions %}
        response = account_views.settings_page(request)
        response.status_code = 400
        return response
    messages.success(request, "E-mail notifications saved.")
    return redirect("/accounts/settings/#notifications")


@login_required
@require_POST
def email_delete(request: HttpRequest, subscription_id: int) -> HttpResponse:
    get_object_or_404(services.email_subscriptions(request.user), pk=subscription_id).delete()
    messages.success(request, "E-mail notifications removed.")
    return redirect("/accounts/settings/#notifications")
