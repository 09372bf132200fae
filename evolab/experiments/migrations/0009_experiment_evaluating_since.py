from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0008_team_dataset"),
    ]

    operations = [
        migrations.AddField(
            model_name="experiment",
            name="evaluating_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
