"""Dataset formats: pure functions and streaming writers (no ORM, no torch).

Rows come in as plain dicts (as `QuerySet.values()` yields them), so the same writers serve the
Celery task, the management command and unit tests without a database.
"""
