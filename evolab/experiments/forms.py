"""The "New experiment" form: the same validation as the API (`config.validate_config`)."""

from __future__ import annotations

from django import forms
from django.conf import settings

from .config import SELECTIONS, ConfigError, ExperimentConfig, validate_config
from .services import check_dataset

DEFAULTS = ExperimentConfig()


class ExperimentForm(forms.Form):
    name = forms.CharField(max_length=200)
    team = forms.ChoiceField(required=False)
    dataset = forms.CharField(
        initial=DEFAULTS.dataset,
        help_text="digits (built in), cifar10, cifar100, or folder:<name> under EVOLAB_DATA_DIR",
    )
    population = forms.IntegerField(initial=DEFAULTS.population, help_text="PAPER: 1000")
    workers = forms.IntegerField(initial=DEFAULTS.workers, label="Parallel workers")
    steps_per_child = forms.IntegerField(
        initial=DEFAULTS.steps_per_child, label="Training steps per child"
    )
    max_individuals = forms.IntegerField(
        initial=DEFAULTS.max_individuals, label="Maximum number of individuals"
    )
    selection = forms.ChoiceField(choices=[(s, s) for s in SELECTIONS], initial="tournament")
    seed = forms.IntegerField(
        initial=DEFAULTS.seed,
        help_text="With 1 parallel worker the same seed replays the same run; with more, "
        "workers finish in different orders and runs differ.",
    )
    max_seconds = forms.IntegerField(required=False, label="Wall-time budget (s)")
    target_accuracy = forms.FloatField(required=False, label="Stop at validation accuracy")

    CONFIG_FIELDS = (
        "dataset",
        "population",
        "workers",
        "steps_per_child",
        "max_individuals",
        "selection",
        "seed",
        "max_seconds",
        "target_accuracy",
    )

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.teams = {str(t.pk): t for t in teams}
        self.fields["team"].choices = [(pk, t.name) for pk, t in self.teams.items()]
        if len(self.teams) <= 1:
            self.fields["team"].widget = forms.HiddenInput()

    def clean_team(self):
        value = self.cleaned_data.get("team") or (next(iter(self.teams)) if self.teams else "")
        if value not in self.teams:
            raise forms.ValidationError("Choose one of your teams.")
        return self.teams[value]

    def clean(self):
        data = super().clean()
        raw = {k: data[k] for k in self.CONFIG_FIELDS if data.get(k) is not None}
        try:
            data["config"] = validate_config(raw, settings.EVOLAB_LIMITS)
            check_dataset(data["config"].dataset)  # the files must be there (named if not)
        except ConfigError as exc:
            for field, messages in exc.errors.items():
                self.add_error(field if field in self.fields else None, messages)
        return data
