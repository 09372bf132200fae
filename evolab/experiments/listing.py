"""The experiment list page: the API's filters and sort orders (api_filters.EXPERIMENT_QUERY,
read the same way), paged on the server, with the links its column headers and pager need.
A value the API would refuse with a 400 is a message on the page, with status 400."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.db.models.fields.json import KT
from django.http import QueryDict
from rest_framework.exceptions import ValidationError

from evolab.api_contract import MAX_INT, Query

from . import dashboard
from .api_filters import ARCHIVED, EXPERIMENT_QUERY, filtered_experiments
from .models import Experiment, ExperimentTag

PAGE_SIZE = 50
PAGE = Query("page", "integer", 1, MAX_INT, default=1)
FILTERS = ("status", "dataset", "tag", "q", "archived")
# (ordering key, header, numeric column, the first click's direction: "-" descending)
COLUMNS = (
    ("name", "Name", False, ""),
    ("status", "Status", False, ""),
    ("dataset", "Dataset", False, ""),
    ("individuals_trained", "Individuals", True, "-"),
    ("best_val_accuracy", "Best val. accuracy", True, "-"),
    (None, "Best so far", False, ""),
    ("total_flops", "Compute", True, "-"),
    ("started", "Started", False, "-"),
    ("owner", "Owner", False, ""),
)


def list_context(base: QuerySet[Experiment], query: QueryDict) -> tuple[dict, int]:
    """The page's context and HTTP status for the runs in `base` (the teams in view)."""
    params = QueryDict(mutable=True)
    for key in (*FILTERS, "ordering", "page"):
        values = [v.strip() for v in query.getlist(key) if v.strip()]
        if values:
            params.setlist(key, values)
    errors = [message for query in (*EXPERIMENT_QUERY, PAGE) for message in _refused(query, params)]
    page = None
    if not errors:
        rows = filtered_experiments(base.select_related("team", "creator"), params)
        rows = rows.prefetch_related("tag_rows")
        page = Paginator(rows, PAGE_SIZE).get_page(PAGE.read(params))
    experiments = list(page) if page else []
    for exp in experiments:
        exp.sparkline = dashboard.sparkline_points(exp)
    ordering = params.get("ordering", "")
    context = {
        "experiments": experiments,
        "page": page,
        "pages": _pager(params, page),
        "errors": errors,
        "filters": {key: params.get(key, "") for key in FILTERS},
        "archived_choices": ARCHIVED.choices,
        "columns": [_column(params, ordering, *column) for column in COLUMNS],
        "ordering": ordering,
        "datasets": _datasets(base),
        "tags": _tags(base),
        "any_at_all": base.exists(),
    }
    return context, 400 if errors else 200


def _refused(query: Query, params: QueryDict) -> list[str]:
    try:
        query.read(params)
    except ValidationError as exc:
        return [f"{name}: {' '.join(map(str, msgs))}" for name, msgs in exc.detail.items()]
    return []


def _link(params: QueryDict, **changes) -> str:
    query = params.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value:
            query[key] = value
    return f"?{query.urlencode()}" if query else "?"


def _column(params, ordering: str, key, label: str, numeric: bool, first: str) -> dict:
    """A header: its link sorts by it (the other way round when it is the sort already)."""
    if key is None:
        return {"label": label, "numeric": numeric}
    now = {key: "ascending", f"-{key}": "descending"}.get(ordering.split(",")[0], "")
    direction = {"ascending": "-", "descending": ""}.get(now, first)
    return {"label": label, "numeric": numeric, "key": key, "sort": now,
            "link": _link(params, ordering=f"{direction}{key}", page=None)}  # fmt: skip


def _pager(params: QueryDict, page) -> dict:
    if page is None:
        return {}
    return {
        "previous": _link(params, page=str(page.number - 1)) if page.has_previous() else "",
        "next": _link(params, page=str(page.number + 1)) if page.has_next() else "",
    }


def _datasets(base: QuerySet[Experiment]) -> list[str]:
    names = (
        base.order_by().annotate(ds=KT("config__dataset")).values_list("ds", flat=True).distinct()
    )
    return sorted({name for name in names if name})


def _tags(base: QuerySet[Experiment]) -> list[str]:
    rows = ExperimentTag.objects.filter(experiment__in=base).values_list("name", flat=True)
    return list(rows.distinct().order_by("name")[:500])
