"""PostgreSQL only: the server-side evolab_birth (postgres.py) first came in here.

Its text now lives in one place, sql/evolab_birth.sql, which migration 0005 loads; this
migration and 0004 (which rewrote it) stay in the history and do nothing on the way up. On
the way down, past this migration, the function is dropped.
"""

from django.db import migrations

DROP = (
    "DROP FUNCTION IF EXISTS evolab_birth(bigint, text, integer, double precision, "
    "double precision, timestamptz, boolean, integer, boolean, integer, bigint, "
    "timestamptz, bigint, jsonb, jsonb, jsonb)"
)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("experiments", "0002_timings")]

    operations = [migrations.RunPython(migrations.RunPython.noop, drop)]
