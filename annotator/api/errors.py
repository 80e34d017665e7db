"""API errors are always JSON: {"detail": ..., plus fields}; 409 conflicts carry the current version.

Services raise Django's ValidationError / PermissionDenied / Http404 and AnnotationConflict; this
handler turns each into one clear JSON response, so views need no try/except.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotator.services.annotations import AnnotationConflict


def _validation_body(exc: DjangoValidationError) -> dict[str, Any]:
    if hasattr(exc, "error_dict"):
        body: dict[str, Any] = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
        if "detail" in body:
            body["detail"] = " ".join(body["detail"])
        else:
            body["detail"] = "Invalid input."
        return body
    return {"detail": " ".join(str(m) for m in exc.messages)}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, AnnotationConflict):
        # Imported here to avoid a serializer <-> errors import loop at module load.
        from annotator.api.serializers import AnnotationSerializer

        return Response(
            {
                "detail": str(exc),
                "current_version": exc.current.version,
                "current": AnnotationSerializer(exc.current, context=context).data,
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, ObjectDoesNotExist):  # e.g. deleted by someone else between read and write
        return Response({"detail": str(exc) or "Not found."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoValidationError):
        return Response(_validation_body(exc), status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and not isinstance(response.data, dict):
        # DRF gives a bare list for non-field serializer errors; keep one JSON shape everywhere.
        response.data = {"detail": response.data}
    elif response is not None and "detail" not in response.data:
        response.data = {"detail": "Invalid input.", **response.data}
    return response
