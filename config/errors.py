"""Error pages for requests refused before any view answers (Django's handler400).

Under /api/ the answer is JSON like every other API error (annotator.api.errors), with 413 for a body
over the size limit; pages keep Django's own 400 page.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from annotator.api.errors import request_error_response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return request_error_response(exception) or JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)
