"""Patient values kept out of logs: pydicom and highdicom log invalid values verbatim ("Invalid value
for VR DA: '19700402'") and highdicom warns with person names ('The string "DOE" is unlikely to
represent the intended person name'); such a value may be a patient's name, ID or birth date."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# The loggers whose records get every quoted fragment redacted.
REDACTED_LOGGERS = ("pydicom", "highdicom")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
logger = logging.getLogger("annotator.dicom")


def redacted(message: str) -> str:
    """The message with every quoted fragment replaced by '<redacted>'."""
    return _QUOTED.sub("'<redacted>'", message)


class _RedactValues(logging.Filter):
    """Every quoted fragment of a record's message becomes '<redacted>'."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "'" in message or '"' in message:
            record.msg, record.args = redacted(message), ()
        return True


_REDACTOR = _RedactValues()


def redact_dicom_logs() -> None:
    """Install the redacting filter on the DICOM libraries' loggers (idempotent; called before a
    file is read or written)."""
    for name in REDACTED_LOGGERS:
        library_logger = logging.getLogger(name)
        if _REDACTOR not in library_logger.filters:
            library_logger.addFilter(_REDACTOR)


@contextmanager
def warnings_redacted() -> Iterator[None]:
    """Python warnings raised inside (highdicom's person-name warnings quote the name) are caught
    and logged once each, on logger "annotator.dicom", with their quoted values redacted: they never
    reach stderr or `py.warnings` with the value."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for message in {redacted(str(warning.message)) for warning in caught}:
        logger.warning("DICOM library warning: %s", message)
