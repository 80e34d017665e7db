"""API shapes. Output serializers render rows; input serializers only check types and ranges —
the services do every rule that needs the database."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotator.api.fields import BoxField, effort_field
from annotator.api.serializers_dicom import DicomSeriesSerializer
from annotator.models import (
    Annotation,
    AnnotationKind,
    AnnotationSource,
    AnnotationStatus,
    EmbeddingStatus,
    Image,
    ImageReviewStatus,
    LabelClass,
    Membership,
    Project,
    Role,
)
from annotator.selectors_finetuning import retrain_due_in


@extend_schema_field(
    {
        "type": "array",
        "description": "Polygons, each a list of rings (outer first, then holes), each ring [x0, y0, x1, y1, ...] in image pixels",
        "items": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
    }
)
class PolygonsField(serializers.JSONField):
    """An annotation's polygons (the services check them; the schema states their shape)."""


class ProjectSerializer(serializers.ModelSerializer):
    image_count = serializers.IntegerField(read_only=True, allow_null=True, default=None)
    annotation_count = serializers.IntegerField(read_only=True, allow_null=True, default=None)
    my_role = serializers.CharField(read_only=True, allow_null=True, default=None)
    retrain_due_in = serializers.SerializerMethodField(
        help_text="Approvals or corrections still needed before the next automatic fine-tuning; null when off."
    )

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "created_at",
            "image_count",
            "annotation_count",
            "my_role",
            "dicom_deidentify",
            "dicom_window",
            "dicom_render_state",
            "dicom_burned_in",
            "retrain_every",
            "retrain_due_in",
        ]
        read_only_fields = fields  # output only: writes go through the *Write/*Update serializers

    def get_retrain_due_in(self, project: Project) -> int | None:
        return retrain_due_in(project)  # a query only for projects with continuous learning on


class ProjectWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ProjectUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    # DICOM settings (docs/dicom.md); the window is checked by the service (media.window_choice_clean).
    dicom_deidentify = serializers.BooleanField(required=False)
    dicom_window = serializers.JSONField(required=False, allow_null=True)
    # US / secondary-capture uploads whose Burned In Annotation is not NO: flag them or refuse them.
    dicom_burned_in = serializers.ChoiceField(choices=[("flag", "Flag"), ("refuse", "Refuse")], required=False)
    # Continuous learning: fine-tune again after this many approvals and corrections; 0 = off.
    retrain_every = serializers.IntegerField(required=False, min_value=0, max_value=100_000)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "username", "role", "created_at"]
        read_only_fields = fields


class MembershipCreateSerializer(serializers.Serializer):
    # Either the user's id or username names the new member.
    user = serializers.IntegerField(required=False, min_value=1)
    username = serializers.CharField(required=False, max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)

    def validate(self, attrs: dict) -> dict:
        if ("user" in attrs) == ("username" in attrs):
            raise serializers.ValidationError("Give exactly one of user (id) or username.")
        return attrs


class MembershipUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class LabelClassSerializer(serializers.ModelSerializer):
    annotation_count = serializers.IntegerField(read_only=True, allow_null=True, default=None)

    class Meta:
        model = LabelClass
        fields = ["id", "name", "color", "order", "annotation_count"]
        read_only_fields = fields


class LabelClassWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    color = serializers.CharField(max_length=7, required=False, default="#e6194b")
    order = serializers.IntegerField(min_value=0, required=False, default=None)


class LabelClassUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    color = serializers.CharField(max_length=7, required=False)
    order = serializers.IntegerField(min_value=0, required=False)


class ImageSerializer(serializers.ModelSerializer):
    annotation_count = serializers.IntegerField(read_only=True, allow_null=True, default=None)
    # Read from the engine's Embedding row by the selectors (annotator.selectors.with_embedding_status).
    embedding_status = serializers.ChoiceField(choices=EmbeddingStatus.choices, read_only=True)
    embedding_error = serializers.CharField(read_only=True)
    file_url = serializers.SerializerMethodField()
    original_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    annotate_url = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = [
            "id",
            "project",
            "original_name",
            "width",
            "height",
            "format",
            "size_bytes",
            "sha256",
            "metadata",
            "embedding_status",
            "embedding_error",
            "annotation_count",
            "created_at",
            "file_url",
            "original_url",
            "thumbnail_url",
            "annotate_url",
            "review_status",
            "review_comment",
        ]
        read_only_fields = fields  # output only (the review endpoints change review_status and review_comment)

    def get_file_url(self, image: Image) -> str:
        return reverse("api-image-file", args=[image.pk])

    def get_original_url(self, image: Image) -> str:
        return reverse("api-image-file", args=[image.pk]) + "?original=1"

    def get_thumbnail_url(self, image: Image) -> str:
        return reverse("api-image-thumbnail", args=[image.pk])

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_annotate_url(self, image: Image) -> str | None:
        return annotate_url(image)


def annotate_url(image: Image) -> str | None:
    """The annotator page for this image, once that page's URL ("image-annotate") exists."""
    try:
        return reverse("image-annotate", args=[image.pk])
    except NoReverseMatch:
        return None


class ImageBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Image
        fields = ["id", "original_name", "width", "height"]
        read_only_fields = fields


class UploadRejectedSerializer(serializers.Serializer):
    name = serializers.CharField()
    reason = serializers.CharField()


class UploadNoteSerializer(serializers.Serializer):
    name = serializers.CharField()
    note = serializers.CharField(help_text='e.g. "embedding will be retried": accepted, queued later.')


class UploadReportSerializer(serializers.Serializer):
    accepted = ImageBriefSerializer(many=True)
    rejected = UploadRejectedSerializer(many=True)
    notes = UploadNoteSerializer(many=True)


class UploadErrorSerializer(serializers.Serializer):
    """A refused upload: no file attached (`files` says why), or none accepted (the report's lists)."""

    detail = serializers.CharField()
    files = serializers.ListField(child=serializers.CharField(), required=False)
    accepted = ImageBriefSerializer(many=True, required=False)
    rejected = UploadRejectedSerializer(many=True, required=False)
    notes = UploadNoteSerializer(many=True, required=False)


class UploadSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False)


class AnnotationSerializer(serializers.ModelSerializer):
    polygons = PolygonsField(read_only=True)
    prompts = serializers.DictField(read_only=True, help_text="The clicks and box that made a SAM mask")
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = Annotation
        fields = [
            "id",
            "image",
            "label_class",
            "polygons",
            "rle",
            "bbox",
            "area",
            "kind",
            "source",
            "prompts",
            "author",
            "author_name",
            "time_spent_ms",
            "click_count",
            "vertex_count",
            "stroke_count",
            "edited_after_sam",
            "proposed",
            "propagated_from",
            "status",
            "review_comment",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields  # output only: AnnotationCreate/AnnotationUpdate take the input

    def get_author_name(self, annotation: Annotation) -> str | None:
        return annotation.author.username if annotation.author else None


class AnnotationCreateSerializer(serializers.Serializer):
    label_class = serializers.IntegerField(min_value=1)
    source = serializers.ChoiceField(choices=AnnotationSource.choices)  # type: ignore[assignment]  # DRF stubs: Field.source is the attribute path
    rle = serializers.JSONField(required=False, default=None)
    polygons = PolygonsField(required=False, allow_null=True, default=None)
    prompts = serializers.DictField(required=False, default=dict)
    status = serializers.ChoiceField(choices=AnnotationStatus.choices, required=False, default=AnnotationStatus.DRAFT)
    kind = serializers.ChoiceField(choices=AnnotationKind.choices, required=False, default=AnnotationKind.MASK)
    bbox = BoxField(required=False, allow_null=True, default=None)
    time_spent_ms = effort_field(default=0)
    click_count = effort_field(default=0)
    vertex_count = effort_field(default=0)
    stroke_count = effort_field(default=0)


class AnnotationUpdateSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The version this edit was based on.")
    label_class = serializers.IntegerField(min_value=1, required=False)
    rle = serializers.JSONField(required=False)
    polygons = PolygonsField(required=False)
    prompts = serializers.DictField(required=False)
    status = serializers.ChoiceField(choices=AnnotationStatus.choices, required=False)
    bbox = BoxField(required=False)
    review_comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    time_spent_ms = effort_field()
    click_count = effort_field()
    vertex_count = effort_field()
    stroke_count = effort_field()


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    current_version = serializers.IntegerField()
    current = AnnotationSerializer()


class ImageFilterSerializer(serializers.Serializer):
    embedding_status = serializers.ChoiceField(choices=EmbeddingStatus.choices, required=False)
    annotated = serializers.BooleanField(required=False, allow_null=True, default=None)
    search = serializers.CharField(required=False, allow_blank=True, max_length=255)


# --- the annotator page's config (embedded in the page, also GET /api/images/<id>/annotate-config/) ---


class DicomWindowSerializer(serializers.Serializer):
    center = serializers.FloatField()
    width = serializers.FloatField()


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": 'a preset, "<modality>-<name>", e.g. "ct-lung"'},
            {"$ref": "#/components/schemas/DicomWindow"},
        ],
        "nullable": True,
    }
)
class ProjectWindowField(serializers.JSONField):
    """Project.dicom_window: a preset's name, a window, or null (each file's own window)."""


class WindowPresetSerializer(DicomWindowSerializer):
    name = serializers.CharField()


class DicomPageConfigSerializer(serializers.Serializer):
    """What the annotator's window/level control and frame stepper need (frontend/src/tools/windowLevel.ts)."""

    modality = serializers.CharField(allow_blank=True)
    greyscale = serializers.BooleanField()
    window = DicomWindowSerializer(allow_null=True, help_text="The stored rendition's window: what SAM saw.")
    window_source = serializers.CharField(allow_null=True)
    file_window = DicomWindowSerializer(allow_null=True)
    project_window = ProjectWindowField(allow_null=True)
    presets = WindowPresetSerializer(many=True)
    render_url = serializers.CharField()
    project_api_url = serializers.CharField()
    can_manage = serializers.BooleanField()
    frame = serializers.IntegerField()
    frames = serializers.IntegerField()
    frame_urls = serializers.ListField(child=serializers.CharField())
    frame_position = serializers.IntegerField()
    series = DicomSeriesSerializer(help_text="The image's DICOM series in slice order (just the image without one).")


class PageImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    url = serializers.CharField(help_text="What the canvas draws (a smaller rendition for very large images).")


class PageCurrentImageSerializer(PageImageSerializer):
    name = serializers.CharField()


class PageProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField()


class PageReviewSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ImageReviewStatus.choices)
    comment = serializers.CharField(allow_blank=True)
    can_submit = serializers.BooleanField()
    can_review = serializers.BooleanField()


class PageLabelClassSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    color = serializers.CharField()


class AnnotatePageConfigSerializer(serializers.Serializer):
    """The annotator page's config (frontend/src/main.ts reads it from the page)."""

    image = PageCurrentImageSerializer()
    project = PageProjectSerializer()
    role = serializers.ChoiceField(choices=Role.choices)
    can_write = serializers.BooleanField(help_text="Assignment and review state decide (access.check_image_annotate).")
    review = PageReviewSerializer()
    label_classes = PageLabelClassSerializer(many=True)
    previous_url = serializers.CharField(allow_null=True)
    next_url = serializers.CharField(allow_null=True)
    next_image_id = serializers.IntegerField(allow_null=True)
    next_image = PageImageSerializer(allow_null=True, help_text="Its embedding and picture are fetched ahead.")
    ort_runtime_url = serializers.CharField()
    user_id = serializers.IntegerField()
    dicom = DicomPageConfigSerializer(allow_null=True, help_text="null for images that are not DICOM")
