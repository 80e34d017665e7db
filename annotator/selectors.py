"""Reads: every query the API and pages run, with the joins and counts they need (no N+1)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import CharField, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from annotator.access import projects_visible_to, role_in_project
from annotator.models import Annotation, EmbeddingStatus, Image, LabelClass, Membership, Project, Role
from segmentation.models import Embedding, SamModel


def project_list_for_user(user: User | AnonymousUser) -> QuerySet[Project]:
    """Projects the user sees, each with image_count, annotation_count and the user's role."""
    role: Value | Subquery
    if user.is_authenticated and user.is_superuser:
        role = Value(Role.MANAGER.value)
    else:
        role = Subquery(Membership.objects.filter(project=OuterRef("pk"), user=user.pk).values("role")[:1])
    # Subquery counts, not joins, so two counts do not multiply each other.
    images = Image.objects.filter(project=OuterRef("pk")).order_by().values("project")
    annotations = Annotation.objects.filter(image__project=OuterRef("pk")).order_by().values("image__project")
    return (
        projects_visible_to(user)
        .annotate(
            image_count=Coalesce(Subquery(images.annotate(n=Count("pk")).values("n")), 0),
            annotation_count=Coalesce(Subquery(annotations.annotate(n=Count("pk")).values("n")), 0),
            my_role=role,
        )
        .order_by("name")
    )


def with_embedding_status(images: QuerySet[Image]) -> QuerySet[Image]:
    """The images, each with embedding_status and embedding_error read from the engine's Embedding
    row of (image sha256, the project's model's ENCODER sha256), the one record of that status (a
    fine-tuned version shares its parent's encoder, so its parent's embeddings count). A project
    with no model of its own uses the default model; no row yet (or no default model registered
    yet) reads as pending with no error."""
    default_model_sha256 = SamModel.objects.filter(is_default=True).values("encoder_sha256")[:1]
    embedding = Embedding.objects.filter(
        image_sha256=OuterRef("sha256"), model_sha256=OuterRef("embedding_model_sha256")
    )
    return images.annotate(
        embedding_model_sha256=Coalesce(F("project__sam_model__encoder_sha256"), Subquery(default_model_sha256)),
        embedding_status=Coalesce(
            Subquery(embedding.values("status")[:1]), Value(EmbeddingStatus.PENDING.value), output_field=CharField()
        ),
        embedding_error=Coalesce(Subquery(embedding.values("error")[:1]), Value(""), output_field=TextField()),
    )


def embedding_status_counts(*, project: Project) -> dict[str, int]:
    """{status: number of images}, every status present (0 when none)."""
    counts = dict.fromkeys(EmbeddingStatus.values, 0)
    images = with_embedding_status(Image.objects.filter(project=project).order_by())
    rows = images.values("embedding_status").annotate(n=Count("pk"))  # type: ignore[misc]  # annotated by with_embedding_status
    for row in rows:
        counts[row["embedding_status"]] = row["n"]
    return counts


def image_list_for_project(
    *,
    project: Project,
    embedding_status: str | None = None,
    annotated: bool | None = None,
    search: str | None = None,
) -> QuerySet[Image]:
    images = with_embedding_status(Image.objects.filter(project=project)).annotate(
        annotation_count=Count("annotations")
    )
    if embedding_status:
        images = images.filter(embedding_status=embedding_status)  # type: ignore[misc]  # annotated field
    if annotated is not None:
        has_annotations = Exists(Annotation.objects.filter(image=OuterRef("pk")))
        images = images.filter(has_annotations if annotated else ~has_annotations)
    if search:
        images = images.filter(original_name__icontains=search)
    return images.order_by("id")


def image_for_user(user: User | AnonymousUser, image_id: int) -> tuple[Image, str]:
    """(image, role) when the user is a member of the image's project; Http404 otherwise."""
    image = (
        with_embedding_status(Image.objects.select_related("project"))
        .annotate(annotation_count=Count("annotations"))
        .filter(pk=image_id, project__in=projects_visible_to(user))
        .first()
    )
    if image is None:
        raise Http404("No such image.")
    return image, role_in_project(user, image.project)


def annotation_for_user(user: User | AnonymousUser, annotation_id: int) -> tuple[Annotation, str]:
    annotation = (
        Annotation.objects.select_related("image__project", "label_class", "author")
        .filter(pk=annotation_id, image__project__in=projects_visible_to(user))
        .first()
    )
    if annotation is None:
        raise Http404("No such annotation.")
    return annotation, role_in_project(user, annotation.image.project)


def annotation_list_for_image(*, image: Image) -> QuerySet[Annotation]:
    return Annotation.objects.filter(image=image).select_related("label_class", "author").order_by("id")


def label_class_list(*, project: Project) -> QuerySet[LabelClass]:
    return LabelClass.objects.filter(project=project).annotate(annotation_count=Count("annotations"))


def membership_list(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user").order_by("role", "user__username")


def membership_in_project(*, project: Project, membership_id: int) -> Membership:
    membership = Membership.objects.select_related("user", "project").filter(project=project, pk=membership_id).first()
    if membership is None:
        raise Http404("No such member.")
    return membership


def label_class_in_project(*, project: Project, label_class_id: int) -> LabelClass:
    label_class = LabelClass.objects.select_related("project").filter(project=project, pk=label_class_id).first()
    if label_class is None:
        raise Http404("No such label class.")
    return label_class


def image_counts_for_grid(*, project: Project) -> dict[str, int]:
    """Totals for the project page header."""
    totals = Image.objects.filter(project=project).aggregate(
        images=Count("pk", distinct=True), annotated=Count("pk", filter=Q(annotations__isnull=False), distinct=True)
    )
    return {"images": totals["images"], "annotated": totals["annotated"]}
