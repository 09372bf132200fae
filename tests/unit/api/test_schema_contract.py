"""What Schemathesis found the schema and the server disagreeing on (#19.8), each case by
name: the schema now says what the server takes, and the server refuses what the schema
forbids, with a message naming the parameter (test_schemathesis.py fuzzes the rest)."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from .conftest import api, store_individual

JSON = "application/json"


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _query(schema: dict, path: str, name: str) -> dict:
    params = schema["paths"][path]["get"]["parameters"]
    return next(p["schema"] for p in params if p["name"] == name)


def _body(schema: dict, path: str, name: str) -> dict:
    body = schema["paths"][path]["post"]["requestBody"]["content"][JSON]["schema"]
    if "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    return body["properties"][name]


def test_what_the_schema_allows_the_server_takes(schema, member, exp):
    assert _body(schema, "/api/experiments/{id}/workers/", "workers")["minimum"] == 1
    assert _query(schema, "/api/experiments/{id}/individuals/", "min_accuracy")["minimum"] == 0
    client = api(member)
    r = client.post(f"/api/experiments/{exp.pk}/workers/", {"workers": 1}, format="json")
    assert r.status_code == 200 and r.json()["config"]["workers"] == 1
    r = client.get(f"/api/experiments/{exp.pk}/individuals/?min_accuracy=0&limit=1000")
    assert r.status_code == 200


@pytest.mark.parametrize(
    "query",
    ["limit=1&limit=2", "limit=0", "limit=1001", "limit=2.0", "offset=-1", "team=0.0",
     "team=1.0", "team=²", "team=", "status=", "ordering=bogus", "ordering=name,,created"],
)  # fmt: skip
def test_what_the_schema_forbids_the_server_refuses(member, query):
    r = api(member).get(f"/api/experiments/?{query}")
    assert r.status_code == 400, query
    assert query.split("=")[0] in r.json()


def test_numbers_in_a_json_body_are_json_numbers(member, exp):
    client = api(member)
    for body in ({"workers": "3"}, {"workers": 2.0}, {"workers": True}, {"workers": 0}):
        r = client.post(f"/api/experiments/{exp.pk}/workers/", body, format="json")
        assert r.status_code == 400 and "workers" in r.json(), body
    run = {"name": "a", "config": {"population": "20", "max_flops": "1e9"}}
    r = client.post("/api/experiments/", run, format="json")
    assert r.status_code == 400 and set(r.json()["config"]) == {"population", "max_flops"}
    for bad in ({"name": 5}, {"start": "yes"}, {"team": "1"}):
        r = client.post("/api/experiments/", {"name": "a", "config": {}, **bad}, format="json")
        assert r.status_code == 400 and set(bad) <= set(r.json()), bad


def test_downloads_declare_their_types_and_errors_are_json(schema, member, exp):
    ensemble = schema["paths"]["/api/experiments/{id}/download/"]["get"]["responses"]["200"]
    assert set(ensemble["content"]) == {"application/zip"}
    one = schema["paths"]["/api/individuals/{id}/download/"]["get"]["responses"]["200"]
    assert set(one["content"]) == {"application/zip", "application/octet-stream", JSON}
    ind = store_individual(exp)
    r = api(member).get(f"/api/individuals/{ind.pk}/download/?format=dna")
    assert r.status_code == 200 and r["Content-Type"] == JSON
    # The type the schema names may be asked for (DRF's negotiation answered 406).
    r = api(member).get(f"/api/individuals/{ind.pk}/download/", HTTP_ACCEPT="application/zip")
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    r = api(member).get(
        f"/api/individuals/{ind.pk}/download/?format=x", HTTP_ACCEPT="application/zip"
    )
    assert r.status_code == 400 and r["Content-Type"] == JSON and "format" in r.json()
    for url in ("/api/experiments/abc/", "/api/individuals/1234567890123456789/", "/api/nothing/"):
        r = api(member).get(url)
        assert r.status_code == 404 and r.json() == {"detail": "Not found."}, url


def test_every_operation_documents_its_errors(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            codes = set(operation["responses"])
            assert {"400", "401", "429"} <= codes, (method, path)
            # A download (a run's files, its report) is sent whatever the Accept header.
            assert path.endswith(("/download/", "/report/")) or "406" in codes, (method, path)
            assert "{id}" not in path or "404" in codes, (method, path)
            assert method == "get" or "403" in codes, (method, path)
            if "requestBody" in operation:
                assert {"413", "415"} <= codes, (method, path)


def test_a_body_over_the_limit_is_a_413_in_json(member, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = {"name": "x" * 200, "config": {}}
    r = api(member).post("/api/experiments/", body, format="json")
    assert r.status_code == 413 and "larger than 100 bytes" in r.json()["detail"]
