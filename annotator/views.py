"""Pages (server-rendered, plain): project list, project detail with its image grid, upload, and the
annotator page (a shell for the frontend bundle, which talks to the REST API).

Same access rules as the API: a non-member gets 404, a member without the needed role 403.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from annotator import selectors
from annotator.access import project_for_user
from annotator.api.serializers import annotate_url
from annotator.models import EmbeddingStatus, Image, Role
from annotator.services.projects import project_create

GRID_PAGE_SIZE = 48


@login_required
@require_http_methods(["GET", "POST"])
def project_list(request: HttpRequest) -> HttpResponse:
    form_errors: list[str] = []
    if request.method == "POST":
        try:
            project = project_create(
                name=request.POST.get("name", ""), description=request.POST.get("description", ""), user=request.user
            )
        except ValidationError as exc:
            form_errors = [message for messages_ in exc.message_dict.values() for message in messages_]
        else:
            messages.success(request, f"Project “{project.name}” created.")
            return redirect("project-detail", project_id=project.pk)
    projects = selectors.project_list_for_user(request.user)
    return render(
        request,
        "projects/list.html",
        {"projects": projects, "form_errors": form_errors, "form_name": request.POST.get("name", "")},
        status=400 if form_errors else 200,
    )


@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_user(request.user, project_id)
    filters = {}
    status = request.GET.get("embedding_status")
    if status in EmbeddingStatus.values:
        filters["embedding_status"] = status
    images = selectors.image_list_for_project(project=project, search=request.GET.get("q") or None, **filters)
    page = Paginator(images, GRID_PAGE_SIZE).get_page(request.GET.get("page"))
    tiles = [{"image": image, "annotate_url": annotate_url(image)} for image in page.object_list]
    counts = selectors.embedding_status_counts(project=project)
    total = sum(counts.values())
    return render(
        request,
        "projects/detail.html",
        {
            "project": project,
            "role": role,
            "is_manager": role == Role.MANAGER,
            "page": page,
            "tiles": tiles,
            "embedding_counts": counts,
            "embedding_ready_percent": round(100 * counts[EmbeddingStatus.READY] / total) if total else 0,
            "totals": selectors.image_counts_for_grid(project=project),
            "label_classes": selectors.label_class_list(project=project),
            "memberships": selectors.membership_list(project=project),
            "status_filter": status or "",
            "query": request.GET.get("q", ""),
        },
    )


@login_required
def project_upload(request: HttpRequest, project_id: int) -> HttpResponse:
    # Managers only, as for the upload API the page posts to.
    project, role = project_for_user(request.user, project_id, roles=[Role.MANAGER])
    return render(request, "projects/upload.html", {"project": project, "role": role})


# Cross-origin isolation, so onnxruntime-web may use SharedArrayBuffer (wasm threads). Every script
# the page runs as a worker must carry the same embedder policy (see ort_runtime_file).
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}
# onnxruntime-web's runtime, copied into static/dist/ort/ by the Vite build: name -> content type.
ORT_RUNTIME_FILES = {
    "ort-wasm-simd-threaded.mjs": "text/javascript",
    "ort-wasm-simd-threaded.wasm": "application/wasm",
}


@login_required
@ensure_csrf_cookie  # the page writes through the API with the CSRF cookie
def image_annotate(request: HttpRequest, image_id: int) -> HttpResponse:
    image, _ = selectors.image_for_user(request.user, image_id)
    project, role = project_for_user(request.user, image.project_id)
    label_classes = selectors.label_class_list(project=project)
    previous_id, next_id = _neighbour_image_ids(image)
    config = {
        "image": {"id": image.pk, "width": image.width, "height": image.height, "name": image.original_name,
                  "url": reverse("api-image-file", args=[image.pk])},
        "project": {"id": project.pk, "name": project.name, "url": reverse("project-detail", args=[project.pk])},
        "role": role,
        "can_write": role in (Role.MANAGER, Role.ANNOTATOR),
        "label_classes": [{"id": c.pk, "name": c.name, "color": c.color} for c in label_classes],
        "previous_url": reverse("image-annotate", args=[previous_id]) if previous_id else None,
        "next_url": reverse("image-annotate", args=[next_id]) if next_id else None,
        "next_image_id": next_id,
        "ort_runtime_url": reverse("ort-runtime-file", args=["x"]).removesuffix("x"),
        "user_id": request.user.pk,
    }
    response = render(request, "annotator/annotate.html", {"image": image, "project": project, "config": config})
    for header, value in ISOLATION_HEADERS.items():
        response[header] = value
    return response


def _neighbour_image_ids(image: Image) -> tuple[int | None, int | None]:
    """Ids of the previous and next image of the same project, in the grid's order (by id)."""
    siblings = Image.objects.filter(project_id=image.project_id)
    previous_id = siblings.filter(pk__lt=image.pk).order_by("-pk").values_list("pk", flat=True).first()
    next_id = siblings.filter(pk__gt=image.pk).order_by("pk").values_list("pk", flat=True).first()
    return previous_id, next_id


def ort_runtime_file(request: HttpRequest, name: str) -> FileResponse:
    """onnxruntime-web's wasm runtime with the isolation headers.

    Why not plain /static/: onnxruntime-web starts its wasm threads as workers from the .mjs URL, and
    Chromium refuses a worker script without a Cross-Origin-Embedder-Policy inside an isolated page;
    static file handlers (whitenoise, runserver, the test live server) do not add it.
    """
    content_type = ORT_RUNTIME_FILES.get(name)
    path = finders.find(f"dist/ort/{name}") if content_type else None
    if not path:
        raise Http404("No such runtime file.")
    response = FileResponse(open(path, "rb"), content_type=content_type)
    response["Cross-Origin-Embedder-Policy"] = "require-corp"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "public, max-age=3600"
    return response
