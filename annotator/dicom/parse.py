"""Recognise and read DICOM data sets: Part 10 files, raw data sets written without the 128-byte
preamble and "DICM", and stored originals' headers. pydicom is imported where it is used: importing
it costs a quarter of a second that processes which never meet a DICOM file need not pay."""

from __future__ import annotations

import io
import warnings
from typing import IO, Any

from annotator.dicom.errors import DicomError
from annotator.dicom.logs import redact_dicom_logs

# Value representations of DICOM PS3.5 table 6.2-1, for recognising an explicit-VR element header.
_DICOM_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)


def looks_like_dicom(head: bytes) -> bool:
    """A DICOM file from its first 132 bytes: the "DICM" marker after the preamble, or a raw data set."""
    return head[128:132] == b"DICM" or _looks_like_raw_dicom(head)


def _looks_like_raw_dicom(head: bytes) -> bool:
    """A DICOM data set written without the 128-byte preamble and "DICM" (PS3.10 allows neither to be
    missing, but older modalities and PACS exports write bare data sets): the head must parse as a
    little-endian element of group 0x0008 (Identifying, where every image data set starts) or of the
    file meta group 0x0002, with an explicit VR or a plausible implicit-VR length. pydicom confirms
    it when reading (`force=True`); a wrong guess there is a clear "cannot be read" error."""
    if len(head) < 8 or head[:2] not in (b"\x08\x00", b"\x02\x00"):
        return False
    element = int.from_bytes(head[2:4], "little")
    if element > 0x00FF:
        return False  # a data set starts with a low-numbered element of its first group
    if head[4:6] in _DICOM_VRS:
        return True
    length = int.from_bytes(head[4:8], "little")
    return 0 < length < 1024  # implicit VR: a short value (a UID, a code string)


def read_dicom(data: bytes) -> Any:
    """The parsed data set of a DICOM file (DicomError when it is none). Decode its frames from this
    one data set, so a multi-frame file is read and parsed once, not once per frame."""
    try:
        return _read_dicom(data)
    except DicomError:
        raise
    except MemoryError as exc:
        raise DicomError("the image is too large to decode") from exc
    except Exception as exc:
        raise DicomError(f"cannot decode the DICOM image, it is corrupt or truncated ({exc})") from exc


def _read_dicom(data: bytes) -> Any:
    """Parse a file whose sniffed DICM marker (or raw data set head) may be a lie: a real DICOM file
    has a transfer syntax and an SOP class; anything else is refused before its "elements" are used.

    A raw data set (no preamble, no file meta) is read with `force=True`; pydicom finds its encoding
    from the first element, which becomes its transfer syntax (implicit or explicit VR little endian,
    the only encodings a data set without file meta can have: PS3.5 A.1)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    redact_dicom_logs()
    raw = data[128:132] != b"DICM"
    claim = "looks like a raw DICOM data set" if raw else "claims to be DICOM (DICM marker)"
    try:
        with warnings.catch_warnings():
            # Garbage after a DICM marker makes pydicom warn for every made-up element it reads.
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data), force=raw)
            if raw:
                _add_raw_file_meta(ds)
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, OverflowError) as exc:
        raise DicomError(f"{claim} but its data set cannot be read ({exc})") from exc
    transfer_syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if not transfer_syntax or "SOPClassUID" not in ds:
        raise DicomError(f"{claim} but is not: no transfer syntax or SOP class in it")
    return ds


def read_stored_dicom_header(stream: IO[bytes]) -> Any:
    """The data set of a DICOM original that ingest accepted, without its pixels (for exports).

    Raw data sets (no preamble) were accepted by content at upload, so they are read with force=True
    and given the file meta a Part 10 reader expects, as `read_dicom` does for the upload."""
    import pydicom

    redact_dicom_logs()
    head = stream.read(132)
    stream.seek(0)
    raw = head[128:132] != b"DICM"
    ds = pydicom.dcmread(stream, stop_before_pixels=True, force=raw)
    if raw:
        _add_raw_file_meta(ds)
    return ds


def _add_raw_file_meta(ds: Any) -> None:
    """Give a raw data set (no file meta) the transfer syntax pydicom detected from its first element
    (implicit or explicit VR little endian: the only encodings such a data set can have, PS3.5 A.1)."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    ds.ensure_file_meta()
    if not getattr(ds.file_meta, "TransferSyntaxUID", None):
        implicit = ds.original_encoding[0] if ds.original_encoding[0] is not None else True
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian


MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"  # the SOP class of a DICOMDIR (PS3.10 file-set index)


def dicomdir_listing(data: bytes) -> list[str] | None:
    """The files a DICOMDIR lists (paths relative to its folder, "/"-separated, upper case as
    written), or None when `data` is not a DICOMDIR. A DICOMDIR is an index of a file set (a CD or
    USB export), not an image; its images are files of their own beside it."""
    import pydicom

    if data[128:132] != b"DICM":
        return None
    if not _meta_names_directory(data):
        return None  # decided from the file meta's bytes: an image is not parsed a second time
    redact_dicom_logs()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data))
    except Exception:
        return None
    listed = []
    for record in ds.get("DirectoryRecordSequence") or []:
        file_id = record.get("ReferencedFileID")
        if file_id:
            parts = [file_id] if isinstance(file_id, str) else list(file_id)
            listed.append("/".join(str(part) for part in parts))
    return listed


def _meta_names_directory(data: bytes) -> bool:
    """Whether the file meta group (after "DICM": explicit VR little endian, its length first in
    (0002,0000)) holds the Media Storage Directory SOP class UID."""
    if data[132:136] != b"\x02\x00\x00\x00" or data[136:138] != b"UL":
        return b"1.2.840.10008.1.3.10" in data[132:2048]  # no group length: look near the start
    length = int.from_bytes(data[140:144], "little")
    return MEDIA_STORAGE_DIRECTORY.encode() in data[144 : 144 + min(length, 65536)]
