from django.contrib.auth import views as auth_views
from django.urls import path

from annotator import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.project_list, name="project-list"),
    path("projects/<int:project_id>/", views.project_detail, name="project-detail"),
    path("projects/<int:project_id>/upload/", views.project_upload, name="project-upload"),
    path("images/<int:image_id>/annotate/", views.image_annotate, name="image-annotate"),
    path("ort-runtime/<str:name>", views.ort_runtime_file, name="ort-runtime-file"),
    # Review workflow (issue 6).
    path("projects/<int:project_id>/jobs/split/", views.jobs_split_page, name="jobs-split"),
    path("projects/<int:project_id>/jobs/<int:job_id>/assign/", views.job_assign_page, name="job-assign"),
    path("projects/<int:project_id>/queue/", views.my_queue, name="review-queue"),
    path("projects/<int:project_id>/review/", views.review_page, name="review-page"),
    path("images/<int:image_id>/submit/", views.image_submit_page, name="image-submit"),
    path("images/<int:image_id>/review/", views.image_review_page, name="image-review"),
    path("annotations/<int:annotation_id>/review/", views.annotation_review_page, name="annotation-review"),
]
