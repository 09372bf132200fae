"""The page forms: a team's webhook (team page) and a user's e-mails (account settings)."""

from __future__ import annotations

from django import forms

from evolab.accounts.services import teams_for

from .models import Event
from .services import MAX_N
from .ssrf import MAX_URL


class SubscriptionForm(forms.Form):
    events = forms.MultipleChoiceField(
        choices=Event.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )
    no_improvement_individuals = forms.IntegerField(
        label="N (no improvement)", min_value=1, max_value=MAX_N, initial=100,
        help_text="individuals trained without a better best",
    )  # fmt: skip


class WebhookForm(SubscriptionForm):
    url = forms.CharField(label="URL", max_length=MAX_URL, widget=forms.URLInput(
        attrs={"placeholder": "https://hooks.example.org/evolab", "size": 48}))  # fmt: skip
    field_order = ["url", "events", "no_improvement_individuals"]


class EmailForm(SubscriptionForm):
    team = forms.ModelChoiceField(queryset=None, empty_label=None, help_text="its runs")
    mine_only = forms.BooleanField(label="Only runs I started", required=False)
    field_order = ["team", "events", "no_improvement_individuals", "mine_only"]

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_for(user).order_by("name")
