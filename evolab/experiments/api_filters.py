"""Query parameters of the REST API: pagination, filters, ordering, event paging.

Every number that reaches SQL is bounded first: ids, offsets and sequence numbers past
what a 64-bit column holds would crash SQLite's driver rather than match nothing.
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

from .models import Event, Experiment, Individual, State, Status

MAX_INT = 2**62
EVENTS_PAGE = 1000
INDIVIDUAL_ORDERING = ("number", "val_accuracy", "flops", "params", "trained")


class Pagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000

    def get_offset(self, request) -> int:
        return min(super().get_offset(request), MAX_INT)


class ExperimentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    # A number, not a choice of teams: an unknown team must look like an empty one.
    team = django_filters.NumberFilter(field_name="team_id", min_value=1, max_value=MAX_INT)

    class Meta:
        model = Experiment
        fields = ["status", "team"]


class IndividualFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=State.choices)
    min_accuracy = django_filters.NumberFilter(
        field_name="val_accuracy", lookup_expr="gte", min_value=0, max_value=1
    )
    mutation = django_filters.CharFilter(max_length=40)

    class Meta:
        model = Individual
        fields = ["state", "min_accuracy", "mutation"]

    @staticmethod
    def schema_parameters() -> list[OpenApiParameter]:
        return [
            OpenApiParameter("state", str, enum=[s.value for s in State]),
            OpenApiParameter("min_accuracy", float, description="Validation accuracy >= this."),
            OpenApiParameter(
                "mutation", str, description="docs/ALGORITHM.md §3 name, e.g. ALTER-LR."
            ),
            OpenApiParameter(
                "ordering",
                str,
                enum=[f"{sign}{f}" for f in INDIVIDUAL_ORDERING for sign in ("", "-")],
            ),
        ]


def ordered_individuals(exp: Experiment, params) -> QuerySet[Individual]:
    """The experiment's individuals, filtered (400 on a bad value) and ordered."""
    found = IndividualFilter(params, queryset=exp.individuals.all())
    if not found.is_valid():
        raise ValidationError(found.errors)
    ordering = params.get("ordering", "number")
    if ordering.lstrip("-") not in INDIVIDUAL_ORDERING:
        raise ValidationError({"ordering": [f"Choose one of {', '.join(INDIVIDUAL_ORDERING)}."]})
    return found.qs.order_by(ordering, "number")


def events_after(exp: Experiment, after: str) -> QuerySet[Event]:
    try:
        seq = int(after)
    except ValueError:
        raise ValidationError({"after": ["Enter a sequence number."]}) from None
    if not 0 <= seq <= MAX_INT:
        raise ValidationError({"after": [f"Enter a sequence number from 0 to {MAX_INT}."]})
    return Event.objects.filter(experiment=exp, seq__gt=seq).order_by("seq")[:EVENTS_PAGE]
