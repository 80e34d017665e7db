"""Serializers of the segmentation API (shape only; no logic)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from segmentation.models import Embedding


class EmbeddingStatusSerializer(serializers.ModelSerializer):
    # Before an image has an embedding row, the status endpoint answers status, error and attempts only.
    updated_at = serializers.DateTimeField(required=False)
    # Declared, not derived from the model: a derived field's bounds come from the database backend
    # (32-bit on PostgreSQL, 64-bit on SQLite), which would make the schema differ between the two.
    compute_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0)

    class Meta:
        model = Embedding
        fields = ["status", "error", "attempts", "model_sha256", "compute_ms", "updated_at"]
        read_only_fields = ["status", "error", "attempts"]  # always answered
        extra_kwargs = {"model_sha256": {"required": False}, "compute_ms": {"required": False}}


class DecodeRequestSerializer(serializers.Serializer):
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        required=False,
        default=list,
        max_length=64,
    )
    labels = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=1), required=False, default=list
    )
    box = serializers.ListField(
        child=serializers.FloatField(), min_length=4, max_length=4, required=False, allow_null=True, default=None
    )
    variant = serializers.ChoiceField(choices=["fp32", "int8"], default="int8")

    def validate(self, attrs: dict) -> dict:
        if len(attrs["points"]) != len(attrs["labels"]):
            raise serializers.ValidationError("points and labels differ in length.")
        if not attrs["points"] and attrs["box"] is None:
            raise serializers.ValidationError("A prompt needs at least one point or a box.")
        return attrs


# --- the model manifest (segmentation/api/manifest.py builds it; the project's model view serves it) ---


@extend_schema_field(
    {
        "type": "array",
        "items": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
        "description": 'A tensor shape; "N" is the number of prompt points',
    }
)
class TensorShapeField(serializers.ListField):
    pass


class ManifestModelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    architecture = serializers.CharField()
    checkpoint_sha256 = serializers.CharField()
    encoder_sha256 = serializers.CharField(
        help_text="Embeddings are keyed by it (X-Model-Sha256); a fine-tuned version keeps its parent's"
    )


class ManifestEmbeddingSerializer(serializers.Serializer):
    shape = serializers.ListField(child=serializers.IntegerField(), help_text="channels, height, width")
    dtype = serializers.CharField()
    format = serializers.CharField()
    url_template = serializers.CharField()


class DecoderFileSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="?v= names the content, so the file may be cached for good")
    sha256 = serializers.CharField()


class FirstClickSerializer(serializers.Serializer):
    """Prompts without a mask input: "prep" once per image, then "fp32"/"int8" per prompt."""

    prep = DecoderFileSerializer()
    fp32 = DecoderFileSerializer()
    int8 = DecoderFileSerializer()
    prep_inputs = serializers.DictField(child=TensorShapeField())
    prep_outputs = serializers.ListField(child=serializers.CharField())
    inputs = serializers.ListField(child=serializers.CharField())
    outputs = serializers.DictField(child=TensorShapeField())


class ManifestCoordinatesSerializer(serializers.Serializer):
    scale = serializers.CharField()
    point = serializers.CharField()
    labels = serializers.DictField(child=serializers.IntegerField())
    padding_point = serializers.CharField()
    mask_threshold = serializers.FloatField()


class ModelManifestSerializer(serializers.Serializer):
    """The project's SAM model and how the browser runs its decoders on the model's embeddings."""

    model = ManifestModelSerializer()
    encoder_input_size = serializers.IntegerField()
    embedding = ManifestEmbeddingSerializer()
    decoder_state = serializers.ChoiceField(
        choices=["ready", "preparing", "unavailable"], help_text="preparing: a re-export was queued; ask again"
    )
    decoders = serializers.DictField(child=DecoderFileSerializer(), help_text='"fp32" and "int8"; empty until ready')
    decoder_inputs = serializers.DictField(child=TensorShapeField())
    decoder_outputs = serializers.DictField(child=TensorShapeField())
    upscale = serializers.CharField()
    first_click = FirstClickSerializer(allow_null=True)
    mask_choice = serializers.CharField()
    coordinates = ManifestCoordinatesSerializer()
