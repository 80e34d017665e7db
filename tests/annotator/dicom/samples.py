"""DICOM test files: real ones shipped in pydicom's wheel, generated ones, and ingest as an upload does it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file

from annotator.services.images import images_ingest


def shipped_bytes(name: str) -> bytes:
    return Path(get_testdata_file(name)).read_bytes()


def dataset_bytes(dataset: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ingest(project, *files: tuple[str, bytes]):
    report = images_ingest(project=project, files=[(name, io.BytesIO(data)) for name, data in files], user=None)
    return report


def shipped_path(name: str) -> Path:
    """A file of pydicom's wheel, read from disk (get_testdata_file would try to download unknown names)."""
    path = Path(pydicom.__file__).parent / "data" / "test_files" / name
    assert path.is_file(), f"{name} is not shipped in pydicom's wheel"
    return path


def generated_ct(
    hounsfield: np.ndarray,
    *,
    series_uid: str | None = None,
    instance_number: int = 1,
    frame_of_reference_uid: str | None = "1.2.826.0.1.3680043.8.498.1",
    study_uid: str = "1.2.826.0.1.3680043.8.498.2",
) -> bytes:
    """A CT slice built from scratch: signed 16-bit stored values (negative below -24 HU) with a modality
    rescale HU = 2 * stored - 24, a soft-tissue window (40/400), and the UIDs a SEG needs (frame of
    reference optional). Hounsfield values must be even (the slope is 2)."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    stored = ((np.asarray(hounsfield) + 24) // 2).astype(np.int16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid or generate_uid()
    if frame_of_reference_uid:
        ds.FrameOfReferenceUID = frame_of_reference_uid
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Test^Generated", "GEN-1", "", ""
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20260101", "120000", "1", ""
    ds.ReferringPhysicianName = ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, instance_number
    ds.Manufacturer = "test"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImagePositionPatient = [0.0, 0.0, float(instance_number)]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing, ds.SliceThickness = [0.5, 0.5], 1.0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -24, 2, "HU"
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.KVP, ds.AcquisitionNumber = 120, 1
    ds.PixelData = stored.tobytes()
    return dataset_bytes(ds)


def enhanced_ct(slices: list[bytes]) -> bytes:
    """Single-frame CT slices -> one Legacy Converted Enhanced CT multi-frame file (highdicom), whose
    rescale and window live in functional groups, as in enhanced CT/MR from scanners."""
    import highdicom as hd

    datasets = [pydicom.dcmread(io.BytesIO(data)) for data in slices]
    enhanced = hd.legacy.LegacyConvertedEnhancedCTImage(
        legacy_datasets=datasets,
        series_instance_uid=hd.UID(),
        series_number=2,
        sop_instance_uid=hd.UID(),
        instance_number=1,
    )
    return dataset_bytes(enhanced)


def manager_client(project):
    """An API client logged in as a new manager of the project."""
    from rest_framework.test import APIClient

    from annotator.models import Role
    from tests.factories import make_user

    manager = make_user()
    project.memberships.create(user=manager, role=Role.MANAGER)
    client = APIClient()
    client.force_authenticate(manager)
    return client
