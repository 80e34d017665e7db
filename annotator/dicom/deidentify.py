"""De-identification of uploaded DICOM files (a project setting, `Project.dicom_deidentify`).

Pure: bytes in, bytes out (pydicom only; no ORM, no storage; pydicom's own log lines have their
quoted values redacted, see annotator.dicom.logs).

Follows the DICOM PS3.15 Annex E **Basic Application Level Confidentiality Profile**: every attribute
of Table E.1-1 (`annotator.dicom.deid_profile.PROFILE`) gets its action code, at every level of the
data set, with these options:
- **Retain UIDs Option** (used): study, series, SOP instance, frame of reference and referenced UIDs
  (code U) are kept, so a DICOM SEG exported from the project still references the instances the
  user holds in their PACS.
- **Retain Safe Private Option** (not used): every private attribute is removed.
- Retain Longitudinal Temporal Information (not used): dates and times are removed or emptied, or
  replaced by dummies where the IOD requires a value, never shifted (a shift needs a per-patient
  secret; a removed date cannot leak).
The choice inside a combined code follows what the image IODs require, so the result stays valid
(dciodvfy adds no error to the source's): Z where the code allows it (the attribute stays, empty);
D (a dummy value) for the attributes that enhanced multi-frame IODs make Type 1 (`TYPE1_ENHANCED`);
else X. An X attribute that image IODs make Type 2 is emptied instead (`TYPE2_EMPTIED`). Beyond the profile, every other person name and date/time (VR PN, DA, DT, TM) is emptied,
or given a dummy where Type 1, so an attribute the table does not know cannot leak a name or a date.
Not done: pixel data is not scrubbed, so text burned into the pixels stays (see
annotator.dicom.burned_in, which flags or refuses such ultrasound and secondary-capture images).
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from annotator.dicom.deid_profile import PROFILE
from annotator.dicom.logs import redact_dicom_logs

# Version of the rules, written into DeidentificationMethod: bump it when they change.
DEID_VERSION = "3"
# (0012,0063) is LO: 64 characters at most; the options are in the code sequence.
DEIDENTIFICATION_METHOD = f"PS3.15 E.1-1 Basic Profile, Retain UIDs; SAM Annotator deid v{DEID_VERSION}"
METHOD_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113110", "Retain UIDs Option"),
)
# Type 1 in enhanced multi-frame IODs (Multi-frame Functional Groups, Enhanced General Equipment,
# Frame Content): given dummy values there where the profile allows D, instead of emptied or removed.
TYPE1_ENHANCED = frozenset(
    {
        "ContentDate",
        "ContentTime",
        "AcquisitionDateTime",
        "DeviceSerialNumber",
        "FrameAcquisitionDateTime",
        "FrameReferenceDateTime",
    }
)
# Type 2 in image IODs although the table says X: emptied (Z), which removes the content as well and
# keeps the file valid (the Acquisition Context Module of enhanced CT/MR, US, XA, ...).
TYPE2_EMPTIED = frozenset({"AcquisitionContextSequence"})
DUMMY_BY_VR = {
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "PN": "ANONYMOUS",
    "LO": "ANONYMOUS",
    "SH": "ANONYMOUS",
    "CS": "ANONYMOUS",
    "ST": "ANONYMOUS",
    "LT": "ANONYMOUS",
    "UT": "ANONYMOUS",
    "UC": "ANONYMOUS",
    "IS": "0",
    "DS": "0",
}
FILE_META_REMOVED = (
    "SourceApplicationEntityTitle",
    "SendingApplicationEntityTitle",
    "ReceivingApplicationEntityTitle",
    "PrivateInformationCreatorUID",
    "PrivateInformation",
)
# Value representations emptied wherever the table does not name the attribute.
_BLANKED_VRS = frozenset({"PN", "DA", "DT", "TM"})


class DeidentificationError(ValueError):
    """The file could not be parsed or written back; the upload is refused (nothing is stored)."""


def resolved_action(code: str, keyword: str, *, enhanced: bool) -> str:
    """The one action ("X", "Z", "D" or "K") taken for a profile code in this kind of data set."""
    if "U" in code:
        return "K"  # Retain UIDs Option (U, and X/Z/U* sequences: their items are cleaned)
    if code == "X" and keyword in TYPE2_EMPTIED:
        return "Z"
    if code in ("X", "Z", "D"):
        return code
    if "D" in code and enhanced and keyword in TYPE1_ENHANCED:
        return "D"
    return "Z" if "Z" in code else "X"


def deidentify(data: bytes) -> bytes:
    """The de-identified copy of a DICOM file (a Part 10 file, or a raw data set kept raw).

    The transfer syntax is kept and the pixel data is written back as read (encapsulated frames
    unchanged), so the pixels are exactly the original's.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.sequence import Sequence

    redact_dicom_logs()
    raw = data[128:132] != b"DICM"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data), force=raw)
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, OverflowError, OSError) as exc:
        raise DeidentificationError(f"cannot be read for de-identification ({type(exc).__name__})") from exc
    if "SOPClassUID" not in ds:
        raise DeidentificationError("cannot be read for de-identification (no SOP class: not a DICOM image data set)")

    enhanced = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
    ds.remove_private_tags()  # recursive (walks sequences): Retain Safe Private Option not used
    _apply_profile(ds, enhanced=enhanced)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEIDENTIFICATION_METHOD
    ds.DeidentificationMethodCodeSequence = Sequence([_code(value, meaning) for value, meaning in METHOD_CODES])
    ds.LongitudinalTemporalInformationModified = "REMOVED"
    meta = getattr(ds, "file_meta", None)
    for keyword in FILE_META_REMOVED:
        if meta is not None and keyword in meta:
            delattr(meta, keyword)
    out = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if raw:
                ds.preamble = None
                ds.save_as(out, enforce_file_format=False)
            else:
                ds.preamble = b"\x00" * 128  # the uploaded preamble is free-form: never copied
                ds.save_as(out, enforce_file_format=True)
    except Exception as exc:
        raise DeidentificationError(
            f"could not be written back after de-identification ({type(exc).__name__})"
        ) from exc
    return out.getvalue()


def _apply_profile(ds: Any, *, enhanced: bool) -> None:
    """Table E.1-1, overlay/curve removal and the PN/DA/DT/TM sweep, at this level and in every
    sequence item below it."""
    for tag in [tag for tag in ds.keys() if 0x5000 <= tag.group <= 0x50FF or 0x6000 <= tag.group <= 0x60FF]:  # noqa: SIM118 (a Dataset iterates elements, keys() gives tags)
        del ds[tag]
    for element in list(ds):  # iterating converts raw elements, so sequences are Datasets here
        keyword = element.keyword
        code = PROFILE.get(keyword)
        if code is not None:
            action = resolved_action(code, keyword, enhanced=enhanced)
        elif element.VR in _BLANKED_VRS:
            action = "D" if enhanced and keyword in TYPE1_ENHANCED else "Z"
        else:
            action = "K"
        if action == "X":
            del ds[element.tag]
        elif action == "Z":
            element.value = [] if element.VR == "SQ" else None
        elif action == "D" and element.VR != "SQ":
            element.value = DUMMY_BY_VR.get(element.VR)
        elif element.VR == "SQ" and element.value:
            # K or D of a sequence: the items stay, cleaned by the same rules.
            for item in element.value:
                _apply_profile(item, enhanced=enhanced)


def _code(value: str, meaning: str) -> Any:
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def actions_markdown() -> str:
    """The profile as docs/dicom.md shows it (a test keeps the two identical)."""
    from pydicom.datadict import tag_for_keyword

    lines = [
        "| attribute | tag | Table E.1-1 code | done here (other IODs / enhanced multi-frame) |",
        "|---|---|---|---|",
    ]
    for keyword, code in sorted(PROFILE.items()):
        tag = tag_for_keyword(keyword) or 0
        plain, enhanced = resolved_action(code, keyword, enhanced=False), resolved_action(code, keyword, enhanced=True)
        done = _ACTION_WORDS[plain] + (f" / {_ACTION_WORDS[enhanced]}" if enhanced != plain else "")
        lines.append(f"| `{keyword}` | ({tag >> 16:04X},{tag & 0xFFFF:04X}) | {code} | {done} |")
    return "\n".join(lines) + "\n"


_ACTION_WORDS = {"X": "removed", "Z": "emptied", "D": "dummy value", "K": "kept"}
