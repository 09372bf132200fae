"""What a step writes, fast: INSERT and UPDATE statements fixed once per process, their values
prepared as the ORM prepares them (each field's pre_save and get_db_prep_save), so the rows
are the ones the ORM would write.

A step runs about twenty statements. Through the ORM's query building each cost 100-400 µs of
Python, SQLite itself 10-40 µs (bench/step_queries.py); these are the statements every step
runs. Like reads.py for the reads; no signals are sent (the models have no receivers for them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


class Insert:
    """INSERT of whole rows of `model` (every concrete column but the primary key)."""

    def __init__(self, model: type[Any]) -> None:
        meta = model._meta
        self.fields = [f for f in meta.concrete_fields if not f.primary_key]
        columns = ", ".join(_quote(f.column) for f in self.fields)
        self.head = f"INSERT INTO {_quote(meta.db_table)} ({columns}) VALUES "
        self.row = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        self.pk = _quote(meta.pk.column)

    def _values(self, obj: Any) -> list[Any]:
        return [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in self.fields]

    def one(self, obj: Any) -> None:
        """Insert `obj` and give it its primary key, as obj.save(force_insert=True) does."""
        with connection.cursor() as cursor:
            if connection.features.can_return_columns_from_insert:
                cursor.execute(f"{self.head}{self.row} RETURNING {self.pk}", self._values(obj))
                (obj.pk,) = cursor.fetchone()
            else:
                cursor.execute(self.head + self.row, self._values(obj))
                obj.pk = cursor.lastrowid
        obj._state.adding, obj._state.db = False, connection.alias

    def many(self, objs: Sequence[Any]) -> None:
        """Insert `objs` in one statement (their primary keys are not read back)."""
        if not objs:
            return
        params = [value for obj in objs for value in self._values(obj)]
        with connection.cursor() as cursor:
            cursor.execute(self.head + ", ".join([self.row] * len(objs)), params)


class Update:
    """UPDATE `model` SET each of `fields` = %s WHERE `where` (raw SQL on the model's columns,
    its own %s parameters given after the values, already as the database takes them:
    `prepared`)."""

    def __init__(self, model: type[Any], fields: Sequence[str], where: str) -> None:
        meta = model._meta
        self.model = model
        self.fields = [meta.get_field(name) for name in fields]
        sets = ", ".join(f"{_quote(f.column)} = %s" for f in self.fields)
        self.sql = f"UPDATE {_quote(meta.db_table)} SET {sets} WHERE {where}"

    def __call__(self, values: Sequence[Any], *where: Any) -> int:
        """Run it; the number of rows it changed."""
        params = [
            f.get_db_prep_save(v, connection) for f, v in zip(self.fields, values, strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [*params, *where])
            return cursor.rowcount


def prepared(model: type[Any], name: str, value: Any) -> Any:
    """`value` of field `name` as the database takes it in a WHERE (a UUID as SQLite's hex)."""
    return model._meta.get_field(name).get_db_prep_value(value, connection, prepared=False)
