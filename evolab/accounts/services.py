"""Teams, roles, invitations and API tokens: every view, API view, consumer and download
asks here who may see or do what, and the account pages change state only through here.

The current team: `CURRENT_TEAM_SESSION_KEY` in the session holds the id of the team the
user picked in the header switcher (absent = all their teams). Pages read it through
`current_team(request)` / `teams_in_view(request)`; nothing else should touch the key.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string

from .models import ApiToken, Invitation, Membership, Role, Team

CURRENT_TEAM_SESSION_KEY = "evolab.current_team"
INVITATION_DAYS = 7
TOKEN_PREFIX = "evl_"
# Writing last_used on every request would turn each API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)

User = AbstractBaseUser | AnonymousUser


class TeamError(ValueError):
    """A membership change that would break a rule (e.g. leave a team without an admin)."""


def teams_for(user, role: str = Role.VIEWER) -> QuerySet[Team]:
    """Teams in which `user` holds at least `role`."""
    if not user.is_authenticated:
        return Team.objects.none()
    ranks = {
        Role.VIEWER: [Role.VIEWER, Role.MEMBER, Role.ADMIN],
        Role.MEMBER: [Role.MEMBER, Role.ADMIN],
        Role.ADMIN: [Role.ADMIN],
    }[Role(role)]
    return Team.objects.filter(memberships__user=user, memberships__role__in=ranks).distinct()


def role_in(user, team_id: int) -> str | None:
    membership = Membership.objects.for_user(user).filter(team_id=team_id).first()
    return membership.role if membership else None


def ensure_admin_team(user, name: str = "Default team") -> Team:
    """Give a first admin a team to work in, so a fresh install is usable at once."""
    team, _ = Team.objects.get_or_create(name=name)
    Membership.objects.get_or_create(user=user, team=team, defaults={"role": Role.ADMIN})
    return team


def still_signed_in(session_key: str | None, user, token_id: int | None = None) -> bool:
    """Whether what a websocket signed in with still signs `user` in, read afresh: its API
    token (not revoked, the user active), or its session from the session store (False
    after a logout, an expired session, a password change made elsewhere: the session's auth
    hash no longer matches, or a deactivated account)."""
    if not user.is_authenticated:
        return False
    if token_id is not None:
        return (
            ApiToken.objects.active()
            .filter(pk=token_id, user_id=user.pk, user__is_active=True)
            .exists()
        )
    if not session_key:
        return False
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)
    data = store.load()  # {} when the session is gone
    if str(data.get(SESSION_KEY)) != str(user.pk) or BACKEND_SESSION_KEY not in data:
        return False
    fresh = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
    return fresh is not None and constant_time_compare(
        data.get(HASH_SESSION_KEY, ""), fresh.get_session_auth_hash()
    )


# --- the current team (header switcher) ----------------------------------------------------


def current_team(request: HttpRequest) -> Team | None:
    """The team picked in the switcher, if the user still belongs to it; None = all teams."""
    team_id = request.session.get(CURRENT_TEAM_SESSION_KEY)
    if team_id is None:
        return None
    return teams_for(request.user).filter(pk=team_id).first()


def teams_in_view(request: HttpRequest, role: str = Role.VIEWER) -> QuerySet[Team]:
    """What lists should show: the current team only, or all the user's teams."""
    teams = teams_for(request.user, role)
    team_id = request.session.get(CURRENT_TEAM_SESSION_KEY)
    if team_id is not None and teams.filter(pk=team_id).exists():
        return teams.filter(pk=team_id)
    return teams


def set_current_team(request: HttpRequest, team_id: int | None) -> Team | None:
    """Pick a team (None = all); a team the user is not in is ignored, not an error."""
    team = teams_for(request.user).filter(pk=team_id).first() if team_id else None
    if team is None:
        request.session.pop(CURRENT_TEAM_SESSION_KEY, None)
    else:
        request.session[CURRENT_TEAM_SESSION_KEY] = team.pk
    return team


# --- members ------------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def invite(team: Team, role: str, by, days: int = INVITATION_DAYS) -> tuple[Invitation, str]:
    """A single-use invitation; returns it and its secret (only the digest is stored)."""
    secret = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        team=team,
        role=Role(role),
        digest=_digest(secret),
        created_by=by,
        expires=timezone.now() + timedelta(days=days),
    )
    return invitation, secret


def open_invitation(secret: str) -> Invitation | None:
    """The invitation behind `secret` if it is unused and not expired."""
    if not secret:
        return None
    return (
        Invitation.objects.select_related("team")
        .filter(digest=_digest(secret), used=None, expires__gt=timezone.now())
        .first()
    )


def accept_invitation(secret: str, user) -> Membership | None:
    """Join the team; None if the link is used, expired or unknown. Safe against a race:
    the conditional update lets exactly one request use the link."""
    invitation = open_invitation(secret)
    if invitation is None:
        return None
    with transaction.atomic():
        claimed = Invitation.objects.filter(pk=invitation.pk, used=None).update(
            used=timezone.now(), used_by=user
        )
        if not claimed:
            return None
        membership, created = Membership.objects.get_or_create(
            user=user, team=invitation.team, defaults={"role": invitation.role}
        )
        # An invitation raises a lower role but never lowers one someone already has.
        if not created and not membership.allows(invitation.role):
            membership.role = invitation.role
            membership.save(update_fields=["role"])
    return membership


def _other_admins(team: Team, user_id: int) -> bool:
    return team.memberships.filter(role=Role.ADMIN).exclude(user_id=user_id).exists()


def change_role(team: Team, user_id: int, role: str) -> Membership:
    with transaction.atomic():
        membership = team.memberships.select_for_update().get(user_id=user_id)
        if role != Role.ADMIN and membership.role == Role.ADMIN:
            if not _other_admins(team, user_id):
                raise TeamError("A team needs at least one admin.")
        membership.role = Role(role)
        membership.save(update_fields=["role"])
    return membership


def remove_member(team: Team, user_id: int) -> None:
    with transaction.atomic():
        membership = team.memberships.select_for_update().get(user_id=user_id)
        if membership.role == Role.ADMIN and not _other_admins(team, user_id):
            raise TeamError("A team needs at least one admin: make someone else admin first.")
        membership.delete()


def create_team(user, name: str) -> Team:
    """A new team with `user` as its admin (IntegrityError if the name is taken)."""
    with transaction.atomic():
        team = Team.objects.create(name=name.strip()[:100])
        Membership.objects.create(user=user, team=team, role=Role.ADMIN)
    return team


def rename_team(team: Team, name: str) -> Team:
    team.name = name.strip()[:100]
    team.save(update_fields=["name"])
    return team


# --- API tokens ---------------------------------------------------------------------------


def create_token(user, name: str) -> tuple[ApiToken, str]:
    """A new API key for `user`; the key itself is returned once and never stored."""
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=(name or "token").strip()[:100], prefix=key[:10], digest=_digest(key)
    )
    return token, key


def revoke_token(user, token_id: int) -> bool:
    """Revoke one of the user's tokens; saved (not a bulk update) so that the sockets it
    opened hear of it (experiments/access.py)."""
    token = ApiToken.objects.active().filter(user=user, pk=token_id).first()
    if token is None:
        return False
    token.revoked = timezone.now()
    token.save(update_fields=["revoked"])
    return True


def user_for_token(key: str) -> tuple[object, ApiToken] | None:
    """(user, token) for an active key of an active user; None otherwise."""
    token = ApiToken.objects.active().select_related("user").filter(digest=_digest(key)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used is None or now - token.last_used > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
    return token.user, token
