"""Project, membership and label class services."""

import pytest
from django.core.exceptions import ValidationError

from annotator.models import Membership, Project, Role
from annotator.services.label_classes import label_class_create, label_class_delete, label_class_update
from annotator.services.memberships import membership_add, membership_remove, membership_update
from annotator.services.projects import project_create, project_delete, project_update
from tests.factories import make_annotation, make_image, make_label_class, make_project, make_user

pytestmark = pytest.mark.django_db


def test_project_create_makes_creator_manager():
    user = make_user()
    project = project_create(name="  Cells ", user=user)
    assert project.name == "Cells"
    assert Membership.objects.get(project=project, user=user).role == Role.MANAGER


def test_project_names_are_unique():
    project_create(name="Cells", user=make_user())
    with pytest.raises(ValidationError, match="already exists"):
        project_create(name="Cells", user=make_user())
    assert Project.objects.count() == 1


def test_project_update_and_delete_with_annotations():
    project = make_project()
    project_update(project=project, description="new")
    assert Project.objects.get(pk=project.pk).description == "new"
    make_annotation(make_image(project))
    project_delete(project=project)
    assert not Project.objects.filter(pk=project.pk).exists()


def test_last_manager_cannot_leave_or_be_demoted():
    manager = make_user()
    project = make_project(members={manager: "manager"})
    membership = Membership.objects.get(project=project, user=manager)
    with pytest.raises(ValidationError, match="at least one manager"):
        membership_remove(membership=membership)
    with pytest.raises(ValidationError, match="at least one manager"):
        membership_update(membership=membership, role="annotator")
    second = membership_add(project=project, user=make_user(), role="manager")
    membership_update(membership=membership, role="reviewer")
    assert Membership.objects.get(pk=membership.pk).role == "reviewer"
    assert second.role == "manager"


def test_membership_add_rejects_duplicates_and_bad_roles():
    user = make_user()
    project = make_project(members={user: "annotator"})
    with pytest.raises(ValidationError, match="already a member"):
        membership_add(project=project, user=user, role="reviewer")
    with pytest.raises(ValidationError, match="Unknown role"):
        membership_add(project=project, user=make_user(), role="owner")


def test_label_classes_unique_per_project_and_colour_checked():
    project = make_project()
    first = label_class_create(project=project, name="cell", color="#AABBCC")
    assert first.color == "#aabbcc" and first.order == 0
    assert label_class_create(project=project, name="nucleus").order == 1
    label_class_create(project=make_project(), name="cell")  # same name elsewhere is fine
    with pytest.raises(ValidationError, match="already has"):
        label_class_create(project=project, name="cell")
    with pytest.raises(ValidationError, match="#rrggbb"):
        label_class_update(label_class=first, color="red")


def test_label_class_in_use_cannot_be_deleted():
    image = make_image(make_project())
    label_class = make_label_class(image.project)
    make_annotation(image, label_class=label_class)
    with pytest.raises(ValidationError, match="used by 1"):
        label_class_delete(label_class=label_class)
