from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0008_finetune_runs"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="dicom_burned_in",
            field=models.CharField(choices=[("flag", "Flag"), ("refuse", "Refuse")], default="flag", max_length=8),
        ),
    ]
