"""The Python client's contract with the server (evolab/client/routes.py): every route it
calls exists in /api/schema/ with its method, the query parameters it sends, the body
fields it sends and the response fields it reads; and the client imports without Django."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator

from evolab.client import ROUTES
from evolab.client.http import _flatten


@pytest.fixture(scope="module")
def schema():
    """What /api/schema/ serves (test_schema.py checks the view itself), built once."""
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_served_schema_is_the_one_checked(client, member, schema):
    client.force_login(member)
    r = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200 and set(r.json()["paths"]) == set(schema["paths"])


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _properties(schema: dict, node: dict) -> set[str]:
    node = _resolve(schema, node)
    props = node.get("properties", {})
    if {"count", "results"} <= set(props):  # a page: the fields of each item
        return set(_resolve(schema, props["results"]["items"]).get("properties", {}))
    return set(props)


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_every_route_the_client_calls_is_in_the_schema_with_its_fields(schema, name):
    route = ROUTES[name]
    assert route.path in schema["paths"], f"{name}: {route.path} is not in /api/schema/"
    operation = schema["paths"][route.path].get(route.method.lower())
    assert operation is not None, f"{name}: no {route.method} {route.path}"
    params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    assert set(route.params) <= params, f"{name}: unknown query {set(route.params) - params}"
    if route.sends:
        bodies = operation["requestBody"]["content"].values()
        fields = set().union(*(_properties(schema, b["schema"]) for b in bodies))
        assert set(route.sends) <= fields, f"{name}: unknown body {set(route.sends) - fields}"
    if route.reads:
        ok = [r for code, r in operation["responses"].items() if code.startswith("2")]
        fields = _properties(schema, ok[0]["content"]["application/json"]["schema"])
        assert set(route.reads) <= fields, f"{name}: no field {set(route.reads) - fields}"


def test_the_client_and_the_cli_import_without_django():
    code = (
        f"import sys; sys.path.insert(0, {str(settings.BASE_DIR)!r}); "
        "import evolab.client, evolab.cli; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework', "
        "'channels', 'celery', 'torch')); print(bad); sys.exit(1 if bad else 0)"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_server_errors_read_as_one_message():
    assert _flatten({"detail": "Not found."}) == "Not found."
    assert _flatten({"config": {"population": ["Too small."]}}) == "config.population: Too small."
    assert _flatten({"name": ["Required."], "team": ["Say which."]}) == (
        "name: Required.; team: Say which."
    )
