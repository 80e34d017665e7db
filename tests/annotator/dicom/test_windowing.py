"""Windowing: the DICOM linear VOI function, CT presets, and a requested window overriding the file's."""

import io

import numpy as np
from PIL import Image as PILImage

from annotator.media import apply_window, decode_image, window_presets
from tests.annotator.dicom.samples import generated_ct


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
