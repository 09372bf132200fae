"""Account and team forms. Every one is posted with a CSRF token (Django's middleware)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User

from .models import Role, Team


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
