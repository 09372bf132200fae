"""What a claim reads, fast: one row by key as the ORM would build it, and the population as a
view for the engine (evolab.evolution.step.PopulationView) in one query.

A claim runs on every step of every worker (250 at the paper's scale), so its reads skip the
ORM's query building: the SQL and column order are fixed once per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from evolab.evolution.selection import Candidate
from evolab.evolution.step import PopulationView

from .models import Experiment, Individual, State


class ById:
    """Reads one model row by primary key as the ORM would build it (its fields' converters
    and from_db), with the SQL and the column order fixed once per process: per claim, the
    ORM's query building, and RawQuerySet's column mapping, cost more than the query itself."""

    def __init__(self, model: type[Any], fields: list[str] | None = None) -> None:
        meta = model._meta
        self.fields = [f for f in meta.concrete_fields if fields is None or f.name in fields]
        self.model, self.names = model, [f.attname for f in self.fields]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        self.sql = f"SELECT {columns} FROM {meta.db_table} WHERE {meta.pk.column} = %s"
        self._converters: dict[str, list[tuple[int, list, Any]]] = {}

    def get(self, pk: Any) -> Any:
        converters = self._converters.get(connection.vendor)
        if converters is None:
            cols = [f.get_col(self.model._meta.db_table) for f in self.fields]
            converters = self._converters[connection.vendor] = [
                (i, convs, col)
                for i, col in enumerate(cols)
                if (
                    convs := connection.ops.get_db_converters(col)
                    + col.get_db_converters(connection)
                )
            ]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [pk])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for i, convs, col in converters:
            for convert in convs:
                values[i] = convert(values[i], col, connection)
        return self.model.from_db(connection.alias, self.names, values)


EXPERIMENT = ById(Experiment)
# What planning a child reads of its parent, and what its Claim needs (claims.claim_for).
PARENT = ById(Individual, ["id", "dna", "weights", "weights_reset", "steps"])


class _Alive(Sequence):
    """The alive members of a population as Candidates, in birth order, from one
    "id accuracy number,..." string, each parsed only when read: a tournament reads two of P.
    Fetching P rows cost more Python than the rest of a claim (scale bench)."""

    def __init__(self, packed: str | None) -> None:
        self.members = packed.split(",") if packed else []

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, i: int) -> Candidate:  # type: ignore[override]
        pk, acc, born = self.members[i].split()
        return Candidate(int(pk), float(acc), int(born))


def population_view(exp: Experiment) -> tuple[PopulationView, bool]:
    """The engine's view of the population (alive in birth order, children in training, the
    run's counters) and whether a child in training has an expired lease; one query."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(_POPULATION[connection.vendor == "sqlite"], [now, exp.pk])
        packed, n_training, orphaned = cursor.fetchone()
    view = PopulationView(
        alive=_Alive(packed),
        training=n_training,
        created=exp.individuals_created,
        trained=exp.individuals_trained,
        best_changed_at=exp.best_changed_at,
        boost_remaining=exp.boost_remaining,
    )
    return view, bool(orphaned)


# An unset accuracy reads as 0.0. SQLite's own REAL to text keeps 15 digits, so it prints 17:
# a candidate's accuracy must be the stored float exactly (ties are broken on it). The alive
# are listed in birth order, the order the engine draws from (SQLite 3.40 has no ORDER BY in
# an aggregate: it concatenates in the order of the ordered subquery).
_ROWS = f"""SELECT id, number, state, val_accuracy, lease_expires
    FROM {Individual._meta.db_table} WHERE experiment_id = %s
    AND state IN ('{State.ALIVE}', '{State.TRAINING}')"""
_POPULATION = tuple(
    f"""SELECT {agg} FILTER (WHERE state = '{State.ALIVE}'),
    COUNT(*) FILTER (WHERE state = '{State.TRAINING}'),
    COALESCE(MAX(CASE WHEN state = '{State.TRAINING}' AND lease_expires < %s THEN 1 END), 0)
FROM ({_ROWS} ORDER BY number) AS population"""
    for agg in (
        "STRING_AGG(id || ' ' || COALESCE(val_accuracy, 0) || ' ' || number, ',' ORDER BY number)",
        "GROUP_CONCAT("
        "id || ' ' || PRINTF('%%!.17g', COALESCE(val_accuracy, 0)) || ' ' || number, ',')",
    )
)  # (PostgreSQL, SQLite)
