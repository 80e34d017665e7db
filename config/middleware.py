"""The front door: security headers on every response.

Content-Security-Policy (CONTENT_SECURITY_POLICY): no inline scripts anywhere; the annotator's needs
are listed one by one (docs/operations.md says why each is there). Workers started from a URL (the
onnxruntime wasm threads) get the policy of their own response, which is this same header; the inline
decoder worker (a blob: URL) inherits the page's.

Login throttling is django-axes with annotator.login_throttle (settings AXES_*).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy and Permissions-Policy to every response that has none yet."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.headers = {
            "Content-Security-Policy": "; ".join(
                f"{directive} {' '.join(sources)}" for directive, sources in settings.CONTENT_SECURITY_POLICY.items()
            ),
            "Permissions-Policy": ", ".join(
                f"{feature}=({' '.join(allow)})" for feature, allow in settings.PERMISSIONS_POLICY.items()
            ),
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        for header, value in self.headers.items():
            response.headers.setdefault(header, value)
        return response
