"""Migration 0006 copies the file hash of rows stored before the column existed out of their metadata."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("annotator", "0005_project_dicom_settings")]
AFTER = [("annotator", "0006_image_file_sha256")]


def test_rows_from_before_the_column_get_their_file_hash():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Project, Image = apps.get_model("annotator", "Project"), apps.get_model("annotator", "Image")
    project = Project.objects.create(name="Old")
    common = {"project": project, "width": 4, "height": 4, "file": "originals/x", "display": "display/x"}
    dicom = Image.objects.create(
        sha256="a" * 64, format="DICOM", metadata={"file_sha256": "f" * 64, "frame": 1}, **common
    )
    plain = Image.objects.create(sha256="b" * 64, format="PNG", metadata={}, **common)
    odd = Image.objects.create(sha256="c" * 64, format="DICOM", metadata={"file_sha256": None}, **common)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    Image = executor.loader.project_state(AFTER).apps.get_model("annotator", "Image")
    assert Image.objects.get(pk=dicom.pk).file_sha256 == "f" * 64
    assert Image.objects.get(pk=plain.pk).file_sha256 == ""
    assert Image.objects.get(pk=odd.pk).file_sha256 == ""

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # leave the database as the other tests expect
