"""Segmentation engine records: registered SAM models and computed image embeddings."""

from django.db import models


class Architecture(models.TextChoices):
    VIT_H = "vit_h", "SAM ViT-H"
    VIT_L = "vit_l", "SAM ViT-L"
    VIT_B = "vit_b", "SAM ViT-B"
    VIT_T = "vit_t", "MobileSAM ViT-T"
    DEFAULT = "default", "Project default (small, self-trained)"


class SamModel(models.Model):
    name = models.CharField(max_length=100, unique=True)
    architecture = models.CharField(max_length=16, choices=Architecture.choices)
    # Where the checkpoint lives on the worker's disk (settings or the register command name it).
    checkpoint_path = models.CharField(max_length=500)
    # Identity of the weights (the whole checkpoint file).
    checkpoint_sha256 = models.CharField(max_length=64, unique=True)
    # Identity of the image encoder's weights: embeddings are keyed by it, so a fine-tuned version
    # (frozen encoder, new decoder) reads every embedding of its parent. A model registered from a file
    # has its checkpoint_sha256 here; a fine-tuned version copies its parent's.
    encoder_sha256 = models.CharField(max_length=64, db_index=True)
    # The model a fine-tuned version was trained from (null for models registered from a file).
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    # A fine-tuned version's lineage (segmentation.services.finetuning): {"params", "metrics": {"base",
    # "tuned"}, "history", "seconds", "stopped", "epochs", "data": {...the caller's record of the
    # training data, e.g. "annotations": [[id, version], ...]}}; {} for models registered from a file.
    training = models.JSONField(default=dict, blank=True)
    encoder_input_size = models.PositiveIntegerField()  # longest side fed to the encoder (1024 for SAM)
    embedding_shape = models.JSONField()  # [channels, height, width], e.g. [256, 64, 64]
    decoder_fp32 = models.FileField(max_length=300, blank=True)
    decoder_fp32_sha256 = models.CharField(max_length=64, blank=True)
    decoder_int8 = models.FileField(max_length=300, blank=True)
    decoder_int8_sha256 = models.CharField(max_length=64, blank=True)
    # The model new projects use when they name none.
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="sammodel_one_default"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.architecture})"

    def save(self, *args, **kwargs) -> None:
        # Invariant: every model names its encoder; one registered from a file is its own encoder.
        if not self.encoder_sha256:
            self.encoder_sha256 = self.checkpoint_sha256
        super().save(*args, **kwargs)


class EmbeddingState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Embedding(models.Model):
    """One image's embedding under one model, shared by every project holding the same image.

    The one record of the embedding's status: callers read it by the key (image_sha256, model_sha256),
    model_sha256 being the encoder's sha256 (a decoder-only fine-tuned version shares its parent's)."""

    image_sha256 = models.CharField(max_length=64)
    # The model that requested it first; every model with the same encoder (its fine-tuned versions)
    # reads it too.
    model = models.ForeignKey(SamModel, on_delete=models.CASCADE, related_name="embeddings")
    # The ENCODER's sha256 (SamModel.encoder_sha256), copied at creation: the key is (image content,
    # encoder weights), never a mutable name. The name stays model_sha256 (API field, file header).
    model_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=EmbeddingState.choices, default=EmbeddingState.PENDING)
    # Storage name of the 8-bit RGB pixels to encode, given by whoever requests the embedding (the
    # engine knows no image table); any file whose content has this image_sha256 will do.
    source_name = models.CharField(max_length=300, blank=True)
    # float16 tensor with a small header (shape, dtype, model sha256); named by the key.
    file = models.FileField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    compute_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image_sha256", "model_sha256"], name="embedding_unique_key")]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.image_sha256[:12]} @ {self.model_sha256[:12]} ({self.status})"
