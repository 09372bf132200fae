"""{% team_webhooks team %} (team page, admins) and {% email_subscriptions %} (settings):
the notification blocks, with their own data, so the account views need not know them."""

from __future__ import annotations

from django import template
from django.conf import settings

from .. import services
from ..forms import EmailForm, WebhookForm

register = template.Library()


@register.inclusion_tag("notifications/team_webhooks.html", takes_context=True)
def team_webhooks(context, team):
    request = context["request"]
    hooks = services.team_webhooks(team).select_related("created_by")
    return {
        "team": team,
        "webhooks": hooks,
        "log": services.delivery_log(hooks, 30),
        "form": getattr(request, "webhook_form", None) or WebhookForm(),
        "new_secret": getattr(request, "webhook_secret", ""),
        "allow_private": settings.EVOLAB_WEBHOOK_ALLOW_PRIVATE,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("notifications/email_subscriptions.html", takes_context=True)
def email_subscriptions(context):
    request = context["request"]
    return {
        "user": request.user,
        "subscriptions": services.email_subscriptions(request.user),
        "form": getattr(request, "email_form", None) or EmailForm(request.user),
        "csrf_token": context.get("csrf_token"),
    }
