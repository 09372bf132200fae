"""Query parameters of the experiments API: filters, ordering, event paging, formats.

Each parameter is one `Query` (evolab/api_contract.py): the server reads it with the type,
bounds and choices the schema shows for it, and refuses anything else with a 400 naming it.
Every number that reaches SQL is bounded: ids, offsets and sequence numbers past what a
64-bit column holds would crash SQLite's driver rather than match nothing.
"""

from __future__ import annotations

from django.db.models import Case, F, Q, QuerySet, When
from django.db.models.fields.json import KT
from django.db.models.functions import Lower

from evolab.api_contract import MAX_INT, Pagination, Query, ordering, read_ordering

from .editing import TAG_CHARS, TAG_HELP, TAG_PATTERN
from .models import Event, Experiment, Individual, State, Status

__all__ = ["EXPERIMENT_QUERY", "INDIVIDUAL_QUERY", "MAX_INT", "Pagination"]

EVENTS_PAGE = 1000
INDIVIDUAL_ORDERING = ("number", "val_accuracy", "flops", "params", "trained")
# What each ?ordering= name sorts by: names case-insensitively, status in its life-cycle
# order (Status), the dataset by its config name, runs without a value last either way.
_LIFE_CYCLE = Case(*(When(status=s, then=i) for i, s in enumerate(Status.values)), default=99)
_SORT_BY = {
    "created": F("created"),
    "name": Lower("name"),
    "status": _LIFE_CYCLE,
    "dataset": KT("config__dataset"),
    "owner": F("creator__username"),
    "individuals_trained": F("individuals_trained"),
    "best_val_accuracy": F("best_val_accuracy"),
    "test_accuracy": F("test_accuracy"),
    "total_flops": F("total_flops"),
    "started": F("started"),
    "id": F("id"),
}
EXPERIMENT_ORDERING = tuple(_SORT_BY)

STATUS = Query("status", choices=tuple(Status.values), description="Runs in this status.")
# A number, not a choice of teams: an unknown team must look like an empty one.
TEAM = Query("team", "integer", 1, MAX_INT, description="Runs of this team (another lists none).")
EXPERIMENT_ORDER = ordering(EXPERIMENT_ORDERING, many=True)
DATASET = Query(
    "dataset", max_length=120, description="Runs on this dataset, its config name (empty: any)."
)
TAG = Query(
    "tag", pattern=TAG_PATTERN, pattern_help=TAG_HELP, max_length=TAG_CHARS,
    description="Runs with this tag (in any case).",
)  # fmt: skip
TEXT = Query(
    "q", max_length=200, description="Text in the name, the owner's user name or the notes."
)
ARCHIVED = Query(
    "archived",
    choices=("false", "true", "any"),
    default="false",
    description="false: runs not archived (the default); true: archived ones only; any: both.",
)
EXPERIMENT_QUERY = (STATUS, TEAM, DATASET, TAG, TEXT, ARCHIVED, EXPERIMENT_ORDER)

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
    """EXPERIMENT_QUERY applied: filters, then ?ordering= (several fields, by commas; newest
    first by default), the id last so that pages never overlap (a 400 for any refused)."""
    status, team, dataset = STATUS.read(params), TEAM.read(params), DATASET.read(params)
    tag, text, archived = TAG.read(params), TEXT.read(params), ARCHIVED.read(params)
    order = read_ordering(EXPERIMENT_ORDER, params) or ["-created"]
    if status is not None:
        rows = rows.filter(status=status)
    if team is not None:
        rows = rows.filter(team_id=team)
    if dataset:
        rows = rows.filter(config__dataset=dataset)
    if tag:
        rows = rows.filter(tag_rows__name=tag.lower())
    if text:
        rows = rows.filter(
            Q(name__icontains=text)
            | Q(creator__username__icontains=text)
            | Q(notes__icontains=text)
        )
    if archived != "any":
        rows = rows.filter(archived=archived == "true")
    tiebreak = [] if {term.lstrip("-") for term in order} & {"id"} else ["-id"]
    return rows.order_by(*map(_sort_term, order), *tiebreak)


_NULLABLE = {"best_val_accuracy", "test_accuracy", "started", "dataset", "owner"}


def _sort_term(term: str):
    """Runs without a value last either way; a column that always has one is ordered plain,
    so that an index can serve it (models.Experiment's experiment_list)."""
    name = term.removeprefix("-")
    field, nulls = _SORT_BY[name], {"nulls_last": True} if name in _NULLABLE else {}
    return field.desc(**nulls) if term.startswith("-") else field.asc(**nulls)


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
