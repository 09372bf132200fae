"""API tokens end with the password they were made under (EVOLAB_REVOKE_TOKENS_ON_PASSWORD_CHANGE,
on by default): whoever learnt the old password may have made a token with it, and a token,
unlike a session, does not end when the password changes.

Not a rule for passwords: Django calls every password validator's `password_changed(password,
user)` once a new password is set and saved (`AbstractBaseUser.save`), whichever way it was
set: the change and reset pages, the admin, `manage.py changepassword`. That makes a validator
the one hook that sees every change, and only real changes: a hash upgraded on login is saved
without it. settings.py lists this one when the setting is on.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import ApiToken


class RevokeApiTokens:
    def validate(self, password: str, user=None) -> None:
        return None  # every password is fine: this validator only acts on a change

    def password_changed(self, password: str, user=None) -> None:
        if user is None or user.pk is None:
            return
        if not settings.EVOLAB_REVOKE_TOKENS_ON_PASSWORD_CHANGE:
            return
        # Saved one by one, not a bulk update, like services.revoke_token: the sockets a token
        # opened hear of it and close (experiments/access.py), once all are revoked (atomic).
        with transaction.atomic():
            for token in ApiToken.objects.active().filter(user_id=user.pk).select_for_update():
                token.revoked = timezone.now()
                token.save(update_fields=["revoked"])

    def get_help_text(self) -> str:
        return "A new password revokes the account's API tokens."
