"""Tell a user's open websockets at once when what that user may see has changed.

Every socket joins its user's group (`user_group`). A membership created, changed or
deleted (a role change, a removal, a team deleted with its memberships), a password change,
a deactivated account, a revoked API token or a logout sends that group one `evolab.access`
message after the transaction commits; each socket then re-checks its session (or token)
and its permission and closes if either is gone (consumers.py). The periodic re-check in
the consumers stays as a backstop for a message the broker lost.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from evolab.accounts.models import ApiToken, Membership

from .sender import sender

ACCESS = "evolab.access"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def access_changed(user_id: int, session_key: str | None = None) -> None:
    """After commit: the user's sockets (only those of `session_key`, if given) re-check."""
    message = {"type": ACCESS, "session": session_key}
    transaction.on_commit(lambda: sender.send(user_group(user_id), message))


def _membership_changed(sender, instance: Membership, **kwargs) -> None:
    access_changed(instance.user_id)


def _token_saved(sender, instance: ApiToken, **kwargs) -> None:
    access_changed(instance.user_id)  # a revoked token closes the sockets it opened


def _user_saved(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login elsewhere changes nothing for this user's open sockets
    access_changed(instance.pk)


def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        access_changed(user.pk, request.session.session_key)


def connect_signals() -> None:
    post_save.connect(_membership_changed, sender=Membership, dispatch_uid="evolab.access.m")
    post_delete.connect(_membership_changed, sender=Membership, dispatch_uid="evolab.access.d")
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="evolab.access.u")
    post_save.connect(_token_saved, sender=ApiToken, dispatch_uid="evolab.access.t")
    user_logged_out.connect(_logged_out, dispatch_uid="evolab.access.logout")
