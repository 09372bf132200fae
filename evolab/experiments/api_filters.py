"""Query parameters of the experiments API: filters, ordering, event paging, formats.

Each parameter is one `Query` (evolab/api_contract.py): the server reads it with the type,
bounds and choices the schema shows for it, and refuses anything else with a 400 naming it.
Every number that reaches SQL is bounded: ids, offsets and sequence numbers past what a
64-bit column holds would crash SQLite's driver rather than match nothing.
"""

from __future__ import annotations

from django.db.models import QuerySet

from evolab.api_contract import MAX_INT, Pagination, Query, ordering, read_ordering

from .models import Event, Experiment, Individual, State, Status

__all__ = ["EXPERIMENT_QUERY", "INDIVIDUAL_QUERY", "MAX_INT", "Pagination"]

EVENTS_PAGE = 1000
INDIVIDUAL_ORDERING = ("number", "val_accuracy", "flops", "params", "trained")
EXPERIMENT_ORDERING = ("created", "name", "best_val_accuracy", "individuals_trained")

STATUS = Query("status", choices=tuple(Status.values), description="Runs in this status.")
# A number, not a choice of teams: an unknown team must look like an empty one.
TEAM = Query("team", "integer", 1, MAX_INT, description="Runs of this team (another lists none).")
EXPERIMENT_ORDER = ordering(EXPERIMENT_ORDERING, many=True)
EXPERIMENT_QUERY = (STATUS, TEAM, EXPERIMENT_ORDER)

STATE = Query("state", choices=tuple(State.values), description="Individuals in this state.")
MIN_ACCURACY = Query("min_accuracy", "number", 0, 1, description="Validation accuracy >= this.")
MUTATION = Query(
    "mutation",
    max_length=40,
    description="Made by this mutation, a docs/ALGORITHM.md §3 name, e.g. ALTER-LR (empty: any).",
)
INDIVIDUAL_ORDER = ordering(INDIVIDUAL_ORDERING, default="number")
INDIVIDUAL_QUERY = (STATE, MIN_ACCURACY, MUTATION, INDIVIDUAL_ORDER)

AFTER = Query("after", "integer", 0, MAX_INT, description="Events with a larger seq.", default=0)


def filtered_experiments(rows: QuerySet[Experiment], params) -> QuerySet[Experiment]:
    """?status=, ?team= and ?ordering= (several fields, by commas) applied (400 if refused)."""
    status, team = STATUS.read(params), TEAM.read(params)
    order = read_ordering(EXPERIMENT_ORDER, params)
    if status is not None:
        rows = rows.filter(status=status)
    if team is not None:
        rows = rows.filter(team_id=team)
    return rows.order_by(*order) if order else rows


def ordered_individuals(exp: Experiment, params) -> QuerySet[Individual]:
    """The experiment's individuals, filtered (400 on a bad value) and ordered."""
    rows = exp.individuals.all()
    state, low = STATE.read(params), MIN_ACCURACY.read(params)
    mutation, order = MUTATION.read(params), INDIVIDUAL_ORDER.read(params)
    if state is not None:
        rows = rows.filter(state=state)
    if low is not None:
        rows = rows.filter(val_accuracy__gte=low)
    if mutation:
        rows = rows.filter(mutation=mutation)
    return rows.order_by(order, "number")


def events_after(exp: Experiment, params) -> QuerySet[Event]:
    seq = AFTER.read(params)
    return Event.objects.filter(experiment=exp, seq__gt=seq).order_by("seq")[:EVENTS_PAGE]
