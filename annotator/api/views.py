"""REST views: resolve the object through access rules -> validate input -> call one service -> render.

Object-level permissions come from `annotator.access`: a non-member gets 404 for anything inside a
project, a member whose role does not allow the action gets 403.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator import selectors
from annotator.access import (
    check_annotation_change,
    check_annotation_create,
    check_annotation_delete,
    check_annotation_status,
    project_for_user,
    require_role,
    user_of,
)
from annotator.api import serializers as s
from annotator.models import LabelClass, Project, Role
from annotator.services import annotations as annotation_services
from annotator.services import label_classes as label_class_services
from annotator.services import memberships as membership_services
from annotator.services import projects as project_services
from annotator.services import review_edits
from annotator.services.images import image_delete, images_ingest

MANAGERS = (Role.MANAGER,)


class PagePagination(PageNumberPagination):
    """?page=N&page_size=M (default settings.REST_FRAMEWORK PAGE_SIZE, at most 500)."""

    page_size_query_param = "page_size"
    max_page_size = 500


def _valid(serializer_class: type, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ProjectListView(ListAPIView):
    serializer_class = s.ProjectSerializer
    pagination_class = PagePagination

    def get_queryset(self):
        return selectors.project_list_for_user(self.request.user)

    @extend_schema(request=s.ProjectWriteSerializer, responses={201: s.ProjectSerializer})
    def post(self, request: Request) -> Response:
        project = project_services.project_create(
            user=user_of(request), **_valid(s.ProjectWriteSerializer, request.data)
        )
        project = selectors.project_list_for_user(request.user).get(pk=project.pk)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(APIView):
    serializer_class = s.ProjectSerializer

    def _project(self, request: Request, project_id: int, roles=None) -> Project:
        project_for_user(request.user, project_id, roles=roles)
        return selectors.project_list_for_user(request.user).get(pk=project_id)

    def get(self, request: Request, project_id: int) -> Response:
        return Response(s.ProjectSerializer(self._project(request, project_id)).data)

    @extend_schema(request=s.ProjectUpdateSerializer, responses={200: s.ProjectSerializer})
    def patch(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        project_services.project_update(project=project, **_valid(s.ProjectUpdateSerializer, request.data))
        return Response(s.ProjectSerializer(self._project(request, project_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        project_services.project_delete(project=project)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MembershipListView(ListAPIView):
    serializer_class = s.MembershipSerializer
    pagination_class = None  # a project has few members; the page shows them all

    def get_queryset(self):
        project, _ = project_for_user(self.request.user, self.kwargs["project_id"])
        return selectors.membership_list(project=project)

    @extend_schema(request=s.MembershipCreateSerializer, responses={201: s.MembershipSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        data = _valid(s.MembershipCreateSerializer, request.data)
        lookup = {"pk": data["user"]} if "user" in data else {"username": data["username"]}
        user = get_user_model().objects.filter(is_active=True, **lookup).first()
        if user is None:
            raise ValidationError({"user": "No such user."})
        membership = membership_services.membership_add(project=project, user=user, role=data["role"])
        return Response(s.MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MembershipDetailView(APIView):
    serializer_class = s.MembershipSerializer

    def get(self, request: Request, project_id: int, membership_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id)
        membership = selectors.membership_in_project(project=project, membership_id=membership_id)
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(request=s.MembershipUpdateSerializer, responses={200: s.MembershipSerializer})
    def patch(self, request: Request, project_id: int, membership_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        membership = selectors.membership_in_project(project=project, membership_id=membership_id)
        data = _valid(s.MembershipUpdateSerializer, request.data)
        membership = membership_services.membership_update(membership=membership, role=data["role"])
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int, membership_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        membership = selectors.membership_in_project(project=project, membership_id=membership_id)
        membership_services.membership_remove(membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LabelClassListView(ListAPIView):
    serializer_class = s.LabelClassSerializer
    pagination_class = None  # the annotator needs every class at once

    def get_queryset(self):
        project, _ = project_for_user(self.request.user, self.kwargs["project_id"])
        return selectors.label_class_list(project=project)

    @extend_schema(request=s.LabelClassWriteSerializer, responses={201: s.LabelClassSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        label_class = label_class_services.label_class_create(
            project=project, **_valid(s.LabelClassWriteSerializer, request.data)
        )
        return Response(s.LabelClassSerializer(label_class).data, status=status.HTTP_201_CREATED)


class LabelClassDetailView(APIView):
    serializer_class = s.LabelClassSerializer

    def get(self, request: Request, project_id: int, label_class_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id)
        label_class = selectors.label_class_in_project(project=project, label_class_id=label_class_id)
        return Response(s.LabelClassSerializer(label_class).data)

    @extend_schema(request=s.LabelClassUpdateSerializer, responses={200: s.LabelClassSerializer})
    def patch(self, request: Request, project_id: int, label_class_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        label_class = selectors.label_class_in_project(project=project, label_class_id=label_class_id)
        label_class = label_class_services.label_class_update(
            label_class=label_class, **_valid(s.LabelClassUpdateSerializer, request.data)
        )
        return Response(s.LabelClassSerializer(label_class).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int, label_class_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        label_class = selectors.label_class_in_project(project=project, label_class_id=label_class_id)
        label_class_services.label_class_delete(label_class=label_class)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageListView(ListAPIView):
    """List a project's images (filters, paginated) or upload files (managers only, as in CVAT).

    Upload answers 201 when every file was accepted, 207 Multi-Status when some were rejected and
    400 when none was; the body always lists `accepted` and `rejected`.
    """

    serializer_class = s.ImageSerializer
    pagination_class = PagePagination
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        parameters=[
            OpenApiParameter("embedding_status", str, enum=[c for c, _ in s.EmbeddingStatus.choices]),
            OpenApiParameter("annotated", bool, description="true: with annotations; false: without"),
            OpenApiParameter("search", str, description="Part of the original file name"),
        ]
    )
    def get(self, request: Request, project_id: int) -> Response:
        return self.list(request)

    def get_queryset(self):
        project, _ = project_for_user(self.request.user, self.kwargs["project_id"])
        filters = _valid(s.ImageFilterSerializer, self.request.query_params)
        return selectors.image_list_for_project(project=project, **filters)

    @extend_schema(
        request={"multipart/form-data": s.UploadSerializer},
        responses={
            201: s.UploadReportSerializer,
            207: s.UploadReportSerializer,
            400: OpenApiResponse(s.UploadErrorSerializer, description="No file attached, or none accepted"),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = project_for_user(request.user, project_id, roles=MANAGERS)
        files = request.FILES.getlist("files")
        if not files:
            raise ValidationError({"files": "Attach one or more files in the multipart field 'files'."})
        report = images_ingest(project=project, files=[(f.name, f) for f in files], user=user_of(request))
        body = {
            "accepted": s.ImageBriefSerializer(report.accepted, many=True).data,
            "rejected": [{"name": name, "reason": reason} for name, reason in report.rejected],
            # Accepted files whose embedding could not be queued yet (the reconciler retries).
            "notes": [{"name": name, "note": note} for name, note in report.notes],
        }
        code: int
        if not report.accepted:
            code, body["detail"] = status.HTTP_400_BAD_REQUEST, "No file was accepted."
        elif report.rejected:
            code = status.HTTP_207_MULTI_STATUS
        else:
            code = status.HTTP_201_CREATED
        return Response(body, status=code)


class ImageDetailView(APIView):
    serializer_class = s.ImageSerializer

    def get(self, request: Request, image_id: int) -> Response:
        image, _ = selectors.image_for_user(request.user, image_id)
        return Response(s.ImageSerializer(image).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, image_id: int) -> Response:
        image, role = selectors.image_for_user(request.user, image_id)
        require_role(role, MANAGERS)
        image_delete(image=image)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotationListView(ListAPIView):
    serializer_class = s.AnnotationSerializer
    pagination_class = None  # the annotator page draws every annotation of the image

    def get_queryset(self):
        image, _ = selectors.image_for_user(self.request.user, self.kwargs["image_id"])
        return selectors.annotation_list_for_image(image=image)

    @extend_schema(request=s.AnnotationCreateSerializer, responses={201: s.AnnotationSerializer})
    def post(self, request: Request, image_id: int) -> Response:
        image, role = selectors.image_for_user(request.user, image_id)
        # Roles and assignment (only images in one's own jobs); reviewers add missed objects during review.
        check_annotation_create(user_of(request), role, image)
        data = _valid(s.AnnotationCreateSerializer, request.data)
        check_annotation_status(role, data["status"])
        data["label_class"] = _label_class_of(image.project, data["label_class"])
        annotation = review_edits.annotation_add(image=image, author=user_of(request), **data)
        return Response(s.AnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED)


def _status_via_review(annotation) -> str:
    """Status changes are review transitions (audited, validated): only the review endpoints make them."""
    return (
        "Status changes go through the review endpoints: the annotator submits the image with "
        f"POST /api/images/{annotation.image_id}/submit/; a reviewer decides with "
        f"POST /api/annotations/{annotation.pk}/review/ or POST /api/images/{annotation.image_id}/review/ "
        '({"approve": true|false, "comment": "..."}).'
    )


def _label_class_of(project: Project, label_class_id: int) -> LabelClass:
    label_class = LabelClass.objects.filter(project=project, pk=label_class_id).first()
    if label_class is None:
        raise ValidationError({"label_class": "No such label class in this project."})
    return label_class


class AnnotationDetailView(APIView):
    serializer_class = s.AnnotationSerializer

    def get(self, request: Request, annotation_id: int) -> Response:
        annotation, _ = selectors.annotation_for_user(request.user, annotation_id)
        return Response(s.AnnotationSerializer(annotation).data)

    @extend_schema(
        request=s.AnnotationUpdateSerializer,
        responses={200: s.AnnotationSerializer, 409: s.ConflictSerializer},
    )
    def patch(self, request: Request, annotation_id: int) -> Response:
        annotation, role = selectors.annotation_for_user(request.user, annotation_id)
        changes = _valid(s.AnnotationUpdateSerializer, request.data)
        version = changes.pop("version")
        # `status` is answered below (a 403 or a 400 naming the review endpoints), whoever sends it.
        check_annotation_change(user_of(request), role, annotation, set(changes) - {"status"})
        if "status" in changes:
            check_annotation_status(role, changes["status"])  # an annotator approving stays a 403
            raise ValidationError({"detail": _status_via_review(annotation), "status": "Not changed by this endpoint."})
        if "label_class" in changes:
            changes["label_class"] = _label_class_of(annotation.image.project, changes["label_class"])
        annotation = annotation_services.annotation_update(
            annotation=annotation, version=version, actor=request.user, **changes
        )
        return Response(s.AnnotationSerializer(annotation).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, annotation_id: int) -> Response:
        annotation, role = selectors.annotation_for_user(request.user, annotation_id)
        check_annotation_delete(user_of(request), role, annotation)
        review_edits.annotation_remove(annotation=annotation, actor=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
