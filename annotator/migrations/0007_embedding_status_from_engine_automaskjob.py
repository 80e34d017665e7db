"""Issue 11: the embedding status lives only on the engine's Embedding row (Image.embedding_status and
embedding_error go; annotator.selectors.with_embedding_status reads the row), and AutoMaskJob moves
here from the engine app, state only: its table segmentation_automaskjob and rows stay as they are."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def embedding_sources_fill(apps, schema_editor):
    """Embeddings made before source_name existed name the display rendition of an image with their
    content, so a pending or retried one can still be computed."""
    embedding_model = apps.get_model("segmentation", "Embedding")
    image_model = apps.get_model("annotator", "Image")
    for embedding in embedding_model.objects.filter(source_name="").iterator():
        display = (
            image_model.objects.filter(sha256=embedding.image_sha256)
            .exclude(display="")
            .order_by("id")
            .values_list("display", flat=True)
            .first()
        )
        if display:
            embedding_model.objects.filter(pk=embedding.pk).update(source_name=display)


auto_mask_job_state = [
    migrations.CreateModel(
        name="AutoMaskJob",
        fields=[
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("params", models.JSONField(default=dict)),
            (
                "status",
                models.CharField(
                    choices=[
                        ("pending", "Pending"),
                        ("running", "Running"),
                        ("done", "Done"),
                        ("failed", "Failed"),
                        ("cancelled", "Cancelled"),
                    ],
                    default="pending",
                    max_length=16,
                ),
            ),
            ("image_ids", models.JSONField(default=list)),
            ("done_image_ids", models.JSONField(default=list)),
            ("annotations_created", models.PositiveIntegerField(default=0)),
            ("cancel_requested", models.BooleanField(default=False)),
            ("error", models.TextField(blank=True)),
            ("created_at", models.DateTimeField(auto_now_add=True)),
            ("updated_at", models.DateTimeField(auto_now=True)),
            ("finished_at", models.DateTimeField(blank=True, null=True)),
            (
                "created_by",
                models.ForeignKey(
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="+",
                    to=settings.AUTH_USER_MODEL,
                ),
            ),
            (
                "image",
                models.ForeignKey(
                    blank=True,
                    null=True,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="+",
                    to="annotator.image",
                ),
            ),
            (
                "label_class",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, related_name="+", to="annotator.labelclass"
                ),
            ),
            (
                "project",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, related_name="auto_mask_jobs", to="annotator.project"
                ),
            ),
        ],
        options={"db_table": "segmentation_automaskjob", "ordering": ["-id"]},
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0006_image_file_sha256"),
        ("segmentation", "0003_embedding_source_automaskjob_to_annotator"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(embedding_sources_fill, migrations.RunPython.noop),
        migrations.SeparateDatabaseAndState(state_operations=auto_mask_job_state, database_operations=[]),
        migrations.RemoveIndex(model_name="image", name="annotator_i_project_8f297d_idx"),
        migrations.RemoveField(model_name="image", name="embedding_error"),
        migrations.RemoveField(model_name="image", name="embedding_status"),
    ]
