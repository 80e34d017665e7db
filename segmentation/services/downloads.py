"""Official SAM checkpoints: where each is published, its sha256, and a resumable, verified download.

Standard library only (urllib), no Django and no torch: `manage.py download_model` wires it to the
settings and the model registry, and the tests point it at a local HTTP server.

Neither Meta nor the MobileSAM authors publish a checksum next to their files. The sha256 values
below are those of the published files as recorded independently by several projects that pin them
(micro-sam, 3D Slicer's SegmentWithSAM, ...). The six hex digits in Meta's file names are the first
digits of the file's MD5 (not its sha256), so torch.hub's name-prefix check does not apply to them.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

META_BASE_URL = "https://dl.fbaipublicfiles.com/segment_anything"
MOBILE_SAM_URL = "https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/mobile_sam.pt"
CHUNK_BYTES = 1024 * 1024
USER_AGENT = "sam-annotator-download/1"
# Server answers worth trying again (the next attempt resumes from the .part file).
TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

Progress = Callable[[int, int | None], None]  # (bytes in the file so far, total bytes or None)


@dataclass(frozen=True)
class OfficialCheckpoint:
    architecture: str  # segmentation.models.Architecture value
    filename: str  # the published file name, kept on disk
    url: str  # where the authors publish it
    sha256: str
    size: int  # bytes


OFFICIAL_CHECKPOINTS: dict[str, OfficialCheckpoint] = {
    "vit_h": OfficialCheckpoint(
        "vit_h",
        "sam_vit_h_4b8939.pth",
        f"{META_BASE_URL}/sam_vit_h_4b8939.pth",
        "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
        2_564_550_879,
    ),
    "vit_l": OfficialCheckpoint(
        "vit_l",
        "sam_vit_l_0b3195.pth",
        f"{META_BASE_URL}/sam_vit_l_0b3195.pth",
        "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
        1_249_524_607,
    ),
    "vit_b": OfficialCheckpoint(
        "vit_b",
        "sam_vit_b_01ec64.pth",
        f"{META_BASE_URL}/sam_vit_b_01ec64.pth",
        "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
        375_042_383,
    ),
    "vit_t": OfficialCheckpoint(
        "vit_t",
        "mobile_sam.pt",
        MOBILE_SAM_URL,
        "6dbb90523a35330fedd7f1d3dfc66f995213d81b29a5ca8108dbcdd4e37d6c2f",
        40_728_226,
    ),
}


class DownloadError(Exception):
    """The file could not be fetched; a .part file left behind is resumed by the next run."""


class HashMismatchError(DownloadError):
    """The fetched bytes are not the published file; the .part file has been removed."""


class _Interrupted(Exception):
    """A network failure worth another attempt (the next one resumes where this one stopped)."""


def checkpoint_url(checkpoint: OfficialCheckpoint, *, base_url: str = "") -> str:
    """The checkpoint's official URL, or its published file name under a mirror's base URL."""
    return f"{base_url.rstrip('/')}/{checkpoint.filename}" if base_url else checkpoint.url


def partial_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def file_sha256(path: Path) -> str:
    return _hash_of_file(path).hexdigest()


def _hash_of_file(path: Path) -> hashlib._Hash:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(4 * CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest


def download(
    url: str,
    dest: str | Path,
    sha256: str,
    progress: Progress | None = None,
    *,
    size: int | None = None,
    attempts: int = 5,
    timeout: float = 60.0,
) -> Path:
    """Fetch url into dest through dest + ".part", resuming that file with an HTTP Range request when
    it exists (from a broken run, or after a dropped connection within this call), then check the
    sha256 (and the size when given) and move it into place. A file already at dest with this sha256
    is kept as is. Raises HashMismatchError (the .part removed) or DownloadError (the .part kept for
    the next run, unless the server announced a size other than the published one)."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise DownloadError(f"{url}: only http and https URLs are downloaded.")
    dest = Path(dest)
    expected = sha256.lower()
    if dest.exists():
        if file_sha256(dest) == expected:
            return dest
        raise DownloadError(f"{dest} exists but its sha256 is not {expected}: remove it or choose another folder.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = partial_path(dest)
    failures = 0
    while True:
        before = part.stat().st_size if part.exists() else 0
        try:
            digest = _fetch_into(url, part, progress, size=size, timeout=timeout)
            break
        except _Interrupted as exc:
            grew = part.exists() and part.stat().st_size > before
            failures = 0 if grew else failures + 1  # a link that keeps moving forward keeps going
            if failures >= attempts:
                raise DownloadError(
                    f"{url}: {exc} ({attempts} attempts in a row without progress); "
                    f"run the command again to resume from {part}."
                ) from exc
            if not grew:
                time.sleep(min(2.0**failures, 30.0))
    if digest != expected:
        part.unlink(missing_ok=True)
        raise HashMismatchError(
            f"{url} gave a file whose sha256 is {digest}, not the published {expected}: refused, partial file removed."
        )
    os.replace(part, dest)
    return dest


def _fetch_into(url: str, part: Path, progress: Progress | None, *, size: int | None, timeout: float) -> str:
    """One HTTP attempt: append to part from its current length; the sha256 hex of the whole file."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing after offset: the .part already holds the whole file
            return file_sha256(part)
        if exc.code in TRANSIENT_HTTP_STATUSES:
            raise _Interrupted(f"HTTP {exc.code} {exc.reason}") from exc
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _Interrupted(str(exc) or type(exc).__name__) from exc
    with response:
        if offset and response.status == 206:
            start = _content_range_start(response.headers.get("Content-Range", ""))
            if start != offset:
                raise DownloadError(f"{url}: asked for bytes from {offset}, the server sent from {start}.")
            digest, mode = _hash_of_file(part), "ab"
        else:  # a full answer (the server ignores Range, or this is the first attempt): start over
            offset, digest, mode = 0, hashlib.sha256(), "wb"
        length = _int_or_none(response.headers.get("Content-Length"))
        total = offset + length if length is not None else None
        if size is not None and total is not None and total != size:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{url} is {total} bytes, not the published {size}: not the official file.")
        received = _stream(response, part, mode, digest, progress, offset=offset, total=total)
    if length is not None and received < length:
        raise _Interrupted(f"connection closed after {offset + received} of {total} bytes")
    return digest.hexdigest()


def _stream(
    response: Any, part: Path, mode: str, digest: Any, progress: Progress | None, *, offset: int, total: int | None
) -> int:
    received = 0
    with open(part, mode) as handle:
        while True:
            try:
                chunk = response.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                # Python ≥ 3.12 raises IncompleteRead on a short body; 3.11 returns b"" (checked by the caller).
                handle.flush()
                raise _Interrupted(f"connection lost after {offset + received} bytes ({exc!r})") from exc
            if not chunk:
                return received
            handle.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            if progress is not None:
                progress(offset + received, total)


def _content_range_start(header: str) -> int | None:
    match = re.match(r"\s*bytes\s+(\d+)-", header)
    return int(match.group(1)) if match else None


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def progress_text(done: int, total: int | None, bytes_per_second: float) -> str:
    """'  12.5%  46.9 / 375.0 MB  31.2 MB/s' (no percentage when the server did not say the size)."""
    rate = f"{bytes_per_second / 1e6:.1f} MB/s"
    if not total:
        return f"{done / 1e6:.1f} MB  {rate}"
    return f"{100 * done / total:5.1f}%  {done / 1e6:.1f} / {total / 1e6:.1f} MB  {rate}"


class ProgressBar:
    """Download progress on a text stream: one line redrawn in place on a terminal (at most ten times a
    second), plain lines every 10% otherwise, so a log file gets about ten lines per download."""

    WIDTH = 30

    def __init__(self, write: Callable[[str], None], *, tty: bool, clock: Callable[[], float] = time.monotonic):
        self._write = write
        self._tty = tty
        self._clock = clock
        # (time, bytes) of the first report: bytes resumed from a .part file do not count in the speed.
        self._start: tuple[float, int] | None = None
        self._last_drawn = float("-inf")
        self._next_step = 0
        self._last: tuple[int, int | None] | None = None  # the latest report, and the one on screen
        self._drawn: tuple[int, int | None] | None = None

    def __call__(self, done: int, total: int | None) -> None:
        now = self._clock()
        if self._start is None:
            self._start = (now, done)
        self._last = (done, total)
        if self._tty:
            if now - self._last_drawn >= 0.1 or done == total:
                self._last_drawn = now
                self._drawn = self._last
                self._write("\r" + self._line(done, total, now))
            return
        step = (10 * done // total) if total else done // (50 * CHUNK_BYTES)
        if step >= self._next_step:
            self._next_step = step + 1
            self._write(self._line(done, total, now) + "\n")

    def finish(self) -> None:
        """End the redrawn line (a terminal) so later output starts on its own line."""
        if not self._tty or self._last is None:
            return
        if self._drawn == self._last:  # the line on screen is current: keep its speed as shown
            self._write("\n")
        else:
            done, total = self._last
            self._write("\r" + self._line(done, total, self._clock()) + "\n")

    def _line(self, done: int, total: int | None, now: float) -> str:
        started_at, started_with = self._start or (now, done)
        elapsed = now - started_at
        rate = (done - started_with) / elapsed if elapsed > 0 else 0.0
        text = progress_text(done, total, rate)
        if not (self._tty and total):
            return text
        filled = round(self.WIDTH * done / total)
        return f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {text}"
