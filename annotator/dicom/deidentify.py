"""De-identification of uploaded DICOM files (a project setting, `Project.dicom_deidentify`).

Pure: bytes in, bytes out (pydicom only; no ORM, no storage; pydicom's own log lines have their
quoted values redacted, see annotator.dicom.logs). `ACTIONS` is the
one list of what is done; docs/dicom.md renders it, and the tests check every entry on a stored file.

Follows the spirit of the DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile with
the **Retain UIDs Option**: study, series, SOP instance and frame of reference UIDs are kept, so a
DICOM SEG exported from the project still references the instances the user holds in their PACS
(remapping them would sever that link; the UIDs themselves carry no patient data when the modality
generated them properly, which is the premise of that option). Dates and times are removed (blanked
where the attribute is type 2 in the image IODs, so the file stays valid), not shifted: a shift would
need a per-patient secret kept somewhere, and a removed date cannot leak. Every private element is
removed (they often hold names and IDs), as are overlays and curves (burned-in text lives there).
Besides the named attributes, every person name (PN) and every date/time (DA, DT, TM) left anywhere
is blanked, so an attribute the list does not know cannot leak a name or a date; the preamble is
written as zeros.
Not done: pixel data is not scrubbed, so text burned into the pixels (BurnedInAnnotation = YES,
common in ultrasound and secondary captures) stays; such files should not be uploaded to a project
that relies on de-identification.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from annotator.dicom.logs import redact_dicom_logs

# Version of the action list, written into DeidentificationMethod: bump it when ACTIONS change.
DEID_VERSION = "2"
DEIDENTIFICATION_METHOD = (
    f"SAM Annotator dicom_deid v{DEID_VERSION}: PS3.15 Basic Profile, Retain UIDs Option, dates removed"
)


@dataclass(frozen=True)
class Action:
    keyword: str  # pydicom keyword of the attribute
    action: str  # "blank" (kept, zero length: type 2 attributes) or "remove"
    why: str


def _blank(keyword: str, why: str) -> Action:
    return Action(keyword, "blank", why)


def _remove(keyword: str, why: str) -> Action:
    return Action(keyword, "remove", why)


# Applied at every level of the data set, inside sequences too.
ACTIONS: tuple[Action, ...] = (
    # Patient identity.
    _blank("PatientName", "patient's name"),
    _blank("PatientID", "patient's ID"),
    _blank("PatientBirthDate", "birth date"),
    _remove("PatientBirthTime", "birth time"),
    _remove("IssuerOfPatientID", "who issued the patient ID"),
    _remove("OtherPatientIDs", "other patient IDs"),
    _remove("OtherPatientIDsSequence", "other patient IDs"),
    _remove("OtherPatientNames", "other names"),
    _remove("PatientBirthName", "birth name"),
    _remove("PatientMotherBirthName", "mother's birth name"),
    _remove("PatientAddress", "address"),
    _remove("PatientTelephoneNumbers", "telephone numbers"),
    _remove("CountryOfResidence", "country of residence"),
    _remove("RegionOfResidence", "region of residence"),
    _remove("MedicalRecordLocator", "medical record locator"),
    _remove("PatientInsurancePlanCodeSequence", "insurance plan"),
    _remove("MilitaryRank", "military rank"),
    _remove("BranchOfService", "branch of service"),
    _remove("PatientReligiousPreference", "religion"),
    _remove("EthnicGroup", "ethnic group"),
    _remove("Occupation", "occupation"),
    _remove("ResponsiblePerson", "responsible person"),
    _remove("ResponsibleOrganization", "responsible organisation"),
    _remove("PatientComments", "free-text comments about the patient"),
    _remove("AdditionalPatientHistory", "free-text history"),
    _remove("PatientState", "patient state"),
    _remove("PatientInstitutionResidence", "institution where the patient resides"),
    _remove("ScheduledPatientInstitutionResidence", "scheduled institution of residence"),
    _remove("CurrentPatientLocation", "patient's current location"),
    _remove("MedicalAlerts", "medical alerts (free text)"),
    _remove("Allergies", "allergies (free text)"),
    _remove("SpecialNeeds", "special needs (free text)"),
    _remove("PatientTransportArrangements", "transport arrangements (free text)"),
    # Patient characteristics (the Basic Profile removes them; Retain Patient Characteristics is not used).
    _remove("PatientAge", "age"),
    _blank("PatientSex", "sex"),
    _remove("PatientSize", "height"),
    _remove("PatientWeight", "weight"),
    _remove("AdmittingDiagnosesDescription", "diagnoses"),
    _remove("AdmittingDiagnosesCodeSequence", "diagnoses (coded)"),
    _remove("SmokingStatus", "smoking status"),
    _remove("PregnancyStatus", "pregnancy status"),
    # Visit, order and study identifiers.
    _blank("AccessionNumber", "accession number"),
    _blank("StudyID", "study ID"),
    _remove("RequestAttributesSequence", "order details"),
    _remove("RequestedProcedureID", "requested procedure ID"),
    _remove("PerformedProcedureStepID", "procedure step ID"),
    _remove("PerformedProcedureStepDescription", "procedure step description"),
    _remove("ReferencedPatientSequence", "reference to a patient record"),
    _remove("ReferencedStudySequence", "reference to a study record"),
    _remove("StudyDescription", "study description (free text)"),
    _remove("SeriesDescription", "series description (free text)"),
    _remove("ProtocolName", "protocol name (free text)"),
    _remove("ImageComments", "image comments (free text)"),
    _remove("DerivationDescription", "derivation description (free text)"),
    _remove("AdmissionID", "admission ID"),
    _remove("IssuerOfAdmissionIDSequence", "who issued the admission ID"),
    _remove("ServiceEpisodeID", "service episode ID"),
    _remove("ServiceEpisodeDescription", "service episode description (free text)"),
    _remove("VisitComments", "visit comments (free text)"),
    _remove("ReasonForStudy", "reason for the study (free text)"),
    _remove("RequestedProcedureDescription", "requested procedure (free text)"),
    _remove("RequestedProcedureComments", "requested procedure comments (free text)"),
    _remove("RequestedProcedureLocation", "requested procedure location"),
    _remove("ReasonForTheRequestedProcedure", "reason for the procedure (free text)"),
    _remove("RequestedContrastAgent", "requested contrast agent (free text)"),
    _remove("RequestingService", "requesting service"),
    _remove("PlacerOrderNumberImagingServiceRequest", "placer order number"),
    _remove("FillerOrderNumberImagingServiceRequest", "filler order number"),
    _remove("ImagingServiceRequestComments", "order comments (free text)"),
    _remove("OrderEntererLocation", "order enterer's location"),
    _remove("OrderCallbackPhoneNumber", "order callback telephone"),
    _remove("ScheduledProcedureStepDescription", "scheduled step description (free text)"),
    _remove("ScheduledStationName", "scheduled station name"),
    _remove("ScheduledProcedureStepLocation", "scheduled step location"),
    _remove("CommentsOnThePerformedProcedureStep", "procedure step comments (free text)"),
    _remove("TextComments", "text comments (free text)"),
    # Institution, staff and device.
    _remove("InstitutionName", "institution"),
    _remove("InstitutionAddress", "institution address"),
    _remove("InstitutionalDepartmentName", "department"),
    _remove("StationName", "station name"),
    _remove("InstitutionCodeSequence", "institution (coded)"),
    _remove("DeviceSerialNumber", "device serial number"),
    _remove("PerformedStationName", "performed station name"),
    _remove("PerformedStationAETitle", "performed station AE title"),
    _remove("PerformedLocation", "performed location"),
    _blank("ReferringPhysicianName", "referring physician"),
    _remove("ReferringPhysicianAddress", "referring physician's address"),
    _remove("ReferringPhysicianTelephoneNumbers", "referring physician's telephone"),
    _remove("PhysiciansOfRecord", "physicians of record"),
    _remove("PerformingPhysicianName", "performing physician"),
    _remove("NameOfPhysiciansReadingStudy", "reading physicians"),
    _remove("RequestingPhysician", "requesting physician"),
    _remove("OperatorsName", "operators"),
    _remove("ScheduledPerformingPhysicianName", "scheduled physician"),
    _remove("ReferringPhysicianIdentificationSequence", "referring physician (coded)"),
    _remove("PhysiciansOfRecordIdentificationSequence", "physicians of record (coded)"),
    _remove("PerformingPhysicianIdentificationSequence", "performing physician (coded)"),
    _remove("PhysiciansReadingStudyIdentificationSequence", "reading physicians (coded)"),
    _remove("OperatorIdentificationSequence", "operators (coded, with their institution)"),
    _remove("ContentCreatorName", "content creator"),
    _remove("ContentCreatorIdentificationCodeSequence", "content creator (coded)"),
    _remove("VerifyingObserverName", "verifying observer"),
    _remove("VerifyingObserverIdentificationCodeSequence", "verifying observer (coded)"),
    # Dates and times (removed, not shifted: module docstring).
    _blank("StudyDate", "study date"),
    _blank("StudyTime", "study time"),
    _remove("SeriesDate", "series date"),
    _remove("SeriesTime", "series time"),
    _remove("AcquisitionDate", "acquisition date"),
    _remove("AcquisitionTime", "acquisition time"),
    _remove("AcquisitionDateTime", "acquisition date and time"),
    _blank("ContentDate", "content date"),
    _blank("ContentTime", "content time"),
    _remove("InstanceCreationDate", "instance creation date"),
    _remove("InstanceCreationTime", "instance creation time"),
    _remove("PerformedProcedureStepStartDate", "procedure step start date"),
    _remove("PerformedProcedureStepStartTime", "procedure step start time"),
    _remove("PerformedProcedureStepEndDate", "procedure step end date"),
    _remove("PerformedProcedureStepEndTime", "procedure step end time"),
    _remove("OverlayDate", "overlay date"),
    _remove("OverlayTime", "overlay time"),
    _remove("CurveDate", "curve date"),
    _remove("CurveTime", "curve time"),
    _remove("TimezoneOffsetFromUTC", "time zone"),
)
# Whole groups and element classes removed besides the list above (rendered by docs/dicom.md too).
OTHER_REMOVALS: tuple[str, ...] = (
    "every private element (odd groups), at every level",
    "every other person name (VR PN) and every other date, date-time and time (VR DA, DT, TM), at "
    "every level, whatever its attribute (a name or date the list above does not know): blanked",
    "the 128-byte preamble (free-form, may hold anything): written as zeros",
    "overlays (groups 6000-60FF: overlay data can hold burned-in text) and curves (groups 5000-50FF)",
    "file meta: Source Application Entity Title (the sending station)",
)
# What is added.
ADDED: tuple[str, ...] = (
    "Patient Identity Removed (0012,0062) = YES",
    f'De-identification Method (0012,0063) = "{DEIDENTIFICATION_METHOD}"',
    "De-identification Method Code Sequence (0012,0064): DCM 113100 Basic Application Confidentiality "
    "Profile, DCM 113110 Retain UIDs Option",
    "Longitudinal Temporal Information Modified (0028,0303) = REMOVED",
)
KEPT: tuple[str, ...] = (
    "all UIDs (study, series, SOP instance, frame of reference, referenced SOPs): Retain UIDs Option",
    "pixel data, byte for byte, and every attribute needed to render it (rescale, window, VOI LUT, spacing)",
    "modality, body part, image type, acquisition parameters",
)


# Value representations blanked wherever they occur (person names, dates, date-times, times).
_BLANKED_VRS = frozenset({"PN", "DA", "DT", "TM"})


class DeidentificationError(ValueError):
    """The file could not be parsed or written back; the upload is refused (nothing is stored)."""


def deidentify(data: bytes) -> bytes:
    """The de-identified copy of a DICOM file (a Part 10 file, or a raw data set kept raw).

    The transfer syntax is kept and the pixel data is written back as read (encapsulated frames
    unchanged), so the pixels are exactly the original's.
    """
    import pydicom
    from pydicom.dataset import Dataset
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

    ds.remove_private_tags()  # recursive (walks sequences)
    _apply_actions(ds)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEIDENTIFICATION_METHOD
    ds.DeidentificationMethodCodeSequence = Sequence(
        [
            _code("113100", "Basic Application Confidentiality Profile"),
            _code("113110", "Retain UIDs Option"),
        ]
    )
    ds.LongitudinalTemporalInformationModified = "REMOVED"
    meta: Dataset | None = getattr(ds, "file_meta", None)
    if meta is not None and "SourceApplicationEntityTitle" in meta:
        del meta.SourceApplicationEntityTitle
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


def _apply_actions(ds: Any) -> None:
    """ACTIONS, overlay/curve removal, at this level and in every sequence item below it."""
    for action in ACTIONS:
        if action.keyword not in ds:
            continue
        if action.action == "remove":
            delattr(ds, action.keyword)
        else:
            ds[action.keyword].value = None if ds[action.keyword].VR != "SQ" else []
    for tag in [tag for tag in ds.keys() if 0x5000 <= tag.group <= 0x50FF or 0x6000 <= tag.group <= 0x60FF]:  # noqa: SIM118 (a Dataset iterates elements, keys() gives tags)
        del ds[tag]
    for element in list(ds):  # iterating converts raw elements, so sequences are Datasets here
        if element.VR in _BLANKED_VRS:
            element.value = None  # any person name, date or time the list does not name (OTHER_REMOVALS)
        elif element.VR == "SQ" and element.value:
            for item in element.value:
                _apply_actions(item)


def _code(value: str, meaning: str) -> Any:
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def actions_markdown() -> str:
    """The action list as docs/dicom.md shows it (a test keeps the two identical)."""
    lines = [
        "Removed or blanked, at every level of the data set (blanked = kept with an empty value,",
        "where the image IODs require the attribute):",
        "",
    ]
    for action in ACTIONS:
        lines.append(f"- `{action.keyword}` ({action.why}): {'blanked' if action.action == 'blank' else 'removed'}")
    lines += ["", "Also removed:", ""] + [f"- {item}" for item in OTHER_REMOVALS]
    lines += ["", "Added:", ""] + [f"- {item}" for item in ADDED]
    lines += ["", "Kept:", ""] + [f"- {item}" for item in KEPT]
    return "\n".join(lines) + "\n"
