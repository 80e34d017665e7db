from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Signed-in users only (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]); the docs page sends others to
    # the login page, and loads its script from a URL (no inline script: Content-Security-Policy).
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/", include("annotator.api.urls")),
    path("api/", include("segmentation.api.urls")),
    path("", include("annotator.urls")),
]

# Requests refused before any view runs (e.g. a body over the size limit): JSON under /api/.
handler400 = "config.errors.bad_request"
