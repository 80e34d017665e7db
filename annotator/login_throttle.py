"""Login throttling with django-axes: the answers to a locked-out login and the address counted.

axes (settings AXES_*) counts failed logins per account and per client address in the database, so
every web process sees the same counts, and refuses a locked account or address inside
`authenticate()` before the password is checked. `login_lockout_response` is its
AXES_LOCKOUT_CALLABLE (pages and /admin/); the token endpoint answers through annotator.api.auth.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

LOCKED_OUT_MESSAGE = "Too many failed logins for this account or from this address. Try again in {minutes} minutes."


def cool_off_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def locked_out_message() -> str:
    return LOCKED_OUT_MESSAGE.format(minutes=max(1, round(cool_off_seconds() / 60)))


def login_lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """429 with Retry-After: JSON under /api/, the login page with the message elsewhere."""
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": locked_out_message()}, status=429)
    else:
        context = {"form": AuthenticationForm(request), "locked_out_message": locked_out_message()}
        response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(cool_off_seconds())
    return response


def client_ip(request: HttpRequest) -> str | None:
    """The address failed logins are counted against (AXES_CLIENT_IP_CALLABLE).

    Behind ANNOTATOR_TRUSTED_PROXIES reverse proxies, the address that the outermost of them saw (the
    N-th entry from the right of X-Forwarded-For); otherwise the peer's address.
    """
    proxies = settings.ANNOTATOR_TRUSTED_PROXIES
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")
