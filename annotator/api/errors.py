"""API errors are always JSON: {"detail": ..., plus fields}; 409 conflicts carry the current version.

Services raise Django's ValidationError / PermissionDenied / Http404 and AnnotationConflict; this
handler turns each into one clear JSON response, so views need no try/except. The schema says so
too: `error_responses_document` declares these answers on every operation they can come from.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import (
    ObjectDoesNotExist,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.http.request import UnreadablePostError
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotator.api.serializers import AnnotationSerializer
from annotator.services.annotations import AnnotationConflict


class ErrorSerializer(serializers.Serializer):
    """Every error body; a 400 adds one list of messages per invalid field."""

    detail = serializers.CharField()


def _validation_body(exc: DjangoValidationError) -> dict[str, Any]:
    if hasattr(exc, "error_dict"):
        body: dict[str, Any] = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
        if "detail" in body:
            body["detail"] = " ".join(body["detail"])
        else:
            body["detail"] = "Invalid input."
        return body
    return {"detail": " ".join(str(m) for m in exc.messages)}


def request_error_body(exc: Exception) -> tuple[dict[str, str], int] | None:
    """The JSON answer to a body Django refused while reading it (too large, too many parts, cut off,
    malformed), or None for other exceptions. Used by the handler below and by config.errors for
    bodies read before any view runs."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return {"detail": f"The request body is too large: at most {limit} bytes besides uploaded files."}, 413
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return {"detail": f"Too many files in one request: at most {limit}."}, 413
    if isinstance(exc, TooManyFieldsSent):
        return {"detail": f"Too many fields: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}."}, 413
    if isinstance(exc, UnreadablePostError):
        return {"detail": "The request body could not be read (the upload was cut off)."}, 400
    if isinstance(exc, SuspiciousOperation):
        return {"detail": "Bad request."}, 400
    return None


def request_error_response(exc: Exception) -> JsonResponse | None:
    answer = request_error_body(exc)
    return JsonResponse(answer[0], status=answer[1]) if answer else None


def exception_handler(exc: Exception, context: dict) -> Response | None:
    request_error = request_error_body(exc)
    if request_error is not None:
        return Response(request_error[0], status=request_error[1])
    if isinstance(exc, AnnotationConflict):
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
        # DRF gives a bare list for a ValidationError raised outside a serializer; keep one shape:
        # detail is always a string.
        response.data = {"detail": " ".join(str(message) for message in response.data)}
    elif response is not None and "detail" not in response.data:
        response.data = {"detail": "Invalid input.", **response.data}
    return response


# --- the schema side (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) ---

ERROR_SCHEMA = {
    "type": "object",
    "description": ErrorSerializer.__doc__,
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_ERROR_DESCRIPTIONS = {
    "400": "Invalid input: `detail` and one list of messages per invalid field",
    "401": "Not signed in (no session and no valid token)",
    "403": "Your role in the project does not allow this",
    "404": "No such object (or page), or not in a project you are a member of",
    "413": "The request body is too large (ANNOTATOR_MAX_BODY_BYTES besides uploaded files)",
}


def _error_codes(path: str, method: str, operation: dict) -> list[str]:
    """The error answers the handler above gives and every view can reach: 400 where there is input
    or a write (services refuse writes that break a rule), 401/403 where authentication and roles
    apply, 404 where the path names an object or a page number may run past the last page, 413 where
    there is a body."""
    codes = []
    query = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
    has_query = bool(query)
    if method != "get" or "requestBody" in operation or has_query:
        codes.append("400")
    if {} not in operation.get("security", [{}]):  # an operation open to anyone lists {} (e.g. token login)
        codes += ["401", "403"]
    if "{" in path or "page" in query:
        codes.append("404")
    if "requestBody" in operation:
        codes.append("413")
    return codes


def error_responses_document(result: dict, generator, request, public: bool) -> dict:
    """drf-spectacular postprocessing hook: declare the error answers, as the Error component, on
    each operation that can give them. A view's own @extend_schema declaration of a code wins."""
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault("Error", ERROR_SCHEMA)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _error_codes(path, method, operation):
                responses.setdefault(
                    code,
                    {"description": _ERROR_DESCRIPTIONS[code], "content": {"application/json": {"schema": _ERROR_REF}}},
                )
    return result
