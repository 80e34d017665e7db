"""DICOM as pure functions: no ORM, no storage, no settings read here (limits come in as arguments).

- `parse`: sniff and read data sets (Part 10 files, raw data sets without a preamble, stored headers).
- `decode`: one frame's stored pixels, after the pixel-data checks, and the frame's metadata.
- `window`: window choices and presets, the linear window of a project, the file's own VOI
  (pydicom's `apply_windowing` / `apply_voi_lut`).
- `render`: one frame -> 8-bit display pixels (modality LUT, VOI, MONOCHROME1, colour, palette).
- `deidentify`: the de-identified copy of an upload. `seg`: DICOM SEG objects from masks.
- `logs`: patient values redacted from pydicom's and highdicom's log records.

`annotator.media` dispatches DICOM files here and turns `DicomError` into its `MediaError`.
"""
