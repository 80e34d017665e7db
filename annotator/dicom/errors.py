"""The one error of the DICOM package."""

from __future__ import annotations


class DicomError(Exception):
    """A DICOM file that cannot be used as an image; `reason` is shown to the person who uploaded it
    (annotator.media turns it into a MediaError with the same reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
