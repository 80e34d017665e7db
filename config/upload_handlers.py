"""Uploads larger than FILE_UPLOAD_MAX_MEMORY_SIZE stream into files that have no name on disk.

Django's own TemporaryFileUploadHandler writes a named file and removes it when the request ends; a
process killed mid-upload (SIGKILL, OOM, a worker timeout) leaves it behind (issue 15 measured
508 MB after a SIGTERM during a zip upload). `tempfile.TemporaryFile` is unlinked as it is created
(O_TMPFILE on Linux), so the kernel frees it when its last descriptor closes, on every path: the
request ending, an exception, or the process dying. Nothing in the app needs a temporary file's
path (uploads are read as streams: annotator.uploads).
"""

from __future__ import annotations

import tempfile

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, TemporaryFileUploadHandler


class UnnamedTemporaryUploadedFile(UploadedFile):
    def __init__(self, name: str, content_type: str, size: int, charset: str | None, content_type_extra=None):
        file = tempfile.TemporaryFile(suffix=".upload", dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115 (closed with the upload)
        super().__init__(file, name, content_type, size, charset, content_type_extra)


class UnnamedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, *args, **kwargs) -> None:
        FileUploadHandler.new_file(self, *args, **kwargs)
        # Not a TemporaryUploadedFile (stubs type the attribute so): that class promises a path on disk,
        # which storages would try to move.
        self.file = UnnamedTemporaryUploadedFile(  # type: ignore[assignment]
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )

    def upload_interrupted(self) -> None:
        if hasattr(self, "file"):
            self.file.close()  # no name to remove: closing frees it
