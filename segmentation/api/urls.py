"""Engine routes that need no project (project- and image-scoped ones: annotator.api.urls)."""

from django.urls import path

from segmentation.api import views

urlpatterns = [
    path(
        "models/<int:model_id>/decoder/<str:variant>.onnx", views.ModelDecoderView.as_view(), name="api-model-decoder"
    ),
]
