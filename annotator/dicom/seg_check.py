"""A written SEG checked before anyone is told it exists. Pure (temporary files only, for dciodvfy).

1. Read back: the bytes are parsed and opened by highdicom as a Segmentation, and every source
   frame's pixels are compared, segment by segment, with the masks that were meant to be written.
2. dciodvfy (dicom3tools), when installed: every "Error" line of the SEG that the source itself
   does not already give (a SEG copies the patient and study attributes, invalid values included)
   is a problem.
A SEG with any problem is not offered: the export lists the problems instead.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotator.dicom.logs import redact_dicom_logs, redacted

DCIODVFY_TIMEOUT_S = 60


@dataclass(frozen=True)
class ExpectedFrame:
    """What one source frame's slot of the SEG must hold: (rows, columns, segments) 0/1 pixels."""

    sop_instance_uid: str
    frame_number: int | None  # 1-based source frame of a multi-frame source; None for a single frame
    pixels: np.ndarray


def seg_problems(seg_bytes: bytes, *, expected: list[ExpectedFrame], source_bytes: bytes | None) -> list[str]:
    """Why this SEG must not be offered (empty when it may)."""
    problems = _read_back_problems(seg_bytes, expected)
    if shutil.which("dciodvfy"):
        inherited = set(_normalised(dciodvfy_errors(source_bytes))) if source_bytes is not None else set()
        problems += [
            f"dciodvfy: {_values_hidden(line)}"
            for line in dciodvfy_errors(seg_bytes)
            if _normalised([line])[0] not in inherited
        ]
    return problems


def _read_back_problems(seg_bytes: bytes, expected: list[ExpectedFrame]) -> list[str]:
    import highdicom as hd
    import pydicom

    redact_dicom_logs()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seg = hd.seg.Segmentation.from_dataset(pydicom.dcmread(io.BytesIO(seg_bytes)))
            segments = seg.get_segment_numbers()
            problems = []
            for frame in expected:
                if frame.frame_number is None:
                    pixels = seg.get_pixels_by_source_instance([frame.sop_instance_uid], segment_numbers=segments)
                else:
                    pixels = seg.get_pixels_by_source_frame(
                        frame.sop_instance_uid, source_frame_numbers=[frame.frame_number], segment_numbers=segments
                    )
                if pixels.shape[1:] != frame.pixels.shape or not np.array_equal(pixels[0] > 0, frame.pixels > 0):
                    where = f" frame {frame.frame_number}" if frame.frame_number is not None else ""
                    problems.append(f"read back, the SEG's pixels for instance {frame.sop_instance_uid}{where} differ")
            return problems
    except Exception as exc:
        return [f"the written SEG cannot be read back by highdicom ({type(exc).__name__}: {redacted(str(exc))})"]


def dciodvfy_errors(data: bytes | None) -> list[str]:
    """dciodvfy's "Error" lines for a Part 10 file (empty without dciodvfy or data)."""
    if data is None or not shutil.which("dciodvfy"):
        return []
    with tempfile.TemporaryDirectory(prefix="seg-check-") as folder:
        path = Path(folder) / "object.dcm"
        path.write_bytes(data)
        try:
            result = subprocess.run(
                ["dciodvfy", str(path)], capture_output=True, text=True, timeout=DCIODVFY_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            return [f"Error - dciodvfy did not finish within {DCIODVFY_TIMEOUT_S} s"]
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]


def _normalised(lines: list[str]) -> list[str]:
    # The module named differs between the source's IOD and the SEG's for one inherited attribute.
    return [re.sub(r"\s*Module=<[^>]*>", "", line).strip() for line in lines]


def _values_hidden(line: str) -> str:
    # dciodvfy quotes values ("... = <Doe^Jane>"); a problem report names attributes, never values.
    # Attribute and module names (Element=<...>, Module=<...>) have no space before the "=".
    return re.sub(r"(\s)=\s*<[^>]*>", r"\1= <value>", line)
