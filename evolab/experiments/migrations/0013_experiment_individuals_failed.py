"""Experiment.individuals_failed: the run's failed children, counted under its row lock.

A drafted kill is applied only while the counter is the one drafted (no child failed since,
so the population is still full), which replaces evolab_birth's count of the population under
the lock; failed children are refilled against the individuals budget (docs/ALGORITHM.md
§1.5). Existing runs get their count; PostgreSQL reloads evolab_birth (as 0005 and 0007 do).
Migrate with the workers stopped (`make run` does): a worker of the older code would fail a
child without counting it. Irreversible: the new evolab_birth reads the column.
"""

from importlib import import_module

from django.db import migrations, models
from django.db.models import Count, Q

# The one loader of sql/evolab_birth.sql, which a change to the function runs again.
load = import_module("evolab.experiments.migrations.0005_birth_from_sql_file").load


def count_failed(apps, schema_editor):
    Experiment = apps.get_model("experiments", "Experiment")
    failed = Experiment.objects.annotate(n=Count("individuals", filter=Q(individuals__state="failed")))
    for exp in failed.filter(n__gt=0).only("id"):
        Experiment.objects.filter(pk=exp.pk).update(individuals_failed=exp.n)


class Migration(migrations.Migration):
    dependencies = [("experiments", "0012_individual_loss_curve")]

    operations = [
        migrations.AddField(
            model_name="experiment",
            name="individuals_failed",
            field=models.IntegerField(default=0),
        ),
        migrations.RunPython(count_failed, migrations.RunPython.noop),
        migrations.RunPython(load),
    ]
