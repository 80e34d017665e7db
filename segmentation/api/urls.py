from django.urls import path

from segmentation.api import views

urlpatterns = [
    path("projects/<int:project_id>/model/", views.ProjectModelView.as_view(), name="api-project-model"),
    path(
        "projects/<int:project_id>/embeddings/progress/",
        views.ProjectEmbeddingProgressView.as_view(),
        name="api-project-embedding-progress",
    ),
    path("images/<int:image_id>/embedding/", views.ImageEmbeddingView.as_view(), name="api-image-embedding"),
    path(
        "images/<int:image_id>/embedding/status/",
        views.ImageEmbeddingStatusView.as_view(),
        name="api-image-embedding-status",
    ),
    path("images/<int:image_id>/decode/", views.ImageDecodeView.as_view(), name="api-image-decode"),
    path(
        "images/<int:image_id>/embedding/retry/",
        views.ImageEmbeddingRetryView.as_view(),
        name="api-image-embedding-retry",
    ),
    path(
        "models/<int:model_id>/decoder/<str:variant>.onnx", views.ModelDecoderView.as_view(), name="api-model-decoder"
    ),
    path("projects/<int:project_id>/auto-masks/", views.AutoMaskJobListView.as_view(), name="api-auto-mask-list"),
    path(
        "projects/<int:project_id>/auto-masks/<int:job_id>/",
        views.AutoMaskJobDetailView.as_view(),
        name="api-auto-mask-detail",
    ),
    path(
        "projects/<int:project_id>/auto-masks/<int:job_id>/cancel/",
        views.AutoMaskJobCancelView.as_view(),
        name="api-auto-mask-cancel",
    ),
]
