"""`{% account_teams as nav %}`: the header's team switcher data, for any page;
`{% open_signup as signup %}`: whether anyone may create an account (EVOLAB_OPEN_SIGNUP)."""

from __future__ import annotations

from django import template
from django.conf import settings

from ..models import Membership
from ..services import current_team

register = template.Library()


@register.simple_tag(takes_context=True)
def account_teams(context) -> dict:
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return {"memberships": [], "current": None}
    memberships = list(Membership.objects.for_user(request.user).select_related("team"))
    return {"memberships": memberships, "current": current_team(request)}


@register.simple_tag
def open_signup() -> bool:
    return settings.EVOLAB_OPEN_SIGNUP
