"""Active labeling time per annotator, from the server's own record of when work was saved.

Each annotation is a work interval [created_at - time_spent_ms, created_at] (the page measures
time_spent_ms from the first action on the object — first click, vertex, brush stroke or box drag —
to its accept) and its last save (updated_at) a point. Per author the intervals are swept in time
order: overlapping work is counted once, a gap between consecutive intervals or saves of up to
IDLE_GAP_MS counts as active (moving on to the next object), a longer gap is idle — excluded from
the active time and reported (how many, how long). Throughput is objects per active hour.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from annotator.models import Annotation, Project

IDLE_GAP_MS = 60_000


def active_time_by_author(*, project: Project) -> dict[int, dict]:
    """{author_id: {"active_ms", "idle_gaps", "idle_ms"}} for every author of the project's annotations."""
    rows = (
        Annotation.objects.filter(image__project=project, author__isnull=False)
        .order_by()
        .values_list("author_id", "created_at", "updated_at", "time_spent_ms")
        .iterator(chunk_size=2000)
    )
    intervals: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for author_id, created_at, updated_at, time_spent_ms in rows:
        intervals[author_id].append((created_at - timedelta(milliseconds=time_spent_ms or 0), created_at))
        if updated_at > created_at:
            intervals[author_id].append((updated_at, updated_at))
    return {author_id: sweep(spans) for author_id, spans in intervals.items()}


def sweep(spans: list[tuple[datetime, datetime]], idle_gap_ms: int = IDLE_GAP_MS) -> dict:
    """Active and idle time of a set of (start, end) intervals; see the module docstring."""
    active = idle = 0.0
    gaps = 0
    end: datetime | None = None
    for start, stop in sorted(spans):
        if end is None:
            active += (stop - start).total_seconds() * 1000
            end = stop
            continue
        gap = (start - end).total_seconds() * 1000
        if gap > idle_gap_ms:
            idle += gap
            gaps += 1
        elif gap > 0:
            active += gap
        if stop > end:
            active += (stop - max(start, end)).total_seconds() * 1000
            end = stop
    return {"active_ms": round(active), "idle_gaps": gaps, "idle_ms": round(idle)}
