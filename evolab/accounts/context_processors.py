"""What every page's template may ask about the user's roles, lazily (one query, only on a
page that asks): `can_create_runs`, whether they are a member or admin of a team (viewers and
users in no team see no "New experiment" and no other create action)."""

from __future__ import annotations

from functools import cache

from .models import Role
from .services import teams_for


def roles(request) -> dict:
    @cache
    def can_create_runs() -> bool:  # a callable: the template calls it when it reads it
        user = getattr(request, "user", None)
        return bool(user and user.is_authenticated and teams_for(user, Role.MEMBER).exists())

    return {"can_create_runs": can_create_runs}
