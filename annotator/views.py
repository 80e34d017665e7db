"""Pages (server-rendered, plain): project list, project detail with its image grid, upload.

Same access rules as the API: a non-member gets 404, a member without the needed role 403.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotator import selectors
from annotator.access import project_for_user
from annotator.api.serializers import annotate_url
from annotator.models import EmbeddingStatus, Role
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
