"""Run management: rename, notes, tags, archive, and the config of a run that has not started.

One call, `update_experiment`, applies a set of changes in one transaction under the run's
row lock, after checking all of them: a refused change (a ValueError naming its field, a
ConfigError, or a TransitionError for a config change once the run has started) changes
nothing. An applied one is logged as an `edited` event (events.EDITED), so the run's other
open pages and the list show it live. Deleting a run is evolab.experiments.deletion.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import transaction

from . import events, services, uploads
from .config import ConfigError, validate_config
from .models import Experiment, ExperimentTag, Status, TransitionError

EDITABLE = ("name", "notes", "tags", "archived", "config")
NAME_CHARS = 200
NOTES_CHARS = 20_000
TAG_CHARS = 32
MAX_TAGS = 20
# A letter or digit first, then letters, digits and . _ + : - (no blanks, so a tag reads as
# one word in the list and in a URL). Tags are kept in lower case: "Baseline" is "baseline".
TAG_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._+:-]*"
TAG_HELP = (
    f"A tag is 1 to {TAG_CHARS} letters, digits or . _ + : - (a letter or digit first), "
    f"at most {MAX_TAGS} tags a run."
)
_TAG = re.compile(TAG_PATTERN)
# What an imported seed was checked against (imports.parse_dna): fixed once seeds are in.
SEEDED_SETTINGS = ("dataset", "batch_size")


class FieldRefused(ValueError):
    """A change refused, with the field it names."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def clean_tag(raw: str) -> str:
    if not isinstance(raw, str) or len(raw) > TAG_CHARS or not _TAG.fullmatch(raw):
        raise FieldRefused("tags", f"{str(raw)[:40]!r} is not a tag. {TAG_HELP}")
    return raw.lower()


def clean_tags(raw: list[str]) -> list[str]:
    """The tags, lower case, sorted, each once; FieldRefused naming the first bad one."""
    tags = sorted({clean_tag(tag) for tag in raw})
    if len(tags) > MAX_TAGS:
        raise FieldRefused("tags", f"At most {MAX_TAGS} tags a run ({len(tags)} given).")
    return tags


def clean_name(raw: str) -> str:
    name = raw.strip()
    if not name:
        raise FieldRefused("name", "Give the experiment a name.")
    if len(name) > NAME_CHARS:
        raise FieldRefused("name", f"At most {NAME_CHARS} characters.")
    return name


def tags_of(exp: Experiment) -> list[str]:
    """Its tags, from the prefetched rows when the queryset prefetched them."""
    return sorted(tag.name for tag in exp.tag_rows.all())


def update_experiment(experiment_id: int, changes: dict[str, Any]) -> Experiment:
    """Apply `changes` (keys of EDITABLE) all or none; see the module's docstring."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise FieldRefused(unknown[0], f"Not a field that can be changed ({', '.join(EDITABLE)}).")
    fields: dict[str, Any] = {}
    if "name" in changes:
        fields["name"] = clean_name(changes["name"])
    if "notes" in changes:
        if len(changes["notes"]) > NOTES_CHARS:
            raise FieldRefused("notes", f"At most {NOTES_CHARS} characters.")
        fields["notes"] = changes["notes"]
    if "archived" in changes:
        fields["archived"] = bool(changes["archived"])
    tags = clean_tags(changes["tags"]) if "tags" in changes else None
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment_id)
        if "config" in changes:
            fields["config"], fields["dataset_split"] = _new_config(exp, changes["config"])
        for name, value in fields.items():
            setattr(exp, name, value)
        if fields:
            exp.save(update_fields=list(fields))
        if tags is not None:
            ExperimentTag.objects.filter(experiment=exp).exclude(name__in=tags).delete()
            have = set(ExperimentTag.objects.filter(experiment=exp).values_list("name", flat=True))
            ExperimentTag.objects.bulk_create(
                [ExperimentTag(experiment=exp, name=tag) for tag in tags if tag not in have]
            )
        if changes:  # every open page of the run, and the list, show it (events.EDITED)
            now = tags if tags is not None else sorted(exp.tag_rows.values_list("name", flat=True))
            events.emit(exp.pk, events.EDITED, events.edited(exp, now))
    return Experiment.objects.prefetch_related("tag_rows").select_related("best").get(pk=exp.pk)


def settings_refusal(exp: Experiment) -> str | None:
    """Why the run's settings cannot change now (it has started), or None while they can."""
    if exp.status == Status.QUEUED:
        return None
    return (
        f"The settings of a run cannot change once it has started (it is {exp.status}); "
        "clone it to run other settings."
    )


def _new_config(exp: Experiment, patch: dict[str, Any]) -> tuple[dict, dict | None]:
    """The run's config with `patch`'s settings replaced, checked as at creation (settings,
    the team's dataset, the split recorded anew), and its split. Only before it starts."""
    refused = settings_refusal(exp)
    if refused:
        raise TransitionError(refused)
    merged = {**exp.config, **patch}
    config = validate_config(merged, settings.EVOLAB_LIMITS)
    seeded = exp.individuals_created
    if seeded:
        errors = {
            name: [f"Fixed once individuals are imported ({seeded} are)."]
            for name in SEEDED_SETTINGS
            if getattr(config, name) != exp.config.get(name)
        }
        if config.population < seeded:
            errors["population"] = [f"At least the {seeded} imported individuals."]
        if errors:
            raise ConfigError(errors)
    uploads.check_for_team(exp.team, config.dataset)
    split = services.dataset_split(config)
    return config.to_json(), split
