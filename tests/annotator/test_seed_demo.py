"""seed_demo creates a usable demo and running it again changes nothing."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotator.access import role_in_project
from annotator.management.commands.seed_demo import (
    DEMO_IMAGES,
    DEMO_LABEL_CLASSES,
    DEMO_PASSWORD,
    SHAPES_IMAGE,
    demo_image_png,
    demo_shapes_scene,
)
from annotator.models import Image, LabelClass, Membership, Project, Role

pytestmark = pytest.mark.django_db


def _seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _counts() -> tuple[int, ...]:
    User = get_user_model()
    return (
        User.objects.count(),
        Project.objects.count(),
        Membership.objects.count(),
        LabelClass.objects.count(),
        Image.objects.count(),
    )


def test_seed_demo_creates_users_roles_labels_and_images():
    output = _seed()

    User = get_user_model()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password(DEMO_PASSWORD)
    project = Project.objects.get(name="Demo")
    assert role_in_project(User.objects.get(username="annotator1"), project) == Role.ANNOTATOR
    assert role_in_project(User.objects.get(username="reviewer1"), project) == Role.REVIEWER
    assert role_in_project(admin, project) == Role.MANAGER
    assert sorted(project.label_classes.values_list("name", flat=True)) == sorted(n for n, _ in DEMO_LABEL_CLASSES)

    images = {image.original_name: image for image in project.images.all()}
    assert set(images) == {f"{name}.png" for name in DEMO_IMAGES}
    assert (images["chelsea.png"].width, images["chelsea.png"].height) == (451, 300)
    assert (images["coins.png"].width, images["coins.png"].height) == (384, 303)

    # The credentials a person needs are printed.
    assert "admin" in output and DEMO_PASSWORD in output


def test_seed_demo_is_idempotent_and_keeps_changed_passwords():
    _seed()
    before = _counts()
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("changed-by-owner-1")
    admin.save()

    _seed()

    assert _counts() == before
    admin.refresh_from_db()
    assert admin.check_password("changed-by-owner-1")

    _seed("--reset-passwords")
    admin.refresh_from_db()
    assert admin.check_password(DEMO_PASSWORD)


def test_seed_demo_adds_back_a_deleted_sample_image():
    _seed()
    project = Project.objects.get(name="Demo")
    project.images.filter(original_name="coffee.png").delete()

    _seed()

    assert project.images.filter(original_name="coffee.png").count() == 1
    assert project.images.count() == len(DEMO_IMAGES)


def test_shapes_image_has_a_known_object_matching_its_pixels():
    import io as io_

    import numpy as np
    from PIL import Image as PILImage

    _seed()
    image = Project.objects.get(name="Demo").images.get(original_name=f"{SHAPES_IMAGE}.png")
    pixels, mask = demo_shapes_scene()
    assert (image.width, image.height) == (pixels.shape[1], pixels.shape[0]) == (480, 360)
    assert 15_000 < mask.sum() < 40_000  # one clear object, far from the borders
    assert not mask[:, :100].any() and not mask[:50].any()
    # The object's colour is exactly where the mask is, and the PNG is byte-stable.
    decoded = np.asarray(PILImage.open(io_.BytesIO(demo_image_png(SHAPES_IMAGE))))
    assert (np.all(decoded == (245, 160, 30), axis=2) == mask).mean() > 0.999
    assert demo_image_png(SHAPES_IMAGE) == demo_image_png(SHAPES_IMAGE)
