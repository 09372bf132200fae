"""The "New experiment" form: every config setting (config_form, derived from the config's
definition), grouped, with the same validation as the API (`config.validate_config`), and
the datasets this installation has as a choice (dataset_choices)."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.forms import BoundField

from . import uploads
from .config import ConfigError, validate_config
from .config_form import GROUPS, SETTINGS, config_fields, initial_from
from .dataset_choices import DatasetSelect, picker
from .models import Experiment
from .services import check_dataset, clone_name


def clone_initial(source: Experiment) -> dict:
    """ "Clone with changes": the form prefilled with the run's config, dataset and team,
    named like a clone ("<name> (2)")."""
    return {**initial_from(source.config), "name": clone_name(source),
            "team": str(source.team_id), "cloned_from": source.pk}  # fmt: skip


@dataclass
class Group:
    """One fieldset of the page: its fields, and whether it is shown open."""

    key: str
    legend: str
    note: str
    fields: list[BoundField]
    open: bool


class ExperimentForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="A clone is named “<name> (2)”, then (3)…")
    team = forms.ChoiceField(required=False)
    # The run this one is a clone of ("Clone with changes"); the view checks it is yours.
    cloned_from = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.teams = {str(t.pk): t for t in teams}
        self.fields["team"].choices = [(pk, t.name) for pk, t in self.teams.items()]
        if len(self.teams) <= 1:
            self.fields["team"].widget = forms.HiddenInput()
        self.fields.update(config_fields(settings.EVOLAB_LIMITS, skip=("dataset",)))
        # A text value with a picker: the validators name an unknown or missing dataset.
        mine = uploads.for_teams(teams).select_related("team").order_by("name") if teams else ()
        choice = picker(mine, keep=self.initial.get("dataset"))
        help_text = "Greyed out: not installed here, with the files it needs (README, Datasets)."
        self.fields["dataset"] = forms.CharField(
            label=SETTINGS["dataset"]["label"],
            initial=SETTINGS["dataset"]["default"],
            help_text=help_text,
            widget=DatasetSelect(choices=choice.choices),
        )
        self.fields["dataset"].widget.disabled = choice.disabled
        self.missing_datasets = choice.missing
        self.order_fields([name for *_, names in GROUPS for name in names])

    def groups(self) -> list[Group]:
        """The fieldsets; all open but Advanced, which opens when one of its fields has an
        error or a value other than its default (a clone's settings are never hidden)."""
        out = []
        for key, legend, note, names in GROUPS:
            bound = [self[n] for n in names if not self[n].is_hidden]
            changed = any(f.errors or self._differs(f) for f in bound)
            out.append(Group(key, legend, note, bound, key != "advanced" or changed))
        return out

    def _differs(self, field: BoundField) -> bool:
        default = SETTINGS.get(field.name, {}).get("default")
        value = field.value()
        return field.name in SETTINGS and str(value if value is not None else "") != str(
            default if default is not None else ""
        )

    def clean_team(self):
        value = self.cleaned_data.get("team") or (next(iter(self.teams)) if self.teams else "")
        if value not in self.teams:
            raise forms.ValidationError("Choose one of your teams.")
        return self.teams[value]

    def clean(self):
        data = super().clean()
        # A field refused already (not a number) is not in `data`: it is not named twice.
        raw = {k: data[k] for k in SETTINGS if data.get(k) is not None}
        try:
            data["config"] = validate_config(raw, settings.EVOLAB_LIMITS)
            uploads.check_for_team(data.get("team"), data["config"].dataset)
            # The files must be there (named if not), val_size must fit the training set.
            check_dataset(data["config"].dataset, data["config"].val_size)
        except ConfigError as exc:
            for field, messages in exc.errors.items():
                self.add_error(field if field in self.fields else None, messages)
        return data
