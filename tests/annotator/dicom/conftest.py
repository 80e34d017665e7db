"""Ingest in these tests requests embeddings for real: a default model row must exist."""

import pytest

from segmentation.models import SamModel


@pytest.fixture(autouse=True)
def default_model(db):
    """A registered default model row, so ingest requests embeddings for real without a checkpoint."""
    return SamModel.objects.create(
        name="test default",
        architecture="default",
        checkpoint_path="/nonexistent/test.pt",
        checkpoint_sha256="d" * 64,
        encoder_input_size=256,
        embedding_shape=[128, 32, 32],
        is_default=True,
    )
