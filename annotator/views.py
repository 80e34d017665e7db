"""Pages (server-rendered, plain): project list, project detail with its image grid, upload, the
annotator page (a shell for the frontend bundle, which talks to the REST API), and the review
workflow's pages (job forms, "My queue", the review list; plain POST forms calling the services).

Same access rules as the API: a non-member gets 404, a member without the needed role 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from annotator import selectors
from annotator import selectors_review as review_selectors
from annotator.access import check_image_review, check_image_submit, project_for_user, user_of
from annotator.api.page_config import annotate_page_config
from annotator.api.serializers import AnnotatePageConfigSerializer, annotate_url
from annotator.models import EmbeddingStatus, Image, LabelClass, Membership, Project, Role
from annotator.selectors_dicom import dicom_settings_context
from annotator.selectors_embeddings import project_model
from annotator.selectors_finetuning import retrain_due_in
from annotator.services import jobs as job_services
from annotator.services import review as review_services
from annotator.services.projects import project_create
from segmentation.models import Architecture

GRID_PAGE_SIZE = 48


@login_required
@require_http_methods(["GET", "POST"])
def project_list(request: HttpRequest) -> HttpResponse:
    form_errors: list[str] = []
    if request.method == "POST":
        try:
            project = project_create(
                name=request.POST.get("name", ""),
                description=request.POST.get("description", ""),
                user=user_of(request),
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
    filters: dict[str, Any] = {}
    status = request.GET.get("embedding_status")
    if status in EmbeddingStatus.values:
        filters["embedding_status"] = status
    images = selectors.image_list_for_project(project=project, search=request.GET.get("q") or None, **filters)
    page = Paginator(images, GRID_PAGE_SIZE).get_page(request.GET.get("page"))
    tiles = [{"image": image, "annotate_url": annotate_url(image)} for image in page.object_list]
    counts = selectors.embedding_status_counts(project=project)
    total = sum(counts.values())
    # One queryset for the members card and the job forms: evaluated (and cached) once.
    memberships = selectors.membership_list(project=project)
    label_classes = selectors.label_class_list(project=project)
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
            "label_classes": label_classes,
            "memberships": memberships,
            "status_filter": status or "",
            "query": request.GET.get("q", ""),
            **_review_context(project, role, memberships, label_classes),
            "dicom": dicom_settings_context(project),
            "model_panel": _model_panel_context(project, role),
        },
    )


def _model_panel_context(project: Project, role: str) -> dict[str, Any]:
    """The Model panel's initial JSON (frontend/src/pages/projectModel.ts fetches the rest from the
    API): the active model, whether this member may manage it, and continuous learning's state."""
    model = project_model(project)
    return {
        "project_id": project.pk,
        "can_manage": role == Role.MANAGER,
        "retrain_every": project.retrain_every,
        "next_run_after": retrain_due_in(project),
        "active": {
            "id": model.pk,
            "name": model.name,
            # The shipped model (synthetic shapes only), not a version fine-tuned from it.
            "builtin_default": model.architecture == Architecture.DEFAULT and model.parent_id is None,
        },
    }


PROGRESS_COLORS = {
    "not_started": "#cbd5e1",
    "in_progress": "#93c5fd",
    "submitted": "#fcd34d",
    "rejected": "#fca5a5",
    "approved": "#4ade80",
}


def _review_context(
    project: Project, role: str, memberships: QuerySet[Membership], label_classes: QuerySet[LabelClass]
) -> dict:
    """What the Jobs and Progress partials of the project page need, in a fixed number of queries: the
    members and label classes querysets are the page's own (evaluated once, cached)."""
    progress = review_selectors.progress_counts(project=project)
    total = sum(progress.values())
    jobs = list(review_selectors.job_list(project=project))
    can_see_metrics = role in (Role.MANAGER, Role.REVIEWER)
    annotators = review_selectors.annotator_metrics(project=project) if can_see_metrics else []
    most = max((row["objects"] for row in annotators), default=0)
    context = {
        "jobs": jobs,
        "progress": [
            {
                "status": status,
                "label": status.replace("_", " ").capitalize(),
                "color": PROGRESS_COLORS[status],
                "count": progress[status],
                "percent": round(100 * progress[status] / total, 1) if total else 0.0,
            }
            for status in review_selectors.PROGRESS_STATUSES
        ],
        "can_see_metrics": can_see_metrics,
        "label_max": max((lc.annotation_count for lc in label_classes), default=0) or 1,  # type: ignore[attr-defined]
        # Bar widths (percent of the busiest annotator) for the inline chart.
        "annotator_metrics": [{**row, "bar": round(100 * row["objects"] / most) if most else 0} for row in annotators],
    }
    if role == Role.MANAGER:
        context["job_annotators"] = [m.user for m in memberships if m.role in (Role.ANNOTATOR, Role.MANAGER)]
        context["job_reviewers"] = [m.user for m in memberships if m.role in (Role.REVIEWER, Role.MANAGER)]
        context["unassigned_count"] = total - sum(job.image_count for job in jobs)  # type: ignore[attr-defined]
    return context


def _form_user(request: HttpRequest, field: str):
    user_id = request.POST.get(field) or ""
    return get_user_model().objects.filter(pk=int(user_id)).first() if user_id.isdigit() else None


def _form_errors(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(message for messages_ in exc.message_dict.values() for message in messages_)
    return " ".join(exc.messages)


@login_required
@require_http_methods(["POST"])
def jobs_split_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = project_for_user(request.user, project_id, roles=[Role.MANAGER])
    raw_ids = [part for part in request.POST.get("image_ids", "").replace(",", " ").split() if part]
    raw_count = request.POST.get("count", "").strip()
    try:
        if raw_ids:
            if not all(part.isdigit() for part in raw_ids):
                raise ValidationError({"image_ids": "Image ids are whole numbers, separated by commas or spaces."})
            split: dict[str, Any] = {"image_ids": [int(part) for part in raw_ids]}
        else:
            split = {"count": int(raw_count) if raw_count.isdigit() else -1}
        jobs = job_services.jobs_split(
            project=project,
            annotator=_form_user(request, "annotator"),
            reviewer=_form_user(request, "reviewer"),
            name=request.POST.get("name", "").strip(),
            **split,
        )
    except ValidationError as exc:
        messages.error(request, _form_errors(exc))
    else:
        messages.success(request, f"Created {len(jobs)} job(s).")
    return redirect(reverse("project-detail", args=[project.pk]) + "#jobs")


@login_required
@require_http_methods(["POST"])
def job_assign_page(request: HttpRequest, project_id: int, job_id: int) -> HttpResponse:
    project, _ = project_for_user(request.user, project_id, roles=[Role.MANAGER])
    job = review_selectors.job_in_project(project=project, job_id=job_id)
    try:
        job_services.job_assign(
            job=job, annotator=_form_user(request, "annotator"), reviewer=_form_user(request, "reviewer")
        )
    except ValidationError as exc:
        messages.error(request, _form_errors(exc))
    else:
        messages.success(request, f"{job.name} reassigned.")
    return redirect(reverse("project-detail", args=[project.pk]) + "#jobs")


@login_required
def my_queue(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_user(request.user, project_id)
    queue = review_selectors.queue_for_user(project=project, user=user_of(request), role=role)
    rejections: dict[int, list] = {}
    for annotation in queue.rejected_annotations:
        rejections.setdefault(annotation.image_id, []).append(annotation)
    rows = [
        {"image": image, "annotate_url": annotate_url(image), "rejections": rejections.get(image.pk, [])}
        for image in queue.images
    ]
    return render(
        request,
        "review/queue.html",
        {
            "project": project,
            "role": role,
            "rows": rows,
            "queue": queue,
            "next_url": annotate_url(queue.next_image) if queue.next_image else None,
        },
    )


@login_required
@require_http_methods(["POST"])
def image_submit_page(request: HttpRequest, image_id: int) -> HttpResponse:
    image, role = selectors.image_for_user(request.user, image_id)
    check_image_submit(user_of(request), role, image)
    try:
        review_services.image_submit(image=image, user=user_of(request))
    except ValidationError as exc:
        messages.error(request, _form_errors(exc))
    else:
        messages.success(request, f"{image.original_name} submitted for review.")
    return redirect("review-queue", project_id=image.project_id)


@login_required
def review_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for_user(request.user, project_id, roles=[Role.REVIEWER, Role.MANAGER])
    images = list(review_selectors.review_list(project=project, user=user_of(request), role=role))
    annotations = review_selectors.review_annotations(images=images)
    rows = [
        {"image": image, "annotate_url": annotate_url(image), "annotations": annotations[image.pk]} for image in images
    ]
    return render(request, "review/review.html", {"project": project, "role": role, "rows": rows})


def _review_redirect(image: Image) -> HttpResponse:
    return redirect("review-page", project_id=image.project_id)


@login_required
@require_http_methods(["POST"])
def image_review_page(request: HttpRequest, image_id: int) -> HttpResponse:
    image, role = selectors.image_for_user(request.user, image_id)
    check_image_review(user_of(request), role, image)
    approve = request.POST.get("decision") == "approve"
    reject_rest = request.POST.get("decision") == "reject_rest"  # also the annotations not decided yet
    try:
        review_services.image_review(
            image=image,
            reviewer=user_of(request),
            approve=approve,
            comment=request.POST.get("comment", ""),
            reject_rest=reject_rest,
        )
    except ValidationError as exc:
        messages.error(request, _form_errors(exc))
    else:
        messages.success(request, f"{image.original_name} {'approved' if approve else 'rejected'}.")
    return _review_redirect(image)


@login_required
@require_http_methods(["POST"])
def annotation_review_page(request: HttpRequest, annotation_id: int) -> HttpResponse:
    annotation, role = selectors.annotation_for_user(request.user, annotation_id)
    check_image_review(user_of(request), role, annotation.image)
    approve = request.POST.get("decision") == "approve"
    try:
        review_services.annotation_review(
            annotation=annotation, reviewer=user_of(request), approve=approve, comment=request.POST.get("comment", "")
        )
    except ValidationError as exc:
        messages.error(request, _form_errors(exc))
    return _review_redirect(annotation.image)


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
    # WebGPU path (frontend/src/sam/decoder.worker.ts), fetched only by browsers with a GPU adapter.
    "ort.webgpu.min.mjs": "text/javascript",
    "ort-wasm-simd-threaded.asyncify.mjs": "text/javascript",
    "ort-wasm-simd-threaded.asyncify.wasm": "application/wasm",
}


@login_required
@ensure_csrf_cookie  # the page writes through the API with the CSRF cookie
def image_annotate(request: HttpRequest, image_id: int) -> HttpResponse:
    image, role = selectors.image_for_user(request.user, image_id)
    # Shaped by the serializer that the OpenAPI schema (and the generated TypeScript) describes.
    config = AnnotatePageConfigSerializer(annotate_page_config(user=request.user, image=image, role=role)).data
    context = {"image": image, "project": image.project, "config": config}
    response = render(request, "annotator/annotate.html", context)
    for header, value in ISOLATION_HEADERS.items():
        response[header] = value
    return response


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
    response = FileResponse(open(path, "rb"), content_type=content_type)  # noqa: SIM115 (FileResponse closes it)
    response["Cross-Origin-Embedder-Policy"] = "require-corp"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "public, max-age=3600"
    return response
