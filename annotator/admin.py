"""Admin for every annotation model: read-mostly views for staff; writes still respect constraints."""

from django.contrib import admin

from annotator.models import Annotation, EmbeddingStatus, Image, LabelClass, Membership, Project
from annotator.selectors import with_embedding_status


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


class LabelClassInline(admin.TabularInline):
    model = LabelClass
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "sam_model", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline, LabelClassInline]
    raw_id_fields = ["created_by"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["project__name", "user__username"]
    list_select_related = ["project", "user"]
    raw_id_fields = ["user"]


@admin.register(LabelClass)
class LabelClassAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "color", "order"]
    search_fields = ["name", "project__name"]
    list_select_related = ["project"]


class EmbeddingStatusFilter(admin.SimpleListFilter):
    """Filter by the status of the image's embedding (read from the engine, not stored on Image)."""

    title = "embedding status"
    parameter_name = "embedding_status"

    def lookups(self, request, model_admin):
        return EmbeddingStatus.choices

    def queryset(self, request, queryset):
        return queryset.filter(embedding_status=self.value()) if self.value() else queryset


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["original_name", "project", "width", "height", "format", "embedding_status", "created_at"]
    list_filter = [EmbeddingStatusFilter, "format"]
    search_fields = ["original_name", "sha256", "project__name"]
    list_select_related = ["project"]
    # Files and sizes come from the ingest service; editing them by hand would break the content hash.
    readonly_fields = ["file", "display", "thumbnail", "width", "height", "sha256", "format", "size_bytes"]
    raw_id_fields = ["uploaded_by"]

    def get_queryset(self, request):
        return with_embedding_status(super().get_queryset(request))

    @admin.display(description="embedding status", ordering="embedding_status")
    def embedding_status(self, image: Image) -> str:
        return image.embedding_status  # type: ignore[attr-defined]  # annotated by with_embedding_status


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "label_class", "source", "status", "author", "version", "updated_at"]
    list_filter = ["status", "source", "edited_after_sam"]
    search_fields = ["image__original_name", "label_class__name", "author__username"]
    list_select_related = ["image", "label_class", "author"]
    # Geometry is derived by the annotation service (RLE, bbox, area); edit it through the API.
    readonly_fields = ["polygons", "rle", "bbox", "area", "version", "created_at", "updated_at"]
    raw_id_fields = ["image", "author"]
