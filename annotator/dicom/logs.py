"""Patient values kept out of logs: pydicom and highdicom log invalid values verbatim ("Invalid value
for VR DA: '19700402'"), and such a value may be a patient's name, ID or birth date."""

from __future__ import annotations

import logging
import re

# The loggers whose records get every quoted fragment redacted.
REDACTED_LOGGERS = ("pydicom", "highdicom")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


class _RedactValues(logging.Filter):
    """Every quoted fragment of a record's message becomes '<redacted>'."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "'" in message or '"' in message:
            record.msg, record.args = _QUOTED.sub("'<redacted>'", message), ()
        return True


_REDACTOR = _RedactValues()


def redact_dicom_logs() -> None:
    """Install the redacting filter on the DICOM libraries' loggers (idempotent; called before a
    file is read or written)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)
