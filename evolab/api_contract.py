"""The REST API's contract: what /api/schema/ says is what the server does.

Each rule is declared once and read by both sides:

- `Query`: a query parameter's type, bounds and choices. The server reads it strictly (given
  once, an integer in ASCII digits, within its bounds, one of its choices: else a 400 that
  names it) and the schema shows the same type and bounds. `Pagination` reads limit and
  offset so.
- `JsonInteger`, `JsonString`, `JsonBoolean`: serializer fields that take only their own
  JSON type from a JSON body (DRF's own turn "3" into 3, 3 into "3" and "yes" into true).
  A form body, all text, is read as DRF reads it.
- `ApiSchema` (settings: DEFAULT_SCHEMA_CLASS): drf-spectacular's schema plus the error
  responses each operation really gives, all JSON objects with a message: 400 (a parameter
  or field refused, JSON that does not parse, a null character in the URL), 401 (no or a
  wrong token) and 429 (a client address locked after failed sign-ins:
  evolab/accounts/throttle.py) everywhere; 406 (an Accept header nothing here satisfies)
  except on downloads (`AnyAccept`: a file whatever the Accept header); 403 where the
  method changes something (a role too low, a session without its CSRF token); 404 where
  the path names an object; 413 and 415 where a body is read. Request bodies are
  documented as JSON (or multipart for file uploads).
- `not_found` and `bad_request` (evolab/urls.py: handler404, handler400): what Django itself
  refuses under /api/ answers JSON like every other API error: a URL that matches no route
  (an id that is not one) a 404, a body over DATA_UPLOAD_MAX_MEMORY_SIZE a 413, too many
  form fields a 400; `permission_denied` and `server_error` (handler403, handler500) the
  same way. The pages' JSON routes (evolab/json_routes.py) answer JSON errors too; every
  other path gets the site's styled page (frontend/templates/4xx.html, 500.html).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, JsonResponse
from django.views import defaults
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.utils import html

from .json_routes import wants_json

MAX_INT = 2**62  # every number that reaches SQL stays below a 64-bit column's limit
PAGE_LIMIT = 1000
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_NUMBER = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?(?:[eE][-+]?[0-9]{1,3})?")
NO_NUL = "^[^\\x00]*$"  # a null character anywhere in the URL is refused (request_limits.py)
# What str.strip() removes (all below U+3001), spelled out: ECMA-262's \s is another set.
_BLANKS = "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x3001)) if c.isspace())


def not_blank_pattern() -> str:
    """A schema pattern for text with a character besides blanks, and no null character."""
    return f"^[^\\x00]*[^\\x00{_BLANKS}][^\\x00]*$"


@dataclass(frozen=True)
class Query:
    """One query parameter: `kind` is "integer", "number" or "string"; a string may have
    `choices`, or a `pattern` the whole value must match (`pattern_help` says it in words);
    `default` is its value when absent."""

    name: str
    kind: str = "string"
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    pattern_help: str = ""
    max_length: int | None = None
    description: str = ""
    default: Any = None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.kind}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.choices:
            schema["enum"] = list(self.choices)
        elif self.kind == "string":
            schema["pattern"] = f"^(?:{self.pattern})$" if self.pattern else NO_NUL
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.default is not None:
            schema["default"] = self.default
        return schema

    def parameter(self) -> OpenApiParameter:
        """For @extend_schema(parameters=[...])."""
        return OpenApiParameter(self.name, self.schema(), description=self.description)

    def openapi(self) -> dict[str, Any]:
        """For a paginator's or filter's get_schema_operation_parameters."""
        return {
            "name": self.name,
            "in": "query",
            "required": False,
            "description": self.description,
            "schema": self.schema(),
        }

    def read(self, params) -> Any:
        """The parameter from a QueryDict: `default` when absent, a 400 when refused."""
        values = params.getlist(self.name)
        if not values:
            return self.default
        if len(values) > 1:
            self._refuse(f"Give {self.name} once.")
        return self.parse(values[0])

    def parse(self, raw: str) -> Any:
        if self.kind == "integer":
            if not _INTEGER.fullmatch(raw):
                self._refuse(self._range_message("Enter a whole number"))
            return self._in_range(int(raw), "Enter a whole number")
        if self.kind == "number":
            value = float(raw) if _NUMBER.fullmatch(raw) else math.nan
            if not math.isfinite(value):
                self._refuse(self._range_message("Enter a number"))
            return self._in_range(value, "Enter a number")
        if self.choices and raw not in self.choices:
            self._refuse(f"Choose one of: {', '.join(self.choices)}.")
        if self.pattern and not re.fullmatch(self.pattern, raw):
            self._refuse(self.pattern_help or f"Does not match {self.pattern}.")
        if self.max_length is not None and len(raw) > self.max_length:
            self._refuse(f"At most {self.max_length} characters.")
        return raw

    def _in_range(self, value: float, what: str) -> Any:
        low = -math.inf if self.minimum is None else self.minimum
        high = math.inf if self.maximum is None else self.maximum
        if not low <= value <= high:
            self._refuse(self._range_message(what))
        return value

    def _range_message(self, what: str) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"{what} from {self.minimum} to {self.maximum}."
        return f"{what}."

    def _refuse(self, message: str) -> None:
        raise ValidationError({self.name: [message]})


def ordering(fields: tuple[str, ...], many: bool = False, default: str | None = None) -> Query:
    """?ordering=: a field, "-" before it for descending; with `many`, several by commas."""
    term = f"-?(?:{'|'.join(map(re.escape, fields))})"
    several = ", several separated by commas" if many else ""
    return Query(
        "ordering",
        pattern=f"{term}(?:,{term})*" if many else term,
        pattern_help=f"Order by {', '.join(fields)}, with - before it for descending{several}.",
        description=f"One of {', '.join(fields)}; -field for descending{several}.",
        default=default,
    )


def read_ordering(query: Query, params) -> list[str]:
    value = query.read(params)
    return value.split(",") if value else []


class Pagination(LimitOffsetPagination):
    """?limit= (1 to 1000, default 100) and ?offset= (0 or more): whole numbers, once each."""

    default_limit = 100
    max_limit = PAGE_LIMIT
    LIMIT = Query(
        "limit", "integer", 1, max_limit, description="Results per page.", default=default_limit
    )
    OFFSET = Query("offset", "integer", 0, MAX_INT, description="Results to skip.", default=0)

    def get_limit(self, request) -> int:
        return self.LIMIT.read(request.query_params)

    def get_offset(self, request) -> int:
        return self.OFFSET.read(request.query_params)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [self.LIMIT.openapi(), self.OFFSET.openapi()]


def _from_form(field: serializers.Field) -> bool:
    return html.is_html_input(getattr(field.root, "initial_data", None))


class JsonInteger(serializers.IntegerField):
    """An integer; from a JSON body a JSON integer only (not "3", 3.0 or true)."""

    def to_internal_value(self, data):
        if not _from_form(self) and (isinstance(data, bool) or not isinstance(data, int)):
            self.fail("invalid")
        return super().to_internal_value(data)


class JsonBoolean(serializers.BooleanField):
    """true or false; from a JSON body a JSON boolean only (not "yes", 1 or "true")."""

    def to_internal_value(self, data):
        if not _from_form(self) and not isinstance(data, bool):
            self.fail("invalid", input=data)
        return super().to_internal_value(data)


class JsonString(serializers.CharField):
    """Text; from a JSON body a JSON string only (not 5 or true)."""

    def to_internal_value(self, data):
        if not _from_form(self) and not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class AnyAccept(DefaultContentNegotiation):
    """A download's negotiation: its file whatever the Accept header asks (application/zip
    included, which no renderer names: DRF's own would answer 406), its errors in JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# --- the error responses -------------------------------------------------------------------

_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "what went wrong, in words"}},
    "required": ["detail"],
}
_FIELD_ERRORS = {
    "type": "object",
    "description": "Each refused parameter or field with its messages (`detail` when the "
    "request as a whole was refused).",
    "additionalProperties": {
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
            {"type": "object"},
        ]
    },
}
ERRORS = {
    400: "A parameter or field refused (each named, with a message), a body that does not "
    "parse, or a null character in the URL.",
    401: "No credentials, or an unknown or revoked token.",
    403: "Your role in this team does not allow it (or a session request without its CSRF token).",
    404: "No such object among your teams' (another team's are not found either), or no such URL.",
    406: "The Accept header asks for a type this operation cannot send.",
    409: "Not allowed in the object's current state.",
    413: "The request body is larger than this server accepts.",
    415: "The body's Content-Type is not one this operation reads.",
    429: "Too many failed sign-ins from this client address: try again after Retry-After "
    "seconds. Every request with a token is refused meanwhile.",
}
_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "description": 'How to authenticate: "Token" (Authorization: Token <key>).',
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds until this address may try again.",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}
_RESPONSE_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    406: "NotAcceptable",
    409: "Conflict",
    413: "ContentTooLarge",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
}
_SAFE = ("GET", "HEAD", "OPTIONS")


class ApiSchema(AutoSchema):
    """AutoSchema, with every error response an operation can give and JSON request bodies."""

    def map_parsers(self) -> list[Any]:
        # JSON is the documented body; the form parsers still read what old clients send.
        types = super().map_parsers()
        return ["application/json"] if "application/json" in types else types

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body and self.method == "POST":  # every POST here that reads a body needs one
            body["required"] = True
        return body

    def error_codes(self) -> list[int]:
        codes = [400, 401, 429]
        if not isinstance(self.view.get_content_negotiator(), AnyAccept):
            codes.append(406)
        if "{" in self.path:
            codes.append(404)
        if self.method not in _SAFE:
            codes.append(403)
            if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer():
                codes += [413, 415]
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        declared_errors = {int(code) for code in responses if code in map(str, ERRORS)}
        for code in {*self.error_codes(), *declared_errors}:
            declared = responses.get(str(code), {})
            if "content" not in declared:  # undeclared, or declared without its body
                responses[str(code)] = self._error_response(code, declared.get("description"))
        return dict(sorted(responses.items()))

    def _error_response(self, code: int, description: str | None) -> dict:
        """The shared response component, or (a description of its own) one like it."""
        fields = code in (400, 413)  # a 413 may name the field too large (a dataset's file)
        name, schema = ("FieldErrors", _FIELD_ERRORS) if fields else ("Error", _ERROR)
        body = self._register(ResolvedComponent.SCHEMA, name, schema)
        response = {
            "content": {"application/json": {"schema": body}},
            "description": description or ERRORS[code],
            **({"headers": _HEADERS[code]} if code in _HEADERS else {}),
        }
        if description:
            return response
        return self._register(ResolvedComponent.RESPONSE, _RESPONSE_NAMES[code], response)

    def _register(self, kind: str, name: str, schema: dict) -> dict:
        component = ResolvedComponent(name, kind, schema=schema, object=name)
        self.registry.register_on_missing(component)
        return component.ref


def not_found(request: HttpRequest, exception: Exception):
    """handler404: JSON under /api/ (a URL that matches no route) and on the pages' JSON
    routes, the site's page elsewhere (templates/404.html, with its navigation)."""
    if wants_json(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def permission_denied(request: HttpRequest, exception: Exception):
    """handler403: JSON where JSON is asked for, else templates/403.html (what DRF refuses
    never gets here: its views answer their own 403)."""
    if wants_json(request):
        return JsonResponse({"detail": "You do not have permission to do this."}, status=403)
    return defaults.permission_denied(request, exception)


def server_error(request: HttpRequest):
    """handler500: JSON where JSON is asked for, else templates/500.html, which Django renders
    with no context: it reads neither the database nor the request's user."""
    if wants_json(request):
        return JsonResponse(
            {"detail": "Server error: the request failed (it is logged)."}, status=500
        )
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception):
    """handler400 (Django's SuspiciousOperation): JSON under /api/, the site's page elsewhere.
    A body past DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 there (DRF reads request.body)."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return JsonResponse(
            {"detail": f"The request body is larger than {limit} bytes."}, status=413
        )
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return JsonResponse({"detail": "Too many form fields or files."}, status=400)
    return JsonResponse({"detail": "Bad request."}, status=400)
