"""Every REST route the client calls, in one place.

The OpenAPI schema at /api/schema/ is the contract: tests/unit/api/test_client_routes.py
checks that each route below exists there with its method, the query parameters the client
sends, the body fields it sends and the response fields it reads. The client builds every
request from this table (`http.Session.call`), so a route cannot be used without being
checked."""

from __future__ import annotations

from dataclasses import dataclass

EXPERIMENT_FIELDS = (
    "id", "name", "team", "status", "config", "individuals_trained", "best", "total_flops",
    "test_accuracy", "ensemble_test_accuracy", "created", "failure_reason", "last_seq",
)  # fmt: skip
INDIVIDUAL_FIELDS = (
    "id", "experiment", "number", "parent", "mutation", "state", "val_accuracy",
    "test_accuracy", "flops", "params", "has_weights", "dna",
)  # fmt: skip
PAGE = ("limit", "offset")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {id} where the route takes one
    params: tuple[str, ...] = ()  # query parameters the client sends
    sends: tuple[str, ...] = ()  # request body fields the client sends
    reads: tuple[str, ...] = ()  # response fields the client reads (of each item of a page)


def _control(verb: str) -> Route:
    return Route("POST", f"/api/experiments/{{id}}/{verb}/", reads=EXPERIMENT_FIELDS)


ROUTES: dict[str, Route] = {
    "teams.list": Route("GET", "/api/teams/", PAGE, reads=("id", "name", "role")),
    "datasets.list": Route("GET", "/api/datasets/", PAGE, reads=("name", "title", "state")),
    "experiments.list": Route(
        "GET",
        "/api/experiments/",
        (*PAGE, "status", "team", "ordering", "tag", "archived"),
        reads=EXPERIMENT_FIELDS,
    ),
    "experiments.create": Route(
        "POST",
        "/api/experiments/",
        sends=("name", "team", "config", "start", "start_from"),
        reads=EXPERIMENT_FIELDS,
    ),  # fmt: skip
    "experiments.retrieve": Route("GET", "/api/experiments/{id}/", reads=EXPERIMENT_FIELDS),
    "experiments.update": Route(
        "PATCH",
        "/api/experiments/{id}/",
        sends=("name", "notes", "tags", "archived", "config"),
        reads=EXPERIMENT_FIELDS,
    ),
    "experiments.delete": Route("DELETE", "/api/experiments/{id}/"),
    "experiments.start": _control("start"),
    "experiments.pause": _control("pause"),
    "experiments.resume": _control("resume"),
    "experiments.stop": _control("stop"),
    "experiments.evaluate": _control("evaluate"),
    "experiments.clone": _control("clone"),
    "experiments.workers": Route(
        "POST", "/api/experiments/{id}/workers/", sends=("workers",), reads=EXPERIMENT_FIELDS
    ),
    "experiments.events": Route(
        "GET", "/api/experiments/{id}/events/", ("after",), reads=("events", "last_seq")
    ),
    "experiments.individuals": Route(
        "GET",
        "/api/experiments/{id}/individuals/",
        (*PAGE, "state", "ordering"),
        reads=INDIVIDUAL_FIELDS,
    ),  # fmt: skip
    "experiments.download": Route("GET", "/api/experiments/{id}/download/", ("format",)),
    "experiments.report": Route("GET", "/api/experiments/{id}/report/", ("format",)),
    "experiments.seed": Route(
        "POST", "/api/experiments/{id}/seed/", sends=("dna", "weights"), reads=INDIVIDUAL_FIELDS
    ),
    "individuals.retrieve": Route("GET", "/api/individuals/{id}/", reads=INDIVIDUAL_FIELDS),
    "individuals.download": Route("GET", "/api/individuals/{id}/download/", ("format",)),
}

# Not REST (so not in the OpenAPI schema): the run's live event stream.
WEBSOCKET = "/ws/experiments/{id}/"
TERMINAL = ("finished", "stopped", "failed")
DOWNLOAD_FORMATS = ("bundle", "safetensors", "torchscript", "exported-program", "onnx", "dna")
