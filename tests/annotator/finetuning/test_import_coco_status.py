"""`import_coco --status`: ground truth brought in as approved labels, each with its audit row."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from annotator import geometry
from annotator.models import Annotation, StatusTransition
from tests.factories import make_image, make_project, make_user

pytestmark = pytest.mark.django_db


def _coco_file(tmp_path, image) -> str:
    mask = np.zeros((image.height, image.width), np.uint8)
    mask[2:9, 3:12] = 1
    rle = geometry.rle_encode(mask)
    document = {
        "images": [{"id": 1, "file_name": image.original_name, "width": image.width, "height": image.height}],
        "categories": [{"id": 1, "name": "cell"}],
        "annotations": [
            {"id": 7, "image_id": 1, "category_id": 1, "segmentation": rle, "iscrowd": 0},
            {
                "id": 8,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [[15, 15, 25, 15, 25, 25, 15, 25]],
                "iscrowd": 0,
            },
        ],
    }
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_import_as_approved_with_an_audit_row_each(tmp_path, capsys):
    manager = make_user("importer")
    project = make_project("Truth", members={manager: "manager"})
    image = make_image(project, width=40, height=30, name="slide.png")
    call_command(
        "import_coco", _coco_file(tmp_path, image), "--project", "Truth", "--user", "importer", "--status", "approved"
    )
    assert capsys.readouterr().out.startswith("imported 2")
    annotations = list(Annotation.objects.filter(image=image))
    assert [a.status for a in annotations] == ["approved", "approved"]
    rows = StatusTransition.objects.filter(project=project).order_by("id")
    assert [(r.annotation_id, r.from_status, r.to_status, r.comment, r.actor_id) for r in rows] == [
        (a.pk, "draft", "approved", "imported as approved", manager.pk) for a in annotations
    ]


def test_import_defaults_to_drafts_without_audit_rows(tmp_path):
    project = make_project("Prelabels")
    image = make_image(project, width=40, height=30, name="slide.png")
    call_command("import_coco", _coco_file(tmp_path, image), "--project", "Prelabels")
    assert set(Annotation.objects.values_list("status", flat=True)) == {"draft"}
    assert not StatusTransition.objects.exists()


def test_a_status_outside_the_choices_is_refused(tmp_path):
    project = make_project("Strict")
    image = make_image(project, width=40, height=30, name="slide.png")
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("import_coco", _coco_file(tmp_path, image), "--project", "Strict", "--status", "rejected")
    assert not Annotation.objects.exists()
