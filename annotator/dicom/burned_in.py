"""Burned-in annotation: ultrasound and secondary captures often carry text (names, IDs, dates) in
their pixels, which de-identification does not scrub. Such an image is one whose SOP class is US or
secondary capture (or whose modality is US) and whose Burned In Annotation (0028,0301) is not "NO"
(YES, or absent: unknown). A project flags or refuses them (Project.dicom_burned_in). Other
modalities are not checked: their Burned In Annotation is rarely set and text in their pixels is
rarer; that limit is documented in docs/dicom.md. Pure."""

from __future__ import annotations

from typing import Any

_US_AND_SC_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
        "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image
        "1.2.840.10008.5.1.4.1.1.6.2",  # Enhanced US Volume
        "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image
        "1.2.840.10008.5.1.4.1.1.7.1",  # Multi-frame Single Bit SC
        "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte SC
        "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word SC
        "1.2.840.10008.5.1.4.1.1.7.4",  # Multi-frame True Color SC
    }
)
BURNED_IN_CHOICES = ("flag", "refuse")


def burned_in_risk(metadata: dict[str, Any]) -> str | None:
    """Why this image may carry text in its pixels (from frame_metadata), or None."""
    us_or_sc = metadata.get("sop_class_uid") in _US_AND_SC_CLASSES or metadata.get("modality") == "US"
    value = str(metadata.get("burned_in_annotation") or "").strip().upper()
    if not us_or_sc or value == "NO":
        return None
    kind = (
        "ultrasound"
        if metadata.get("modality") == "US" or ".6." in str(metadata.get("sop_class_uid"))
        else "secondary capture"
    )
    state = value or "absent"
    return f"{kind} image whose Burned In Annotation is {state}: text in its pixels is not removed"
