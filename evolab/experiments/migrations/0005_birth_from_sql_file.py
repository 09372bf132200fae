"""PostgreSQL only: evolab_birth from sql/evolab_birth.sql, the one living definition.

0003 and 0004 are history and do nothing now; the function is edited in the .sql file, and a
change to it comes with a new migration that runs this loader again. This version reads
the parent before killing the victim, so an aging step whose parent is the oldest (who dies)
applies at once instead of going stale.
"""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql" / "evolab_birth.sql"


def load(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL.read_text(), params=None)


class Migration(migrations.Migration):
    dependencies = [("experiments", "0004_pg_birth_static_insert")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
