"""Serializers of DICOM series pieces of the annotator page's config (docs/dicom.md)."""

from rest_framework import serializers


class DicomSeriesSerializer(serializers.Serializer):
    image_ids = serializers.ListField(child=serializers.IntegerField())
    urls = serializers.ListField(child=serializers.CharField())
    position = serializers.IntegerField(help_text="This image's index in image_ids.")
