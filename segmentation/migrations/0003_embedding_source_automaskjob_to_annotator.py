"""Embedding.source_name (the pixels to encode, named by the caller), and AutoMaskJob handed to the
annotator app: only Django's model state moves; the table segmentation_automaskjob and its rows stay
(annotator 0007 takes the model over with db_table set to it)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("segmentation", "0002_auto_mask_job"),
    ]

    operations = [
        migrations.AddField(
            model_name="embedding",
            name="source_name",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AutoMaskJob")],
            database_operations=[],
        ),
    ]
