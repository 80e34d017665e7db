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
]
