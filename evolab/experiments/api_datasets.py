"""The datasets API and page: the installation's datasets plus the uploads of your teams.

`GET /api/datasets/` lists both; `POST` (multipart: file, name, team) uploads an archive as
a team member; `GET /api/datasets/<id>/` an upload's state and indexing progress; `PATCH`
(name) and `DELETE` by the team's admins. Another team's upload answers 404, a role too low
403 (evolab.experiments.uploads does the work)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from evolab.accounts.models import Role
from evolab.accounts.services import teams_for
from evolab.api_contract import MAX_INT, JsonString, Query, not_blank_pattern
from evolab.datasets import DatasetError, list_datasets
from evolab.datasets import uploads as files

from . import uploads
from .api import FORBIDDEN, ID_PATTERN, require_role
from .api_filters import Pagination
from .models import DatasetState, TeamDataset

UPLOAD_STATES = [s.value for s in DatasetState]
CHOOSE_FILE = "Choose an archive to upload (a .zip, or a .tar[.gz] of IDX/CIFAR files)."
# ?team= is read before the body: a team you may not upload to is refused before the file.
UPLOAD_TEAM = Query(
    "team", "integer", 1, MAX_INT, description="The team, checked before the file is read."
)


class DatasetSerializer(serializers.Serializer):
    """A dataset and whether its files are installed (evolab.datasets.catalog)."""

    name = serializers.CharField(help_text="the config's dataset value")
    title = serializers.CharField()
    state = serializers.ChoiceField(["ready", "missing", "invalid"])
    shape = serializers.ListField(child=serializers.IntegerField(), help_text="C, H, W")
    num_classes = serializers.IntegerField(allow_null=True)
    train = serializers.IntegerField(allow_null=True, help_text="with the default val_size")
    val = serializers.IntegerField(allow_null=True)
    test = serializers.IntegerField(allow_null=True)
    stratified = serializers.BooleanField(help_text="validation held out class by class")
    source = serializers.CharField(help_text="where the files were found")
    expected = serializers.ListField(
        child=serializers.CharField(), help_text="missing: the files expected, and where"
    )
    reason = serializers.CharField(help_text="missing or invalid: why, in words")


class TeamDatasetSerializer(serializers.ModelSerializer):
    """One upload of your teams; `name` in a run's config is `config_name`."""

    config_name = serializers.CharField(read_only=True, help_text="the config's dataset value")
    train = serializers.SerializerMethodField()
    val = serializers.SerializerMethodField()
    test = serializers.SerializerMethodField()

    class Meta:
        model = TeamDataset
        fields = ["id", "team", "name", "config_name", "kind", "state", "progress", "message",
                  "images", "classes", "train", "val", "test", "fingerprint", "archive_sha256",
                  "archive_bytes", "created"]  # fmt: skip
        read_only_fields = [f for f in fields if f != "name"]

    def _sizes(self, ds: TeamDataset) -> dict:
        if ds.state != DatasetState.READY:
            return {}
        cache = self.context.setdefault("sizes", {})
        if ds.pk not in cache:
            try:
                cache[ds.pk] = files.sizes(settings.EVOLAB_DATA_DIR, ds.config_name)
            except DatasetError:
                cache[ds.pk] = {}
        return cache[ds.pk]

    def get_train(self, ds) -> int | None:
        return self._sizes(ds).get("train")

    def get_val(self, ds) -> int | None:
        return self._sizes(ds).get("val")

    def get_test(self, ds) -> int | None:
        return self._sizes(ds).get("test")


@extend_schema_field(
    {"type": "string", "maxLength": uploads.NAME_CHARS, "pattern": not_blank_pattern()}
)
class DatasetNameField(JsonString):
    """A dataset's name: at most 100 characters, not only blanks, printable, new in the team
    (the last two uploads.clean_name checks: a 400 naming the field)."""

    def __init__(self, **kwargs):
        message = "Give the dataset a name."
        super().__init__(
            max_length=uploads.NAME_CHARS,
            trim_whitespace=False,  # the limit is on what was sent; clean_name strips it
            error_messages={"required": message, "blank": message},
            help_text="Printable text, new in the team.",
            **kwargs,
        )


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="a .zip of <class>/<image>, or IDX/CIFAR files",
        error_messages={"required": CHOOSE_FILE},
    )
    name = DatasetNameField()
    team = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_INT, help_text="Optional if you are in one team."
    )


class RenameSerializer(serializers.Serializer):
    name = DatasetNameField()


class ListedSerializer(DatasetSerializer):
    """An installed dataset, or an upload of your teams (with its id, team and progress)."""

    state = serializers.ChoiceField(["ready", "missing", "invalid", *UPLOAD_STATES])
    id = serializers.IntegerField(required=False, help_text="uploads only")
    team = serializers.IntegerField(required=False, help_text="uploads only")
    progress = serializers.IntegerField(required=False, help_text="uploads: indexing, 0-100")
    fingerprint = serializers.CharField(required=False, help_text="uploads: sha256 of the data")


def upload_entry(ds: TeamDataset, data: dict) -> dict:
    """An upload as the listing shows it, in the shape of an installed dataset's entry."""
    return {
        "name": ds.config_name, "title": ds.name, "state": ds.state, "shape": [3, 32, 32],
        "num_classes": ds.classes or None, "train": data["train"], "val": data["val"],
        "test": data["test"], "stratified": True, "source": f"uploaded ({ds.kind or 'archive'})",
        "expected": [], "reason": ds.message, "id": ds.pk, "team": ds.team_id,
        "progress": ds.progress, "fingerprint": ds.fingerprint,
    }  # fmt: skip


class DatasetViewSet(viewsets.GenericViewSet):
    """The datasets a run can use: the installation's own (ready, with split sizes and
    shape, or missing, with the files expected) and your teams' uploads."""

    serializer_class = TeamDatasetSerializer
    pagination_class = Pagination
    filter_backends: list = []
    lookup_value_regex = ID_PATTERN
    parser_classes = [MultiPartParser, FormParser, *viewsets.GenericViewSet.parser_classes]

    def get_queryset(self):
        return uploads.for_teams(teams_for(self.request.user)).select_related("team")

    @extend_schema(responses=ListedSerializer(many=True))
    def list(self, request):
        installed = [e.to_json() for e in list_datasets(settings.EVOLAB_DATA_DIR)]
        mine = self.get_queryset()
        data = TeamDatasetSerializer(mine, many=True).data
        listed = installed + [upload_entry(ds, d) for ds, d in zip(mine, data, strict=True)]
        page = self.paginate_queryset(listed)
        return self.get_paginated_response(page)

    def retrieve(self, request, pk=None):
        return Response(TeamDatasetSerializer(self.get_object()).data)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        parameters=[UPLOAD_TEAM.parameter()],
        responses={
            201: TeamDatasetSerializer,
            403: FORBIDDEN,
            404: OpenApiResponse(description="?team= or team is not one of your teams."),
        },
        description="Upload an archive as a team member; a worker indexes it (poll the "
        "dataset's state and progress).",
    )
    def create(self, request):
        cap = (settings.EVOLAB_UPLOAD_MAX_MB << 20) + (1 << 20)  # the file plus its form
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        team = self._team(UPLOAD_TEAM.read(request.query_params), early=True)
        if length > cap:
            return Response(
                {
                    "file": [
                        f"The file is larger than the limit ({settings.EVOLAB_UPLOAD_MAX_MB} MB)."
                    ]
                },
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        body = UploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        team = team or self._team(body.validated_data.get("team"))
        try:
            ds = uploads.create_upload(
                team, request.user, body.validated_data.get("name", ""),
                body.validated_data.get("file"),
            )  # fmt: skip
        except uploads.UploadRefused as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        return Response(TeamDatasetSerializer(ds).data, status=status.HTTP_201_CREATED)

    def _team(self, team_id, early: bool = False):
        """The team to upload to: 404 for a team you are not in, 403 below member."""
        user = self.request.user
        members = teams_for(user, Role.MEMBER)
        if team_id in (None, ""):
            if early:
                if not members.exists():  # refused before the body is read
                    raise PermissionDenied(f"Only a team {Role.MEMBER} or above can do this.")
                return None
            if members.count() != 1:
                raise ValidationError({"team": ["Say which team (you are a member of several)."]})
            return members.get()
        try:
            team_id = int(team_id)
        except (TypeError, ValueError):
            raise ValidationError({"team": ["A team id."]}) from None
        if not teams_for(user).filter(pk=team_id).exists():
            raise NotFound("No such team.")
        require_role(user, team_id, Role.MEMBER)
        return members.get(pk=team_id)

    @extend_schema(
        request=RenameSerializer,
        responses={200: TeamDatasetSerializer, 403: FORBIDDEN},
        description="Rename (team admins); without a name nothing changes.",
    )
    def partial_update(self, request, pk=None):
        ds = self.get_object()
        require_role(request.user, ds.team_id, Role.ADMIN)
        body = RenameSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        if "name" in body.validated_data:
            try:
                uploads.rename(ds, body.validated_data["name"])
            except uploads.UploadRefused as exc:
                raise ValidationError({"name": [str(exc)]}) from None
        return Response(TeamDatasetSerializer(ds).data)

    @extend_schema(
        responses={
            204: None,
            403: FORBIDDEN,
            409: OpenApiResponse(description="In use."),
        },
        description="Delete it and its files (team admins); refused while a run uses it.",
    )
    def destroy(self, request, pk=None):
        ds = self.get_object()
        require_role(request.user, ds.team_id, Role.ADMIN)
        try:
            uploads.delete(ds)
        except uploads.UploadRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)


@login_required
def datasets_page(request: HttpRequest) -> HttpResponse:
    """Your teams' uploads with their state, and the upload form (frontend .../datasets.js)."""
    teams = list(teams_for(request.user))
    members = {t.pk for t in teams_for(request.user, Role.MEMBER)}
    admins = {t.pk for t in teams_for(request.user, Role.ADMIN)}
    context = {
        "datasets": uploads.for_teams(teams_for(request.user)).select_related("team"),
        "upload_teams": [t for t in teams if t.pk in members],
        "admin_teams": admins,
        "max_mb": settings.EVOLAB_UPLOAD_MAX_MB,
        "max_images": settings.EVOLAB_UPLOAD_MAX_IMAGES,
        "max_pixels": settings.EVOLAB_UPLOAD_MAX_PIXELS,
    }
    return render(request, "experiments/datasets.html", context)
