"""Teams over the REST API (read only: membership is managed on the team pages)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets

from evolab.api_contract import Pagination, Query, ordering, read_ordering

from .models import Membership, Role, Team
from .services import teams_for

NAME = Query("name", description="Only the team of this exact name (empty: any).")
ORDERING = ordering(("name", "created"), many=True, default="name")


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
    pagination_class = Pagination
    filter_backends: list = []  # list() reads its own parameters

    def get_queryset(self):
        return teams_for(self.request.user).order_by("name")

    @extend_schema(parameters=[NAME.parameter(), ORDERING.parameter()])
    def list(self, request):
        rows = self.get_queryset()
        name, order = NAME.read(request.query_params), read_ordering(ORDERING, request.query_params)
        if name:
            rows = rows.filter(name=name)
        page = self.paginate_queryset(rows.order_by(*order) if order else rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
