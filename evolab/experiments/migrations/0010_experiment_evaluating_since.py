from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0009_warm_start_origin"),
    ]

    operations = [
        migrations.AddField(
            model_name="experiment",
            name="evaluating_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
