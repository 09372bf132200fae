"""Account and team forms. Every one is posted with a CSRF token (Django's middleware)."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import User

from . import throttle
from .models import Role, Team


class ThrottledLogin:
    """Asks the sign-in throttle before any password is checked: while the username or the
    client's address is locked the form fails with "Too many failed sign-ins; try again in N
    minutes" (code "throttled") and `authenticate()` is never called."""

    def clean(self):
        wait = throttle.locked(self.request, self.cleaned_data.get("username"))
        if wait:
            raise forms.ValidationError(throttle.message(wait), code="throttled")
        return super().clean()


class LoginForm(ThrottledLogin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password didn't match. Please try again.",
    }


class AdminLoginForm(ThrottledLogin, AdminAuthenticationForm):
    pass


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'laptop'.")


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name"]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InviteForm(RoleForm):
    days = forms.IntegerField(min_value=1, max_value=30, initial=7, label="Valid for (days)")


class SwitchTeamForm(forms.Form):
    team = forms.IntegerField(required=False)  # empty = all my teams


class SignupForm(UserCreationForm):
    """Creating an account: offered with a valid invitation, or to anyone at /accounts/signup/
    when EVOLAB_OPEN_SIGNUP is on (off by default)."""

    email = forms.EmailField(required=False, help_text="For password resets.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["username", "email"]
