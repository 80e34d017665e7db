"""Creates the local demo: users, a "Demo" project with label classes and sample photographs.

Idempotent: what already exists is left as it is (passwords of existing users are not reset unless
--reset-passwords is given), so `scripts/run.sh` can call it on every start.
The photographs ship inside scikit-image, so no network is needed. One more image, "shapes", is a
clear synthetic object on a photo background whose true mask is known (`demo_shapes_scene`): the
browser tests click it and compare the saved annotation with that mask.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction

from annotator.models import Membership, Project, Role
from annotator.services.images import images_ingest
from annotator.services.label_classes import label_class_create
from annotator.services.memberships import membership_add
from annotator.services.projects import project_create

DEMO_PROJECT_NAME = "Demo"
# Known on purpose: this is a local demo, and the password is printed on every run.
DEMO_PASSWORD = "sam-demo-2024"
DEMO_USERS: tuple[tuple[str, str | None], ...] = (
    ("admin", None),  # superuser: manager everywhere
    ("annotator1", Role.ANNOTATOR),
    ("reviewer1", Role.REVIEWER),
)
DEMO_LABEL_CLASSES: tuple[tuple[str, str], ...] = (
    ("object", "#e6194b"),
    ("person", "#3cb44b"),
    ("animal", "#4363d8"),
    ("cup", "#f58231"),
    ("vehicle", "#911eb4"),
    ("coin", "#ffe119"),
    ("cell", "#42d4f4"),
)
# The synthetic image with a known object (not a scikit-image sample).
SHAPES_IMAGE = "shapes"
SHAPES_SIZE = (360, 480)  # (height, width): not square, so coordinate mapping is exercised
# scikit-image sample loaders that work offline: colour and greyscale, several aspect ratios.
DEMO_IMAGES: tuple[str, ...] = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "coins",
    "camera",
    "immunohistochemistry",
    "hubble_deep_field",
    SHAPES_IMAGE,
)


def demo_shapes_scene() -> tuple[np.ndarray, np.ndarray]:
    """(RGB image, bool mask of the object): one solid, clearly bounded shape (a rounded pentagon with
    a bar sticking out) on a dimmed crop of the astronaut photograph, like the default model's
    training scenes. Pure numpy/OpenCV and deterministic."""
    import cv2
    from skimage import data

    height, width = SHAPES_SIZE
    background = cv2.resize(np.ascontiguousarray(data.astronaut()[40:400, 20:500]), (width, height))
    image = (background.astype(np.float32) * 0.55).astype(np.uint8)
    mask = np.zeros((height, width), np.uint8)
    angles = np.linspace(0, 2 * np.pi, 6)[:-1] + 0.3
    pentagon = np.stack([250 + 95 * np.cos(angles), 180 + 95 * np.sin(angles)], axis=1).round().astype(np.int32)
    cv2.fillPoly(mask, [pentagon], 1)
    cv2.rectangle(mask, (320, 165), (420, 195), 1, thickness=-1)
    image[mask.astype(bool)] = (245, 160, 30)
    return image, mask.astype(bool)


def demo_image_png(name: str) -> bytes:
    """A demo image as PNG bytes (deterministic, so its content hash never changes)."""
    from PIL import Image as PILImage
    from skimage import data

    pixels = demo_shapes_scene()[0] if name == SHAPES_IMAGE else getattr(data, name)()
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Create the demo users, the Demo project, its label classes and sample images (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--reset-passwords", action="store_true", help="Set the demo users' passwords again.")
        parser.add_argument("--password", default=DEMO_PASSWORD, help="Password for newly created demo users.")

    def handle(self, *args, reset_passwords: bool = False, password: str = DEMO_PASSWORD, **options) -> None:
        with transaction.atomic():
            users = {name: self._ensure_user(name, password, reset_passwords) for name, _ in DEMO_USERS}
            project = self._ensure_project(users)
        # Ingestion runs outside the transaction above: it manages its own atomic writes per image.
        accepted, rejected = self._ensure_images(project, users["admin"])
        image_count = project.images.count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo project {project.name!r} (id {project.pk}): {image_count} images, "
                f"{project.label_classes.count()} label classes; added {accepted} now."
            )
        )
        for reason in rejected:
            self.stderr.write(f"  not added: {reason}")
        self.stdout.write("Demo users (username / password):")
        for name, role in DEMO_USERS:
            self.stdout.write(f"  {name:<11} / {password}   ({role or 'superuser'})")

    def _ensure_user(self, username: str, password: str, reset_password: bool) -> User:
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.org"})
        if username == "admin" and not (user.is_superuser and user.is_staff):
            user.is_superuser = user.is_staff = True
            user.save(update_fields=["is_superuser", "is_staff"])
        if created or reset_password:
            user.set_password(password)
            user.save(update_fields=["password"])
        return user

    def _ensure_project(self, users: dict[str, User]) -> Project:
        project = Project.objects.filter(name=DEMO_PROJECT_NAME).first()
        if project is None:
            project = project_create(
                name=DEMO_PROJECT_NAME,
                user=users["admin"],
                description="Sample photographs from scikit-image to try click-to-segment on.",
            )
        for username, role in DEMO_USERS:
            if role is not None and not Membership.objects.filter(project=project, user=users[username]).exists():
                membership_add(project=project, user=users[username], role=role)
        existing = set(project.label_classes.values_list("name", flat=True))
        for name, color in DEMO_LABEL_CLASSES:
            if name not in existing:
                label_class_create(project=project, name=name, color=color)
        return project

    def _ensure_images(self, project: Project, user: User) -> tuple[int, list[str]]:
        present = set(project.images.values_list("original_name", flat=True))
        missing = [name for name in DEMO_IMAGES if f"{name}.png" not in present]
        if not missing:
            return 0, []
        with tempfile.TemporaryDirectory(prefix="seed-demo-") as folder, ExitStack() as files:
            report = images_ingest(project=project, files=self._open_pngs(Path(folder), missing, files), user=user)
        return len(report.accepted), [str(item) for item in report.rejected]

    @staticmethod
    def _open_pngs(folder: Path, names: list[str], files: ExitStack) -> Iterator[tuple[str, io.BufferedReader]]:
        for name in names:
            path = folder / f"{name}.png"
            path.write_bytes(demo_image_png(name))
            yield path.name, files.enter_context(path.open("rb"))
