"""VOI LUT Sequence (non-linear window) applied by pydicom's apply_voi_lut, and DICOM data sets
written without the 128-byte preamble and "DICM" detected by content."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from PIL import Image as PILImage

from annotator.media import MediaError, decode_image, sniff_format
from tests.annotator.dicom.samples import generated_ct, ingest, shipped_path
from tests.factories import make_project

HU = np.arange(-256, 256, 2, dtype=np.int64).reshape(16, 16)  # even values (the generated CT's slope is 2)
LUT_FIRST, LUT_BITS = -128, 12
# A gamma curve over HU -128..127: not expressible as a linear window.
LUT = np.rint((np.arange(256) / 255.0) ** 2 * (2**LUT_BITS - 1)).astype(np.uint16)


def ct_with_voi_lut() -> bytes:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = pydicom.dcmread(io.BytesIO(generated_ct(HU)))
    item = Dataset()
    item.LUTDescriptor = [len(LUT), LUT_FIRST, LUT_BITS]
    item["LUTDescriptor"].VR = "SS"  # signed first-mapped value (pixel representation 1)
    item.LUTData = LUT.tolist()
    item["LUTData"].VR = "US"
    item.LUTExplanation = "gamma 2"
    ds.VOILUTSequence = Sequence([item])
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def grey(decoded) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(decoded.display)).convert("L"))


def test_voi_lut_sequence_is_applied_instead_of_the_linear_window():
    decoded = decode_image(ct_with_voi_lut(), name="lut.dcm")

    indices = np.clip(HU - LUT_FIRST, 0, len(LUT) - 1)
    expected = np.rint(LUT[indices] * (255.0 / (2**LUT_BITS - 1))).astype(np.uint8)
    np.testing.assert_array_equal(grey(decoded), expected)
    assert decoded.metadata["window_source"] == "file-voi-lut"
    assert decoded.metadata["file_window"] == {"center": 40.0, "width": 400.0}
    linear = decode_image(generated_ct(HU), name="linear.dcm")  # same pixels, only the 40/400 window
    assert linear.metadata["window_source"] == "file"
    assert np.abs(grey(linear).astype(int) - expected.astype(int)).max() > 20


def test_a_requested_window_replaces_the_voi_lut():
    decoded = decode_image(ct_with_voi_lut(), name="lut.dcm", window=(0.0, 512.0))
    assert decoded.metadata["window_source"] == "requested"
    assert decoded.metadata["window"] == {"center": 0.0, "width": 512.0}
    assert grey(decoded)[0, 0] == 0 and grey(decoded)[-1, -1] == 255


def raw_data_set(name: str, *, implicit: bool) -> bytes:
    ds = pydicom.dcmread(shipped_path(name))
    del ds.file_meta
    ds.preamble = None
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, implicit_vr=implicit, little_endian=True, enforce_file_format=False)
    data = buffer.getvalue()
    assert data[128:132] != b"DICM" and data[:2] == b"\x08\x00"
    return data


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit-vr", "explicit-vr"])
def test_data_set_without_preamble_is_sniffed_and_decoded_like_the_part10_file(implicit):
    raw = raw_data_set("CT_small.dcm", implicit=implicit)
    assert sniff_format(raw[:132]) == "DICOM"

    decoded = decode_image(raw, name="no-preamble")
    reference = decode_image(shipped_path("CT_small.dcm").read_bytes(), name="CT_small.dcm")

    np.testing.assert_array_equal(grey(decoded), grey(reference))
    assert decoded.metadata["transfer_syntax"] == ("1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1")
    assert decoded.metadata["sop_instance_uid"] == reference.metadata["sop_instance_uid"]


@pytest.mark.django_db
def test_data_set_without_preamble_uploads_and_is_stored_untouched():
    raw = raw_data_set("MR_small.dcm", implicit=True)
    report = ingest(make_project(), ("IM0001", raw))
    assert report.rejected == []
    image = report.accepted[0]
    assert image.format == "DICOM" and image.file.name.endswith(".dcm")
    assert image.file.open("rb").read() == raw


def test_other_content_is_not_taken_for_a_raw_data_set():
    for head in (
        b"\x08\x00\x05\x01CS\n\x00",
        b"\x08\x00\x05\x00\x00\x00\x10\x00",
        b"\x10\x00\x10\x00PN\x04\x00",
        b"plain text file",
        b"\x08\x00",
    ):
        assert sniff_format(head.ljust(132, b"\x00") if len(head) > 2 else head) is None, head
    with pytest.raises(MediaError, match="raw DICOM data set"):
        decode_image(b"\x08\x00\x16\x00UI\x04\x00abcd" + b"\xff" * 200, name="bogus")
