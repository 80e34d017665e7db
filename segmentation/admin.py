from django.contrib import admin

from segmentation.models import Embedding, SamModel


@admin.register(SamModel)
class SamModelAdmin(admin.ModelAdmin):
    list_display = ["name", "architecture", "is_default", "encoder_input_size", "checkpoint_sha256", "created_at"]
    readonly_fields = ["checkpoint_sha256", "decoder_fp32_sha256", "decoder_int8_sha256", "created_at"]


@admin.register(Embedding)
class EmbeddingAdmin(admin.ModelAdmin):
    list_display = ["image_sha256", "model", "status", "attempts", "compute_ms", "updated_at"]
    list_filter = ["status", "model"]
    search_fields = ["image_sha256"]
