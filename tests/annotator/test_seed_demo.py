"""seed_demo creates a usable demo and running it again changes nothing."""
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotator.access import role_in_project
from annotator.management.commands.seed_demo import DEMO_IMAGES, DEMO_LABEL_CLASSES, DEMO_PASSWORD
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
