"""The run form's dataset picker: what this installation has, grouped, from the catalog
(evolab.datasets.list_datasets, as GET /api/datasets/ lists it) and the uploads of the
user's teams (the form passes `uploads.for_teams`). Known sets whose files are missing are
listed too, disabled, with where their files go; the form refuses them with the full
message (services.check_dataset)."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.conf import settings

from evolab.datasets import Entry, list_datasets
from evolab.datasets.base import DATA_DIR, READY

BUILT_IN, FOUND, UPLOADED, UNAVAILABLE = (
    "Built in",
    "Files found",
    "Uploaded by your teams",
    "Not installed here",
)


def sizes(entry: Entry) -> str:
    """'1,004 / 434 / 359 (train / validation / test), 1×8×8, 10 classes'."""
    shape = "×".join(map(str, entry.shape))
    return (
        f"{entry.train:,} / {entry.val:,} / {entry.test:,} (train / validation / test), "
        f"{shape}, {entry.num_classes} classes"
    )


def where_files_go(entry: Entry) -> str:
    """A missing set's expected files, short: '4 files in EVOLAB_DATA_DIR/MNIST/raw/' for
    files that share a folder, else each path; other ways ('apt-get install …') as given."""
    ways: dict[str, list[str]] = {}  # in the order expected lists them
    for path in entry.expected:
        if path.startswith(DATA_DIR) and not path.endswith("/"):
            ways.setdefault(path.rsplit("/", 1)[0] + "/", []).append(path)
        else:
            ways[path.removeprefix("or: ")] = []
    return " or ".join(
        f"{len(paths)} files in {way}" if len(paths) > 1 else (paths or [way])[0]
        for way, paths in ways.items()
    )


def dataset_label(entry: Entry) -> str:
    """One option: its title and sizes when ready, else why it cannot be used and the fix."""
    if entry.state == READY:
        return f"{entry.title} — {sizes(entry)}"
    if entry.state == "missing" and entry.expected:
        return f"{entry.title} — missing: needs {where_files_go(entry)}"
    return f"{entry.title} — {entry.state}: {entry.reason}"


@dataclass
class Picker:
    """The grouped choices, which of them are disabled, and the hints shown under it."""

    choices: list[tuple[str, list[tuple[str, str]]]]
    disabled: frozenset[str]
    missing: list[tuple[Entry, str]]  # with the reason, less its leading "<name>: "


def picker(uploaded, keep: str | None = None) -> Picker:
    """What a user may pick: the installation's sets and `uploaded`, the uploads of the teams
    the run may be created in (the listing reads file names and headers only). `keep`, a
    cloned run's dataset, is listed (disabled) even when it is not there any more, so that
    the select never silently shows another one."""
    groups: dict[str, list[tuple[str, str]]] = {BUILT_IN: [], FOUND: [], UPLOADED: [],
                                                UNAVAILABLE: []}  # fmt: skip
    disabled, missing = set(), []
    for entry in list_datasets(settings.EVOLAB_DATA_DIR):
        if entry.state != READY:
            group = UNAVAILABLE
            disabled.add(entry.name)
            missing.append((entry, entry.reason.removeprefix(f"{entry.name}: ")))
        else:
            # Built in: needs no files (digits); found: IDX/CIFAR files or an image folder.
            group = FOUND if entry.files or entry.name.startswith("folder:") else BUILT_IN
        groups[group].append((entry.name, dataset_label(entry)))
    for ds in uploaded:
        groups[UPLOADED].append((ds.config_name, f"{ds.name} — {ds.team.name}, {ds.state}"))
        if ds.state != READY:
            disabled.add(ds.config_name)
    if keep and keep not in {value for options in groups.values() for value, _ in options}:
        groups[UNAVAILABLE].append((keep, f"{keep} — not available here any more"))
        disabled.add(keep)
    choices = [(group, options) for group, options in groups.items() if options]
    return Picker(choices, frozenset(disabled), missing)


class DatasetSelect(forms.Select):
    """A grouped select whose options for sets that cannot be used are shown, disabled."""

    disabled: frozenset[str] = frozenset()

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if value in self.disabled:
            option["attrs"]["disabled"] = True
        return option
