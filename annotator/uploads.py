"""One uploaded file -> the files to ingest: the file itself, or each member of a zip archive, each
with its bytes or the reason it was refused before any decoding. Pure: no ORM, no storage; the size
limits come in as arguments (settings ANNOTATOR_MAX_UPLOAD_BYTES, ANNOTATOR_MAX_ZIP_UNCOMPRESSED_BYTES).

Nothing is extracted to disk; zip members are read into memory one at a time, as they are ingested.

A DICOMDIR (the index of a CD or USB export) is not an image: it is reported as skipped ("index
file"), never as a failure, and the images it lists are the files beside it, each ingested as itself.
In a zip, the skip line says whether every file the index lists is in the archive.
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from annotator.dicom.parse import dicomdir_listing
from annotator.media import SNIFF_BYTES, sniff_format

# Most members one zip archive may hold (a guard against archives of millions of empty entries).
MAX_ZIP_MEMBERS = 10_000
# Archive entries that are operating-system litter, skipped without a report line.
_IGNORED_ZIP_PARTS = ("__MACOSX",)
_IGNORED_ZIP_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class UploadCandidate:
    """One file to ingest: its name as reported, and its bytes, or the reason it was refused early,
    or the reason it is skipped (not an image and not a failure: a DICOMDIR index)."""

    name: str
    data: bytes | None = None
    refusal: str | None = None
    skipped: str | None = None


def upload_candidates(
    name: str, stream: IO[bytes], *, max_file_bytes: int, max_zip_bytes: int
) -> Iterator[UploadCandidate]:
    """One upload -> candidates: the file itself, or each member of a zip archive, named
    "<archive name>/<member path>". `max_file_bytes` bounds every file and member, `max_zip_bytes`
    the declared unpacked total of an archive."""
    size = _stream_size(stream)
    if size is not None and size > max_file_bytes:
        yield UploadCandidate(name, refusal=_too_large(size, max_file_bytes))
        return
    head = stream.read(SNIFF_BYTES)
    if sniff_format(head) != "ZIP":
        data = head + stream.read(max_file_bytes + 1 - len(head))
        if len(data) > max_file_bytes:
            yield UploadCandidate(name, refusal=_too_large(len(data), max_file_bytes))
            return
        listing = dicomdir_listing(data)
        if listing is not None:
            yield UploadCandidate(name, skipped=_index_note(listing, None))
        else:
            yield UploadCandidate(name, data=data)
        return
    archive_source: IO[bytes]
    if stream.seekable():
        stream.seek(0)
        archive_source = stream
    else:
        archive_source = io.BytesIO(head + stream.read(max_file_bytes + 1 - len(head)))
    yield from _zip_members(name, archive_source, max_file_bytes=max_file_bytes, max_zip_bytes=max_zip_bytes)


def _zip_members(
    archive_name: str, source: IO[bytes], *, max_file_bytes: int, max_zip_bytes: int
) -> Iterator[UploadCandidate]:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield UploadCandidate(archive_name, refusal=f"not a readable zip archive ({exc})")
        return
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            yield UploadCandidate(
                archive_name, refusal=f"zip archive has {len(members):,} entries, over the limit of {MAX_ZIP_MEMBERS:,}"
            )
            return
        # Declared sizes bound what zipfile will decompress (it stops at file_size), so summing them
        # refuses a zip bomb before any member is inflated.
        total = sum(member.file_size for member in members)
        if total > max_zip_bytes:
            yield UploadCandidate(
                archive_name,
                refusal=f"zip archive would expand to {total:,} bytes, over the limit of {max_zip_bytes:,} bytes",
            )
            return
        in_archive = {member.filename.replace("\\", "/").upper() for member in members if not member.is_dir()}
        for member in members:
            if member.is_dir() or _is_litter(member.filename):
                continue
            name = f"{archive_name}/{member.filename}"
            refusal = member_refusal(member, max_file_bytes=max_file_bytes)
            if refusal is not None:
                yield UploadCandidate(name, refusal=refusal)
                continue
            try:
                with archive.open(member) as member_stream:
                    data = member_stream.read(max_file_bytes + 1)
            except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, EOFError) as exc:
                # Bad CRC, unsupported compression, truncated archive, password needed, ...
                yield UploadCandidate(name, refusal=f"cannot be extracted from the zip archive ({exc})")
                continue
            if sniff_format(data[:SNIFF_BYTES]) == "ZIP":
                yield UploadCandidate(
                    name, refusal="zip archive inside a zip archive (not supported: upload it separately)"
                )
                continue
            listing = dicomdir_listing(data)
            if listing is not None:
                folder = member.filename.replace("\\", "/").rpartition("/")[0]
                prefix = f"{folder.upper()}/" if folder else ""
                present = {path[len(prefix) :] for path in in_archive if path.startswith(prefix)}
                yield UploadCandidate(name, skipped=_index_note(listing, present))
                continue
            yield UploadCandidate(name, data=data)


def _index_note(listing: list[str], present: set[str] | None) -> str:
    """The skip reason of a DICOMDIR; `present` is the archive's files relative to its folder (upper
    case, as DICOMDIR file IDs are), None for a file uploaded on its own."""
    note = f"index file (DICOMDIR listing {len(listing)} files, imported as files of their own)"
    if present is None:
        return note
    missing = [path for path in listing if path.upper() not in present]
    if missing:
        return f"{note}; {len(missing)} of them are not in the archive: {', '.join(missing[:3])}"
    return note


def member_refusal(member: zipfile.ZipInfo, *, max_file_bytes: int) -> str | None:
    """Why a zip member must not be used, or None. Nothing is extracted to disk, but a path that
    escapes the archive or a link is a sign of a hostile archive, and such names must never reach
    any code that might join them to a folder."""
    path = member.filename.replace("\\", "/")
    parts = path.split("/")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":") or ".." in parts:
        return "unsafe path in zip archive (absolute, or escapes the archive folder with ..)"
    if member.create_system == 3 and stat.S_ISLNK(member.external_attr >> 16):
        return "symbolic link in zip archive (not followed)"
    if member.flag_bits & 0x1:
        return "encrypted zip member (not supported)"
    if member.file_size > max_file_bytes:
        return _too_large(member.file_size, max_file_bytes)
    return None


def _is_litter(filename: str) -> bool:
    parts = filename.replace("\\", "/").split("/")
    base = parts[-1]
    return any(part in _IGNORED_ZIP_PARTS for part in parts) or base in _IGNORED_ZIP_NAMES or base.startswith("._")


def _stream_size(stream: IO[bytes]) -> int | None:
    """Size without reading: Django's UploadedFile has .size; seekable files can seek to the end."""
    size = getattr(stream, "size", None)
    if isinstance(size, int):
        return size
    if stream.seekable():
        position = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(position)
        return end - position
    return None


def _too_large(size: int, limit: int) -> str:
    return f"file is {size / 2**20:.1f} MiB, over the upload limit of {limit / 2**20:.1f} MiB"
