"""PostgreSQL only: evolab_birth inserted the child with a static statement (0.30 -> 0.23 ms
per call at P=1000). Kept in the history; the function's one text is sql/evolab_birth.sql,
loaded by migration 0005, which has this version's static insert."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("experiments", "0003_pg_birth_function")]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
