"""The new-experiment form's "Start from" group: a warm start from a run of the team
(evolab.experiments.warmstart), or DNA files of one's own (evolab.experiments.seed_files).
A form of its own, with its own prefix, beside ExperimentForm: the view hands its
`start_from` to services.create_experiment, which checks the run against the chosen team
and config and names what does not fit; the DNA files are checked against the config
(`checked_seeds`) before anything is created. SeedFilesForm alone is a queued run's import.

[choice] One or the other: a run and DNA files together are refused, with a message (the
population they would share, and which comes first, are decisions nobody asked for)."""

from __future__ import annotations

from django import forms
from django.conf import settings

from . import seed_files, warmstart
from .imports import MAX_DNA_BYTES
from .models import Experiment, Status

LISTED_RUNS = 200  # the newest of the user's teams


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class FilesField(forms.FileField):
    """Any number of files, as a list. Each is checked by seed_files, which names it."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        return [upload for upload in data or () if upload]


class SeedFilesForm(forms.Form):
    """DNA files, each with optional weights of the same name (seed_files)."""

    dna = FilesField(
        required=False,
        label="DNA files",
        widget=MultipleFileInput(attrs={"accept": ".json,application/json"}),
        help_text="One or more DNA files (JSON, as an individual's “DNA” download, at most "
        f"{MAX_DNA_BYTES // 1000:,} kB each): each joins the initial population, trivial "
        "individuals fill the rest. All are checked before any is stored; after a refusal, "
        "choose the files again (a browser never refills a file input).",
    )
    weights = FilesField(
        required=False,
        label="Their weights (optional)",
        widget=MultipleFileInput(attrs={"accept": ".safetensors"}),
        help_text="Safetensors files, each named as its DNA file (cat.json takes "
        "cat.safetensors) and trained on from there; a DNA file without weights trains from "
        "scratch. Pickles, torch.save or TorchScript archives and ONNX files are refused.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["weights"].help_text += f" At most {settings.EVOLAB_MAX_UPLOAD_MB} MiB each."

    def checked_seeds(self, cfg, room: int) -> list[seed_files.SeedFile] | None:
        """The checked seeds (none sent: an empty list) for a run of `cfg` with `room`
        places left, or None with each refusal on its field."""
        try:
            return seed_files.check(
                self.cleaned_data.get("dna") or [], self.cleaned_data.get("weights") or [],
                cfg, room,
            )  # fmt: skip
        except seed_files.SeedFilesRefused as exc:
            for field, messages in exc.errors.items():
                for message in messages:
                    self.add_error(field, message)
            return None


class StartFromForm(SeedFilesForm):
    prefix = "start"
    field_order = ("run", "individuals", "k", "dna", "weights")

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
        self.fields["dna"].label = "Or start from DNA files"
        self.fields["dna"].help_text += " Not with a run: one or the other."
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
        if data.get("dna"):
            self.add_error(
                "dna", "Start from a run or from DNA files, not both: choose “nothing” as the "
                "run, or leave the DNA files out.",
            )  # fmt: skip
            return data
        raw = {"experiment": int(data["run"]), "individuals": data.get("individuals") or "alive"}
        if raw["individuals"] == "best":
            raw["k"] = data.get("k")
        try:
            data["start_from"] = warmstart.parse(raw, settings.EVOLAB_LIMITS["max_population"])
        except warmstart.WarmStartError as exc:
            self.add_error("k" if raw["individuals"] == "best" else "run", str(exc))
        return data
