"""API errors are always JSON: {"detail": ..., plus fields}; 409 conflicts carry the current version."""
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    return drf_exception_handler(exc, context)
