"""Team webhooks over the REST API: /api/teams/<team_id>/webhooks/ for the team's admins.

List, create (the answer holds the secret, the only time it is shown), read, change (url,
events, N, active), delete, and each webhook's delivery log. Another team's webhooks, and
those of a team you are not in, answer 404; viewers and members 403.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from evolab.accounts.models import Role
from evolab.accounts.services import teams_for
from evolab.api_contract import JsonBoolean, JsonInteger, JsonString

from . import services
from .models import EVENTS, Attempt, Subscription
from .ssrf import MAX_URL

ID_PATTERN = r"[0-9]{1,18}"
FORBIDDEN = OpenApiResponse(description="Only the team's admins manage its webhooks.")
LOG_LENGTH = 100


class WebhookSerializer(serializers.ModelSerializer):
    url = JsonString(max_length=MAX_URL, help_text="http(s), to a public address")
    events = serializers.ListField(
        child=serializers.ChoiceField(EVENTS), min_length=1, max_length=len(EVENTS)
    )
    no_improvement_individuals = JsonInteger(
        min_value=1, max_value=services.MAX_N, default=100,
        help_text="no_improvement: after this many individuals without a better best",
    )  # fmt: skip
    active = JsonBoolean(default=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Subscription
        fields = ["id", "url", "events", "no_improvement_individuals", "active", "created",
                  "created_by"]  # fmt: skip
        read_only_fields = ["id", "created", "created_by"]


class CreatedWebhookSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="Signs every delivery. Shown in this answer only: keep it."
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class AttemptSerializer(serializers.ModelSerializer):
    delivery = serializers.IntegerField(source="delivery_id")
    event = serializers.CharField(source="delivery.event")
    experiment = serializers.IntegerField(source="delivery.experiment_id")
    attempt = serializers.IntegerField(source="number")
    state = serializers.CharField(source="delivery.state", help_text="the delivery's, now")

    class Meta:
        model = Attempt
        fields = ["at", "delivery", "event", "experiment", "attempt", "ok", "status_code",
                  "error", "seconds", "retry_in", "state"]  # fmt: skip
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(responses={200: WebhookSerializer(many=True), 403: FORBIDDEN}),
    retrieve=extend_schema(responses={200: WebhookSerializer, 403: FORBIDDEN}),
)
class WebhookViewSet(viewsets.GenericViewSet):
    """A team's webhooks (team admins): signed POSTs on run events."""

    serializer_class = WebhookSerializer
    lookup_value_regex = ID_PATTERN
    pagination_class = None
    filter_backends: list = []

    def team(self):
        team = teams_for(self.request.user).filter(pk=self.kwargs["team_id"]).first()
        if team is None:
            raise NotFound("No such team.")
        if not teams_for(self.request.user, Role.ADMIN).filter(pk=team.pk).exists():
            raise PermissionDenied("Only a team admin can manage its webhooks.")
        return team

    def get_queryset(self):
        return services.team_webhooks(self.team()).select_related("created_by")

    def list(self, request, team_id=None):
        return Response(WebhookSerializer(self.get_queryset(), many=True).data)

    def retrieve(self, request, team_id=None, pk=None):
        return Response(WebhookSerializer(self.get_object()).data)

    @extend_schema(responses={201: CreatedWebhookSerializer, 403: FORBIDDEN})
    def create(self, request, team_id=None):
        team = self.team()
        body = WebhookSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            sub, secret = services.create_webhook(
                team, request.user, data["url"], data["events"],
                data["no_improvement_individuals"], data["active"],
            )  # fmt: skip
        except services.Refused as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        sub.secret = secret
        response = Response(CreatedWebhookSerializer(sub).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(responses={200: WebhookSerializer, 403: FORBIDDEN})
    def partial_update(self, request, team_id=None, pk=None):
        sub = self.get_object()
        body = WebhookSerializer(sub, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        try:
            services.update_webhook(sub, dict(body.validated_data))
        except services.Refused as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        return Response(WebhookSerializer(sub).data)

    @extend_schema(responses={204: None, 403: FORBIDDEN})
    def destroy(self, request, team_id=None, pk=None):
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        responses={200: AttemptSerializer(many=True), 403: FORBIDDEN},
        description=f"The webhook's latest {LOG_LENGTH} delivery attempts, newest first.",
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, team_id=None, pk=None):
        sub = self.get_object()
        rows = services.delivery_log(Subscription.objects.filter(pk=sub.pk), LOG_LENGTH)
        return Response(AttemptSerializer(rows, many=True).data)
