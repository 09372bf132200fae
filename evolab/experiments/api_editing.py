"""The body of PATCH /api/experiments/<id>/ (evolab.experiments.editing does the work).

Every field is optional and takes only its JSON type; a field that is not one of them is a
400 naming it, and the schema says so (additionalProperties: false)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from evolab.api_contract import JsonBoolean, JsonString

from .api_serializers import ConfigField, NameField
from .editing import EDITABLE, MAX_TAGS, NAME_CHARS, NOTES_CHARS, TAG_CHARS, TAG_HELP, TAG_PATTERN


@extend_schema_field({"type": "string", "maxLength": TAG_CHARS, "pattern": f"^{TAG_PATTERN}$"})
class TagField(JsonString):
    """One tag (editing.clean_tag checks the characters: a 400 with TAG_HELP)."""


# Not empty (drf-spectacular adds the empty string as the other of oneOf), no NUL character.
@extend_schema_field({"type": "string", "maxLength": NOTES_CHARS, "pattern": "^[^\\x00]+$"})
class NotesField(JsonString):
    """Markdown; the page renders it as text with a few allowed forms, never as HTML."""


class ExperimentUpdateSerializer(serializers.Serializer):
    name = NameField(
        required=False,
        max_length=NAME_CHARS,
        trim_whitespace=False,
        help_text="Any text but blanks, at most 200 characters.",
    )
    notes = NotesField(
        required=False,
        allow_blank=True,
        max_length=NOTES_CHARS,
        trim_whitespace=False,
        help_text=f"Markdown, at most {NOTES_CHARS} characters; empty clears them.",
    )
    tags = serializers.ListField(
        child=TagField(max_length=TAG_CHARS),
        required=False,
        max_length=MAX_TAGS,
        help_text=f"All the run's tags (replacing them; [] clears them). {TAG_HELP} "
        "Kept in lower case, each once.",
    )
    archived = JsonBoolean(
        required=False, help_text="true hides the run from the list (kept; false brings it back)."
    )
    config = ConfigField(
        required=False,
        help_text="Only before the run starts (else a 409): these settings replace the run's "
        "own, and the result is checked as at creation (a 400 naming the setting).",
    )

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(map(str, set(data) - set(EDITABLE)))
            if unknown:
                message = f"Not a field that can be changed ({', '.join(EDITABLE)})."
                raise ValidationError({name[:40]: [message] for name in unknown[:5]})
        return super().to_internal_value(data)


class StrictUpdateSchema(OpenApiSerializerExtension):
    """The body's schema refuses other fields, as the server does."""

    target_class = ExperimentUpdateSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}
