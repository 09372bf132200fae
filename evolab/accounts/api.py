"""Teams over the REST API (read only: membership is managed on the team pages)."""

from __future__ import annotations

from rest_framework import mixins, serializers, viewsets

from .models import Membership, Role, Team
from .services import teams_for


class TeamSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "name", "role", "created"]
        read_only_fields = fields

    def get_role(self, team: Team) -> Role:
        user = self.context["request"].user
        return Membership.objects.get(user=user, team=team).role


class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The teams you belong to, with your role in each."""

    serializer_class = TeamSerializer
    lookup_value_regex = r"[0-9]{1,18}"  # larger ids cannot exist; keeps SQL in range
    ordering_fields = ["name", "created"]
    filterset_fields = ["name"]

    def get_queryset(self):
        return teams_for(self.request.user).order_by("name")
