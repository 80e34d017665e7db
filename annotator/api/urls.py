from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token

from annotator.api import views

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
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
    path("images/<int:image_id>/file/", views.ImageFileView.as_view(), name="api-image-file"),
    path("images/<int:image_id>/thumbnail/", views.ImageThumbnailView.as_view(), name="api-image-thumbnail"),
    path("images/<int:image_id>/annotations/", views.AnnotationListView.as_view(), name="api-annotation-list"),
    path("annotations/<int:annotation_id>/", views.AnnotationDetailView.as_view(), name="api-annotation-detail"),
]

# Dataset export and import (issue 7).
from annotator.api import exports as export_views  # noqa: E402

urlpatterns += [
    path("projects/<int:project_id>/exports/", export_views.ProjectExportListView.as_view(), name="api-export-list"),
    path("exports/<int:export_id>/", export_views.ExportDetailView.as_view(), name="api-export-detail"),
    path("exports/<int:export_id>/download/", export_views.ExportDownloadView.as_view(), name="api-export-download"),
    path("projects/<int:project_id>/imports/coco/", export_views.CocoImportView.as_view(), name="api-import-coco"),
]
