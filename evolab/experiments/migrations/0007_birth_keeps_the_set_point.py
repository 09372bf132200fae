"""PostgreSQL only: reload evolab_birth from sql/evolab_birth.sql (as 0005 does), which now
refuses a drafted kill once the population is below its set-point: a child failed since
the draft (make chaos's poison-child race)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql" / "evolab_birth.sql"


def load(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL.read_text(), params=None)


class Migration(migrations.Migration):
    dependencies = [("experiments", "0006_experiment_dataset_split")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
