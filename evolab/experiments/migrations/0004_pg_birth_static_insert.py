"""PostgreSQL only: evolab_birth (migration 0003) inserts the child with a static statement.

0003 built the INSERT's column list from the child's JSON keys and ran it with EXECUTE, so
PostgreSQL parsed and planned it on every claim. Here the child's id is drawn from the
table's sequence and the whole row comes from jsonb_populate_record in the table's own
column order: a plain INSERT, planned once per session. Still no column is named here, so a
new model field still needs no change to the function. One worker on a full population
(P=1000), pg_stat_statements: 0.30 -> 0.23 ms per call.
"""

import importlib

from django.db import migrations

birth_0003 = importlib.import_module("evolab.experiments.migrations.0003_pg_birth_function")

# 0003's insert: from the child's number to its first event seq, replaced as a whole.
START, END = "    child_number := n - 1;\n", "    first_seq := s - 1;\n"
STATIC_INSERT = START + """    child_id := nextval(pg_get_serial_sequence('experiments_individual', 'id'));
    INSERT INTO experiments_individual SELECT * FROM jsonb_populate_record(
        NULL::experiments_individual,
        child || jsonb_build_object('id', child_id, 'number', child_number)
    );
"""
_before, _rest = birth_0003.BIRTH.replace("    cols text;\n", "").split(START)
BIRTH = _before + STATIC_INSERT + END + _rest.split(END)[1]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BIRTH, params=None)


def back_to_0003(apps, schema_editor):
    birth_0003.create(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("experiments", "0003_pg_birth_function")]

    operations = [migrations.RunPython(create, back_to_0003)]
