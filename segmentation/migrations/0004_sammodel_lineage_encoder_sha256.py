"""SamModel lineage for fine-tuned versions: parent, training record, and encoder_sha256, the key
embeddings go by from now on (filled with checkpoint_sha256 for every model registered so far, which
is what every existing Embedding.model_sha256 holds)."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import F


def fill_encoder_sha256(apps, schema_editor):
    SamModel = apps.get_model("segmentation", "SamModel")
    SamModel.objects.filter(encoder_sha256="").update(encoder_sha256=F("checkpoint_sha256"))


class Migration(migrations.Migration):
    dependencies = [
        ("segmentation", "0003_embedding_source_automaskjob_to_annotator"),
    ]

    operations = [
        migrations.AddField(
            model_name="sammodel",
            name="encoder_sha256",
            field=models.CharField(db_index=True, default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(fill_encoder_sha256, migrations.RunPython.noop),
        migrations.AddField(
            model_name="sammodel",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="children",
                to="segmentation.sammodel",
            ),
        ),
        migrations.AddField(
            model_name="sammodel",
            name="training",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
