from django.urls import path

from annotator.api import files, views
from annotator.api.auth import TokenLoginView
from annotator.api.page_config import AnnotatePageConfigView

urlpatterns = [
    path("auth/token/", TokenLoginView.as_view(), name="api-token"),
    path("projects/", views.ProjectListView.as_view(), name="api-project-list"),
    path("projects/<int:project_id>/", views.ProjectDetailView.as_view(), name="api-project-detail"),
    path("projects/<int:project_id>/members/", views.MembershipListView.as_view(), name="api-member-list"),
    path(
        "projects/<int:project_id>/members/<int:membership_id>/",
        views.MembershipDetailView.as_view(),
        name="api-member-detail",
    ),
    path("projects/<int:project_id>/label-classes/", views.LabelClassListView.as_view(), name="api-label-class-list"),
    path(
        "projects/<int:project_id>/label-classes/<int:label_class_id>/",
        views.LabelClassDetailView.as_view(),
        name="api-label-class-detail",
    ),
    path("projects/<int:project_id>/images/", views.ImageListView.as_view(), name="api-image-list"),
    path("images/<int:image_id>/", views.ImageDetailView.as_view(), name="api-image-detail"),
    path("images/<int:image_id>/file/", files.ImageFileView.as_view(), name="api-image-file"),
    path("images/<int:image_id>/thumbnail/", files.ImageThumbnailView.as_view(), name="api-image-thumbnail"),
    path("images/<int:image_id>/render/", files.ImageRenderView.as_view(), name="api-image-render"),
    path("images/<int:image_id>/annotations/", views.AnnotationListView.as_view(), name="api-annotation-list"),
    path("annotations/<int:annotation_id>/", views.AnnotationDetailView.as_view(), name="api-annotation-detail"),
    path("images/<int:image_id>/annotate-config/", AnnotatePageConfigView.as_view(), name="api-annotate-config"),
]

# Dataset export and import (issue 7).
from annotator.api import exports as export_views  # noqa: E402

urlpatterns += [
    path("projects/<int:project_id>/exports/", export_views.ProjectExportListView.as_view(), name="api-export-list"),
    path("exports/<int:export_id>/", export_views.ExportDetailView.as_view(), name="api-export-detail"),
    path("exports/<int:export_id>/download/", export_views.ExportDownloadView.as_view(), name="api-export-download"),
    path("projects/<int:project_id>/imports/coco/", export_views.CocoImportView.as_view(), name="api-import-coco"),
]

# Review workflow: jobs, queue, submit/review, audit trail, metrics (issue 6).
from annotator.api import review as review_views  # noqa: E402

urlpatterns += [
    path("projects/<int:project_id>/jobs/", review_views.JobListView.as_view(), name="api-job-list"),
    path("projects/<int:project_id>/jobs/<int:job_id>/", review_views.JobDetailView.as_view(), name="api-job-detail"),
    path("projects/<int:project_id>/queue/", review_views.QueueView.as_view(), name="api-queue"),
    path(
        "projects/<int:project_id>/transitions/", review_views.TransitionListView.as_view(), name="api-transition-list"
    ),
    path("projects/<int:project_id>/metrics/", review_views.MetricsView.as_view(), name="api-metrics"),
    path("projects/<int:project_id>/metrics.csv", review_views.MetricsCsvView.as_view(), name="api-metrics-csv"),
    path("images/<int:image_id>/submit/", review_views.ImageSubmitView.as_view(), name="api-image-submit"),
    path("images/<int:image_id>/review/", review_views.ImageReviewView.as_view(), name="api-image-review"),
    path(
        "annotations/<int:annotation_id>/review/",
        review_views.AnnotationReviewView.as_view(),
        name="api-annotation-review",
    ),
]

# SAM per project and image: model manifest, embeddings, server decoder, segment everything (issue 11:
# moved from segmentation.api, same paths and names; the engine keeps only the decoder files).
from annotator.api import auto_masks as auto_mask_views  # noqa: E402
from annotator.api import embeddings as embedding_views  # noqa: E402
from annotator.api import model_manifest as model_manifest_views  # noqa: E402

urlpatterns += [
    path("projects/<int:project_id>/model/", model_manifest_views.ProjectModelView.as_view(), name="api-project-model"),
    path(
        "projects/<int:project_id>/embeddings/progress/",
        embedding_views.ProjectEmbeddingProgressView.as_view(),
        name="api-project-embedding-progress",
    ),
    path("images/<int:image_id>/embedding/", embedding_views.ImageEmbeddingView.as_view(), name="api-image-embedding"),
    path(
        "images/<int:image_id>/embedding/status/",
        embedding_views.ImageEmbeddingStatusView.as_view(),
        name="api-image-embedding-status",
    ),
    path("images/<int:image_id>/decode/", embedding_views.ImageDecodeView.as_view(), name="api-image-decode"),
    path(
        "images/<int:image_id>/embedding/retry/",
        embedding_views.ImageEmbeddingRetryView.as_view(),
        name="api-image-embedding-retry",
    ),
    path(
        "projects/<int:project_id>/auto-masks/",
        auto_mask_views.AutoMaskJobListView.as_view(),
        name="api-auto-mask-list",
    ),
    path(
        "projects/<int:project_id>/auto-masks/<int:job_id>/",
        auto_mask_views.AutoMaskJobDetailView.as_view(),
        name="api-auto-mask-detail",
    ),
    path(
        "projects/<int:project_id>/auto-masks/<int:job_id>/cancel/",
        auto_mask_views.AutoMaskJobCancelView.as_view(),
        name="api-auto-mask-cancel",
    ),
]

# Fine-tuning the decoder on the project's labels; model versions, promote and roll back (issue 12).
from annotator.api import finetuning as finetuning_views  # noqa: E402

urlpatterns += [
    path(
        "projects/<int:project_id>/finetune-runs/",
        finetuning_views.FinetuneRunListView.as_view(),
        name="api-finetune-run-list",
    ),
    path(
        "finetune-runs/<int:run_id>/", finetuning_views.FinetuneRunDetailView.as_view(), name="api-finetune-run-detail"
    ),
    path(
        "finetune-runs/<int:run_id>/cancel/",
        finetuning_views.FinetuneRunCancelView.as_view(),
        name="api-finetune-run-cancel",
    ),
    path(
        "projects/<int:project_id>/model-versions/",
        finetuning_views.ModelVersionListView.as_view(),
        name="api-model-version-list",
    ),
    path(
        "projects/<int:project_id>/model-versions/<int:model_id>/activate/",
        finetuning_views.ModelVersionActivateView.as_view(),
        name="api-model-version-activate",
    ),
]

# DICOM series: embeddings ahead, slice propagation and its drafts (issue 14 items 5-6).
from annotator.api import propagation as propagation_views  # noqa: E402

urlpatterns += [
    path("images/<int:image_id>/series-ahead/", propagation_views.SeriesAheadView.as_view(), name="api-series-ahead"),
    path(
        "annotations/<int:annotation_id>/propagate/",
        propagation_views.PropagateView.as_view(),
        name="api-annotation-propagate",
    ),
    path(
        "annotations/<int:annotation_id>/accept/",
        propagation_views.AnnotationAcceptView.as_view(),
        name="api-annotation-accept",
    ),
    path("propagations/<int:run_id>/", propagation_views.PropagationRunView.as_view(), name="api-propagation"),
    path(
        "propagations/<int:run_id>/accept/",
        propagation_views.PropagationAcceptView.as_view(),
        name="api-propagation-accept",
    ),
]
