"""The new-experiment form's "Start from" group: a warm start from a run of the team
(evolab.experiments.warmstart). A form of its own, with its own prefix, beside
ExperimentForm: the view hands its `start_from` to services.create_experiment, which checks
the run against the chosen team and config and names what does not fit."""

from __future__ import annotations

from django import forms
from django.conf import settings

from . import warmstart
from .models import Experiment, Status

LISTED_RUNS = 200  # the newest of the user's teams


class StartFromForm(forms.Form):
    prefix = "start"

    run = forms.ChoiceField(
        required=False,
        label="Start from run",
        help_text="Its individuals seed the initial population (retrained from copies of "
        "their weights); trivial individuals fill the rest. A run of the same team, on "
        "images of the same shape with as many classes.",
    )
    individuals = forms.ChoiceField(
        required=False,
        choices=[("alive", "its alive individuals"), ("best", "its best k")],
        initial="alive",
        label="Which individuals",
    )
    k = forms.IntegerField(
        required=False, min_value=1, label="k", help_text="With “its best k”: how many."
    )

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        runs = (
            Experiment.objects.filter(team__in=teams)
            .exclude(status=Status.QUEUED)
            .select_related("team")[:LISTED_RUNS]
            if teams
            else ()
        )
        self.fields["run"].choices = [("", "nothing: trivial individuals (the paper)")] + [
            (str(r.pk), f"#{r.pk} {r.name} ({r.team.name}, {r.cfg.dataset}, {r.status})")
            for r in runs
        ]

    def clean(self):
        data = super().clean()
        data["start_from"] = None
        if not data.get("run"):
            return data
        raw = {"experiment": int(data["run"]), "individuals": data.get("individuals") or "alive"}
        if raw["individuals"] == "best":
            raw["k"] = data.get("k")
        try:
            data["start_from"] = warmstart.parse(raw, settings.EVOLAB_LIMITS["max_population"])
        except warmstart.WarmStartError as exc:
            self.add_error("k" if raw["individuals"] == "best" else "run", str(exc))
        return data
