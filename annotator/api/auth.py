"""POST /api/auth/token/: DRF's token login, answering 429 with Retry-After while locked out.

django-axes refuses a locked-out account or address inside `authenticate()` and flags the request;
DRF wraps the request, so the flag lands on DRF's Request, where AxesMiddleware does not look. This
view reads it there and answers as the middleware would (annotator.login_throttle).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.api.errors import ErrorSerializer
from annotator.login_throttle import cool_off_seconds, locked_out_message


class TokenLoginView(ObtainAuthToken):
    @extend_schema(
        responses={
            200: ObtainAuthToken.serializer_class,
            429: OpenApiResponse(ErrorSerializer, description="Too many failed logins; see Retry-After"),
        }
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            if getattr(request, "axes_locked_out", False):
                return Response(
                    {"detail": locked_out_message()}, status=429, headers={"Retry-After": str(cool_off_seconds())}
                )
            raise
