"""Schemathesis against /api/schema/: the API does what its schema says (#19.8), not only
"no 500".

In process (WSGI), with a bounded number of examples per operation:

- schema-valid cases (positive) and schema-violating ones (negative), as a team admin with
  an API token (every operation is open to an admin); where the path names an object, with
  generated ids and with a real one (a run, an individual, a team, an upload). Checks:
  not_a_server_error, status_code_conformance, content_type_conformance,
  response_schema_conformance, response_headers_conformance, positive_data_acceptance (a
  valid request is not refused: 2xx, 401, 403, 404, 409 or 429) and negative_data_rejection
  (an invalid one is: 4xx).
- then each operation once as nobody (401), as a viewer (403 where a member is needed), with
  an Accept header nothing satisfies (406), with a body of a type it does not read (415) or
  over the size limit (413), and with a wrong token until the client address is locked
  (401, then 429): every response documented, its body and headers as the schema says.

What no schema can say is supplied to the valid cases (`runnable`: a dataset installed
here, the caller's one team, max_individuals >= population, no warm start (its source run
needs trained individuals); a printable, new dataset name),
and the DNA and weights files of a seed import are no JSON Schema: its valid cases may be
refused (400). Runs started here never reach a worker, nor uploads an indexer: the test's
transaction is never committed, so the queueing done on commit does not happen.
"""

from __future__ import annotations

import itertools

import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from evolab.accounts.services import create_token
from evolab.experiments.models import Experiment, TeamDataset
from evolab.notifications.services import create_webhook

from .conftest import store_individual

EXAMPLES_PER_OPERATION = 10  # and per mode
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
DATA = [positive_data_acceptance, negative_data_rejection]
CREATE, SEED = "POST /api/experiments/", "POST /api/experiments/{id}/seed/"
EDIT = "PATCH /api/experiments/{id}/"  # the settings of a run that has not started
NAMED = ("POST /api/datasets/", "PATCH /api/datasets/{id}/")  # a dataset's name
HOOKS = ("POST /api/teams/{team_id}/webhooks/", "PATCH /api/teams/{team_id}/webhooks/{id}/")
BODY_LIMIT = 1000  # DATA_UPLOAD_MAX_MEMORY_SIZE while probing for 413


class Findings:
    """Each kind of failure (operation, check, status) once, with one example."""

    def __init__(self) -> None:
        self.found: dict[tuple, str] = {}

    def check(self, case, response, checks, headers: dict, what: str = "") -> None:
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                key = (case.operation.label, type(failure).__name__, response.status_code)
                self.found.setdefault(key, self._example(case, response, failure, what))

    def expect(self, case, response, codes: tuple[int, ...], what: str) -> None:
        if response.status_code not in codes:
            key = (case.operation.label, what, response.status_code)
            self.found.setdefault(key, f"{what}: expected {codes}, got {response.status_code}")

    @staticmethod
    def _example(case, response, failure, what: str) -> str:
        body = repr(case.body)[:150]
        return (
            f"{what} {case.method} {case.formatted_path} query={case.query} body={body} -> "
            f"{response.status_code} {response.content[:200]!r}\n    {failure.title}: "
            f"{failure.message[:300]}"
        )


def runnable(case):
    """A valid request, also where no schema can say it. A run: digits (installed
    everywhere), the caller's one team, max_individuals >= population, no val_size (digits
    has no test split). A dataset's name: printable (str.isprintable: Unicode categories no
    schema pattern here can name) and new in the team."""
    if case.operation.label in (CREATE, EDIT) and isinstance(case.body, dict):
        case.body.pop("team", None)
        case.body.pop("start_from", None)  # a source run with individuals: test_warm_start.py
        config = case.body.get("config")
        if isinstance(config, dict):
            config["dataset"] = "digits"
            config.pop("val_size", None)
            population = config.setdefault("population", 20)
            config["max_individuals"] = max(config.get("max_individuals", 200), population)
    if case.operation.label in NAMED and isinstance(case.body, dict):
        case.body.pop("team", None)
        if "name" in case.body or case.operation.method.upper() == "POST":
            case.body["name"] = f"set {next(NAMES)}"
    if case.operation.label in HOOKS and isinstance(case.body, dict) and "url" in case.body:
        case.body["url"] = "https://93.184.216.34/hook"  # public: no name to resolve here
    return case


NAMES = itertools.count()


def fuzz(operation, mode, headers: dict, findings: Findings, kept: dict, path=None) -> None:
    """EXAMPLES_PER_OPERATION cases of `mode`; `path`: path parameters fixed (a real id)."""
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path)
    if mode is GenerationMode.POSITIVE:
        strategy = strategy.map(runnable)
    checks = [*CONFORMANCE, *DATA]
    if operation.label == SEED:
        checks.remove(positive_data_acceptance)

    @given(case=strategy)
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case):
        findings.check(case, case.call(headers=headers), checks, headers, mode.value)
        if mode is GenerationMode.POSITIVE and (path or "{" not in operation.path):
            kept.setdefault(operation.label, case)

    run()


def fuzz_all(operation, headers: dict, real_ids: dict, findings: Findings, kept: dict) -> None:
    """Both modes with generated ids (almost always 404s: the path negated, an id that is
    not one, must be a 404 too), then, where the path names an object, both with a real one
    (negative: only where something else can be wrong, a parameter or a body)."""
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        fuzz(operation, mode, headers, findings, kept)
    parts = operation.path.split("/")  # each {parameter} is an id of the kind before it
    real = {p[1:-1]: real_ids[parts[i - 1]] for i, p in enumerate(parts) if p.startswith("{")}
    if real:
        fuzz(operation, GenerationMode.POSITIVE, headers, findings, kept, real)
        if operation.query or operation.body:
            fuzz(operation, GenerationMode.NEGATIVE, headers, findings, kept, real)


def probe(case, admin: dict, viewer: dict, findings: Findings) -> None:
    """The answers no generated case asks for: 401, 403, 406, 413, 415."""
    findings.expect(case, response := case.call(headers={}), (401,), "anonymous")
    findings.check(case, response, CONFORMANCE, {}, "anonymous")
    findings.check(case, case.call(headers=viewer), CONFORMANCE, viewer, "viewer")
    odd = {**admin, "Accept": "application/x-unknown"}  # a download answers its file anyway
    response = case.call(headers=odd)
    if "406" in case.operation.responses.status_codes:
        findings.expect(case, response, (406,), "accept")
    findings.check(case, response, CONFORMANCE, odd, "accept")
    if case.operation.body:
        text = {**admin, "Content-Type": "text/plain"}
        response = case.call(headers=text, data=b"workers=2")
        findings.expect(case, response, (415,), "text body")
        findings.check(case, response, CONFORMANCE, text, "text body")
        big, headers = _too_large(case.operation.label == SEED)
        response = case.call(headers={**admin, **headers}, data=big)
        findings.expect(case, response, (413,), "large body")
        findings.check(case, response, CONFORMANCE, {**admin, **headers}, "large body")


def _too_large(multipart: bool) -> tuple[bytes, dict]:
    if not multipart:
        return b'{"name": "' + b"x" * BODY_LIMIT + b'"}', {"Content-Type": "application/json"}
    body = (
        b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\n'
        + b"x" * BODY_LIMIT
        + b"\r\n--b--\r\n"
    )
    return body, {"Content-Type": "multipart/form-data; boundary=b"}


def test_the_api_does_what_its_schema_says(admin, viewer, exp, settings, tmp_path):
    # A cache of this test's own: the wrong tokens below lock this client's address.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.EVOLAB_LOGIN_ADDRESS_FAILURE_LIMIT = 1
    settings.EVOLAB_DATA_DIR = tmp_path / "data"  # uploads land here
    # Something to find, list, download, rename and delete.
    ind = store_individual(exp, 0)
    upload = TeamDataset.objects.create(team=exp.team, name="upload", state="failed")
    real_ids = {"experiments": exp.pk, "individuals": ind.pk, "teams": exp.team_id}
    settings.EVOLAB_WEBHOOK_ALLOW_PRIVATE = False
    hook, _ = create_webhook(exp.team, admin, "https://93.184.216.34/hook", ["finished"])
    real_ids |= {"datasets": upload.pk, "webhooks": hook.pk}
    real_ids = {kind: str(pk) for kind, pk in real_ids.items()}
    as_admin = {"Authorization": f"Token {create_token(admin, 'schemathesis')[1]}"}
    as_viewer = {"Authorization": f"Token {create_token(viewer, 'schemathesis')[1]}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    findings, kept = Findings(), {}
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")  # last
    assert len(operations) >= 18
    for operation in operations:
        fuzz_all(operation, as_admin, real_ids, findings, kept)
    assert set(kept) == {operation.label for operation in operations}
    if not TeamDataset.objects.filter(pk=upload.pk).exists():
        upload.save(force_insert=True)  # again: DELETE took it
    if not type(hook).objects.filter(pk=hook.pk).exists():
        hook.save(force_insert=True)
    if not Experiment.objects.filter(pk=exp.pk).exists():  # the run too (DELETEs go last)
        exp.save(force_insert=True)
        ind.save(force_insert=True)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = BODY_LIMIT
    for case in kept.values():
        probe(case, as_admin, as_viewer, findings)
    wrong = {"Authorization": "Token not-a-token"}  # the first locks the address: 429s after
    client = {"REMOTE_ADDR": "198.51.100.7"}
    for n, case in enumerate(kept.values()):
        response = case.call(headers=wrong, environ_base=client)
        findings.expect(case, response, (429,) if n else (401,), "wrong token")
        findings.check(case, response, CONFORMANCE, wrong, "wrong token")
    assert not findings.found, "\n".join(list(findings.found.values())[:15])
