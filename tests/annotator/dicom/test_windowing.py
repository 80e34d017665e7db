"""Windowing: the DICOM linear VOI function, CT presets, a requested window overriding the file's, and
the file's own VOI LUT Function (SIGMOID) applied by pydicom."""

import io

import numpy as np
import pydicom
from PIL import Image as PILImage
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from annotator.dicom.window import apply_window, window_presets
from annotator.media import decode_image
from tests.annotator.dicom.samples import dataset_bytes, generated_ct


def test_apply_window_follows_the_dicom_linear_function():
    values = np.array([-161.0, -160.0, -159.0, 39.5, 239.0, 239.5, 1000.0])
    assert apply_window(values, center=40, width=400).tolist() == [0, 0, 1, 128, 255, 255, 255]
    assert apply_window(np.array([0.0, 9.0, 10.0]), center=10, width=1).tolist() == [0, 0, 255]


def test_ct_has_presets_and_other_modalities_none():
    presets = window_presets("CT")
    assert set(presets) == {"soft tissue", "lung", "bone", "brain"}
    assert presets["brain"] == (40.0, 80.0)
    assert window_presets("MR") == {}


def test_a_requested_window_replaces_the_file_window():
    data = generated_ct(np.tile(np.array([-1000, -600, 0, 40, 80], dtype=np.int32), (2, 1)))
    decoded = decode_image(data, name="ct.dcm", window=window_presets("CT")["brain"])
    assert decoded.metadata["window_source"] == "requested"
    row = np.asarray(PILImage.open(io.BytesIO(decoded.display)))[0, :, 0]
    # ((40 - 39.5) / 79 + 0.5) * 255 = 129.1 for the centre; 0 HU is below the 0..80 window.
    assert row.tolist() == [0, 0, 0, 129, 255]


def test_a_sigmoid_voi_lut_function_in_the_file_renders_through_pydicom():
    hounsfield = np.tile(np.arange(-400, 480, 8, dtype=np.int64), (4, 1))
    ds = pydicom.dcmread(io.BytesIO(generated_ct(hounsfield)))
    ds.VOILUTFunction = "SIGMOID"
    sigmoid = dataset_bytes(ds)

    decoded = decode_image(sigmoid, name="sigmoid.dcm")

    # pydicom maps onto the data set's output range (signed 16 bits after the rescale): scaled to 0..255.
    windowed = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)
    low, high = -(2**15) * 2 - 24, (2**15 - 1) * 2 - 24
    expected = np.rint((windowed - low) * (255.0 / (high - low)))
    shown = np.asarray(PILImage.open(io.BytesIO(decoded.display)).convert("L")).astype(np.float64)
    assert np.abs(shown - expected).max() <= 1
    assert decoded.metadata["window_source"] == "file"
    assert decoded.metadata["window"] == {"center": 40.0, "width": 400.0}
    linear = np.asarray(PILImage.open(io.BytesIO(decode_image(generated_ct(hounsfield), name="l.dcm").display)))
    assert np.abs(shown - linear[:, :, 0]).max() > 20  # the curve differs from the linear window
