"""REST API (Django REST framework). Every queryset is scoped to the caller's teams, so
another team's objects answer 404; a role too low for an action answers 403; state
changes go through `services`; downloads are built by `downloads`.

The OpenAPI schema is the contract (evolab/api_contract.py, checked by Schemathesis in
tests/unit/api/test_schemathesis.py): query parameters are `Query`s (api_filters.py), body
fields take only their JSON type, and a run's config has its own schema
(config.config_schema) beside the validator that says what it cannot (the installation's
datasets, population <= max_individuals)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from evolab.accounts.models import Role
from evolab.accounts.services import teams_for
from evolab.api_contract import (
    AnyAccept,
    Pagination,
    Query,
)

from . import actions, deletion, downloads, editing, imports, services, warmstart
from .api_editing import ExperimentUpdateSerializer
from .api_filters import (
    AFTER,
    EXPERIMENT_QUERY,
    INDIVIDUAL_QUERY,
    events_after,
    filtered_experiments,
    ordered_individuals,
)
from .api_serializers import (
    ESCAPE_SCHEMA,
    EscapeSerializer,
    EventPageSerializer,
    ExperimentCreateSerializer,
    ExperimentSerializer,
    IndividualSerializer,
    PinnedSerializer,
    SeedSerializer,
    WorkersSerializer,
)
from .config import ConfigError
from .models import Experiment, Individual, TransitionError
from .report import attachment as report_attachment

ID_PATTERN = r"[0-9]{1,18}"  # larger ids cannot exist; refusing them keeps SQL in range
CONFLICT = OpenApiResponse(description="Not allowed in the run's current status.")
ADJUST_CONFLICT = OpenApiResponse(
    description="The run cannot train any more (stopping, stopped, finished or failed)."
)
FORBIDDEN = OpenApiResponse(description="Your role in this team does not allow it.")
BINARY = OpenApiResponse(OpenApiTypes.BINARY, description="The file, as an attachment.")
ENSEMBLE_FORMAT = Query("format", choices=("ensemble",), default="ensemble")
REPORT_FORMAT = Query(
    "format",
    choices=("html", "pdf"),
    default="html",
    description="html: one self-contained HTML file; pdf: the same report as a PDF (A4).",
)
INDIVIDUAL_FORMAT = Query(
    "format",
    choices=downloads.FORMATS,
    default="bundle",
    description="bundle: zip with predict.py, model.torchscript.pt (TorchScript), model.pt "
    "(torch.export), model.safetensors, model.onnx, dna.json, metrics.json (with the input's "
    "preprocessing), README.md; safetensors: the weights; torchscript: a TorchScript file "
    "(torch.jit.load); exported-program: a torch.export program, .pt2 (torch.export.load); "
    "onnx; dna: the DNA as JSON.",
)


def require_role(user, team_id: int, role: str = Role.MEMBER) -> None:
    """403 for a team member whose role is too low (outsiders never get this far: 404)."""
    if not teams_for(user, role).filter(pk=team_id).exists():
        raise PermissionDenied(f"Only a team {role} or above can do this.")


def conflict(exc: TransitionError) -> Response:
    """409: the run's state does not allow it (evolab.experiments.actions says why)."""
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


def _control_schema(verb: str, created: bool = False, ok: int | None = None, more: str = ""):
    ok = ok or (status.HTTP_201_CREATED if created else status.HTTP_200_OK)
    return extend_schema(
        request=None,
        responses={ok: ExperimentSerializer, 403: FORBIDDEN, 409: CONFLICT},
        description=f"{verb.capitalize()} the run (team members and admins).{more}",
    )


EVALUATE_MORE = (
    " The final test evaluation of a finished run, for a stopped one: the best by validation "
    "and the top-k ensemble on the test split, in a worker; the answer has `evaluating` true "
    "and the numbers follow in the run (and a `result` event). 409 unless the run is stopped, "
    "trained someone and is not evaluated or being evaluated already."
)


# Whether a download exists depends on what was kept: the schema can say it in words only.
DOWNLOAD_404 = OpenApiResponse(
    description="No such object among your teams', or its weights were not kept (dead "
    "individuals' weights are removed), or (onnx) the architecture does not export to ONNX."
)


class ExperimentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Runs of your teams. Filter with ?status=, ?team=, ?dataset=, ?tag=, ?q= and
    ?archived=, order with ?ordering=."""

    serializer_class = ExperimentSerializer
    filter_backends: list = []  # list() reads its own parameters (api_filters.EXPERIMENT_QUERY)
    pagination_class = Pagination
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        rows = Experiment.objects.for_teams(teams_for(self.request.user))
        return rows.select_related("best").prefetch_related("tag_rows")

    @extend_schema(parameters=[query.parameter() for query in EXPERIMENT_QUERY])
    def list(self, request):
        rows = filtered_experiments(self.get_queryset(), request.query_params)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ExperimentSerializer(page, many=True).data)

    @extend_schema(
        request=ExperimentCreateSerializer,
        responses={
            201: ExperimentSerializer,
            404: OpenApiResponse(description="start_from names no run of the new run's team."),
        },
        description="Create a run in one of your teams (members and admins). Beyond what the "
        "schema says, the config's dataset must be one GET /api/datasets/ lists as ready, "
        "max_individuals at least the population, and val_size only for a set with a test "
        "split that it fits: else a 400 naming the setting. With start_from, the source run "
        "must be of the same team (else 404, as for no run), on images of the same shape "
        "with as many classes, with k at most the population and no more alive individuals "
        "than the population: else a 400 naming start_from.",
    )
    def create(self, request):
        body = ExperimentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        team = self._team_for_create(data.get("team"))
        try:
            exp = services.create_experiment(
                team, request.user, data["name"], data["config"], data["start"],
                data.get("start_from"),
            )  # fmt: skip
        except warmstart.SourceNotFound as exc:
            raise NotFound(str(exc)) from None
        except warmstart.WarmStartError as exc:
            raise ValidationError({"start_from": [str(exc)]}) from None
        except ConfigError as exc:
            raise ValidationError({"config": exc.errors}) from None
        except ValueError as exc:
            raise ValidationError({"name": [str(exc)]}) from None
        return Response(ExperimentSerializer(exp).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ExperimentUpdateSerializer,
        responses={200: ExperimentSerializer, 403: FORBIDDEN, 409: CONFLICT},
        description="Rename, annotate (Markdown notes), tag or archive a run (team members "
        "and admins), and, before it starts, change its settings. All the changes or none: "
        "a refused one is a 400 naming the field (another field than these included), a "
        "settings change once the run has started a 409.",
    )
    def partial_update(self, request, pk=None):
        exp = self._member_experiment()
        body = ExperimentUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            exp = editing.update_experiment(exp.pk, body.validated_data)
        except TransitionError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except ConfigError as exc:
            raise ValidationError({"config": exc.errors}) from None
        except editing.FieldRefused as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        return Response(ExperimentSerializer(exp).data)

    @extend_schema(
        responses={204: None, 403: FORBIDDEN, 409: CONFLICT},
        description="Delete a run with its individuals, events and stored weights (team "
        "members and admins). A running, pausing or stopping run is refused with a 409: "
        "stop it first.",
    )
    def destroy(self, request, pk=None):
        exp = self._member_experiment()
        try:
            deletion.delete_experiment(exp.pk)
        except TransitionError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _team_for_create(self, team_id: int | None):
        teams = teams_for(self.request.user, Role.MEMBER)
        if team_id is None:
            if teams.count() != 1:
                raise ValidationError({"team": ["Say which team (you are a member of several)."]})
            return teams.get()
        team = teams.filter(pk=team_id).first()
        if team is None:
            raise ValidationError({"team": ["No such team among those you can create runs in."]})
        return team

    def _member_experiment(self) -> Experiment:
        exp = self.get_object()
        require_role(self.request.user, exp.team_id, Role.MEMBER)
        return exp

    def _control(self, verb: str) -> Response:
        exp = self._member_experiment()
        try:
            if verb == "clone":
                exp = services.clone(exp.pk, self.request.user)
                return Response(ExperimentSerializer(exp).data, status=status.HTTP_201_CREATED)
            exp = services.control(exp.pk, verb)
        except TransitionError as exc:
            return conflict(exc)
        return Response(ExperimentSerializer(exp).data)

    @_control_schema("start")
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._control("start")

    @_control_schema("pause")
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._control("pause")

    @_control_schema("resume")
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._control("resume")

    @_control_schema("stop")
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        return self._control("stop")

    @_control_schema("evaluate", ok=status.HTTP_202_ACCEPTED, more=EVALUATE_MORE)
    @action(detail=True, methods=["post"])
    def evaluate(self, request, pk=None):
        exp = self._member_experiment()
        try:
            exp = services.evaluate(exp.pk)
        except TransitionError as exc:
            return conflict(exc)
        return Response(ExperimentSerializer(exp).data, status=status.HTTP_202_ACCEPTED)

    @_control_schema("clone (a new queued run with the same config)", created=True)
    @action(detail=True, methods=["post"])
    def clone(self, request, pk=None):
        return self._control("clone")

    @extend_schema(
        request=WorkersSerializer,
        responses={200: ExperimentSerializer, 403: FORBIDDEN, 409: ADJUST_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def workers(self, request, pk=None):
        """Change the number of parallel workers, also while the run is going."""
        exp = self._member_experiment()
        body = WorkersSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            exp = services.set_workers(exp.pk, body.validated_data["workers"])
        except ConfigError as exc:
            raise ValidationError(exc.errors) from None
        except TransitionError as exc:
            return conflict(exc)
        return Response(ExperimentSerializer(exp).data)

    @extend_schema(
        request={"application/json": ESCAPE_SCHEMA},
        responses={200: OpenApiTypes.OBJECT, 403: FORBIDDEN, 409: ADJUST_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def escape(self, request, pk=None):
        """ALGORITHM.md §3 escape knobs: {"boost_children": N} and/or {"reset_weights": true}."""
        exp = self._member_experiment()
        body = EscapeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        knobs = body.validated_data
        if "boost_children" not in knobs and knobs.get("reset_weights") is not True:
            raise ValidationError({"detail": "Send boost_children and/or reset_weights: true."})
        try:
            actions.check(exp, "escape")  # refused as a whole: neither knob moves
            done = self._escape(exp, knobs)
        except TransitionError as exc:
            return conflict(exc)
        return Response(done)

    @staticmethod
    def _escape(exp: Experiment, knobs: dict) -> dict:
        done = {}
        if "boost_children" in knobs:
            try:
                services.boost_mutations(exp.pk, knobs["boost_children"])
            except TransitionError:
                raise
            except ValueError as exc:
                raise ValidationError({"boost_children": [str(exc)]}) from None
            done["boost_children"] = knobs["boost_children"]
        if knobs.get("reset_weights") is True:
            done["reset"] = services.reset_all_weights(exp.pk)
        return done

    @extend_schema(
        request=SeedSerializer,
        responses={201: IndividualSerializer, 403: FORBIDDEN},
        description="Import an individual (DNA JSON, optionally safetensors weights) into the "
        "initial population of a run that has not started. Nothing else is ever accepted: a "
        "file that is not a valid DNA or safetensors for it, or a run that has started or "
        "whose initial population is full, is a 400 naming the field.",
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def seed(self, request, pk=None):
        exp = self._member_experiment()
        body = SeedSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        weights = body.validated_data.get("weights")
        try:
            ind = imports.import_seed(
                exp.pk,
                body.validated_data["dna"].read(),
                weights.read() if weights else None,
                request.user,
            )
        except imports.ImportError_ as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        return Response(IndividualSerializer(ind).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[query.parameter() for query in INDIVIDUAL_QUERY],
        responses=IndividualSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def individuals(self, request, pk=None):
        """The run's individuals, filtered by state, minimum accuracy and mutation."""
        rows = ordered_individuals(self.get_object(), request.query_params)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(IndividualSerializer(page, many=True).data)

    @extend_schema(parameters=[AFTER.parameter()], responses=EventPageSerializer)
    @action(detail=True, methods=["get"])
    def events(self, request, pk=None):
        """The event log after a sequence number (at most 1000; ask again from the last)."""
        exp = self.get_object()
        rows = events_after(exp, request.query_params)
        return Response({"events": [e.to_message() for e in rows], "last_seq": exp.last_seq})

    @extend_schema(
        parameters=[ENSEMBLE_FORMAT.parameter()],
        responses={
            (200, "application/zip"): BINARY,
            404: OpenApiResponse(
                description="No such run among your teams', or none of its individuals has "
                "weights yet (or they were not kept)."
            ),
        },
    )
    @action(detail=True, methods=["get"], content_negotiation_class=AnyAccept)
    def download(self, request, pk=None) -> HttpResponse:
        """The top-k ensemble (config ensemble_k) as one zip bundle."""
        exp = self.get_object()
        ENSEMBLE_FORMAT.read(request.query_params)
        return downloads.ensemble_download(exp)

    @extend_schema(
        parameters=[REPORT_FORMAT.parameter()],
        responses={
            (200, "text/html"): OpenApiResponse(
                OpenApiTypes.STR,
                description="One self-contained HTML file (figures as inline SVG, the "
                "stylesheet inlined, no script): an attachment.",
            ),
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="format=pdf: the report as a PDF, an attachment."
            ),
        },
    )
    @action(detail=True, methods=["get"], content_negotiation_class=AnyAccept)
    def report(self, request, pk=None) -> HttpResponse:
        """The run report, as /experiments/<id>/report.html (or .pdf): the population over
        time with the best so far, the best's architecture and lineage, accuracy against
        FLOPs, mutation statistics, budget, config, test accuracy and repeats of its config."""
        exp = self.get_object()
        return report_attachment(request, exp, REPORT_FORMAT.read(request.query_params))


class IndividualViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One individual of a run of your teams, with its DNA."""

    serializer_class = IndividualSerializer
    filter_backends: list = []
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return Individual.objects.filter(experiment__team__in=teams_for(self.request.user))

    @extend_schema(request=None, responses={200: PinnedSerializer, 403: FORBIDDEN})
    @action(detail=True, methods=["post", "delete"])
    def pin(self, request, pk=None):
        """Keep this individual's weights whatever the retention rule says (DELETE unpins)."""
        ind = self.get_object()
        require_role(request.user, ind.experiment.team_id, Role.MEMBER)
        services.pin(ind.pk, request.method == "POST")
        return Response({"id": ind.pk, "pinned": request.method == "POST"})

    @extend_schema(
        parameters=[INDIVIDUAL_FORMAT.parameter()],
        responses={
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="bundle: a zip; safetensors, torchscript, exported-program "
                "and onnx: application/octet-stream; dna: the DNA as JSON. An attachment.",
            ),
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            (200, "application/json"): OpenApiTypes.OBJECT,
            404: DOWNLOAD_404,
        },
    )
    @action(detail=True, methods=["get"], content_negotiation_class=AnyAccept)
    def download(self, request, pk=None) -> HttpResponse:
        ind = self.get_object()
        fmt = INDIVIDUAL_FORMAT.read(request.query_params)
        return downloads.individual_download(ind, fmt)
