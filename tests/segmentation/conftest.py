"""Fixtures of the engine tests: the registered default model (its decoder export is cached on
local disk under SEGMENTATION_CHECKPOINT_DIR, so only the first test of a run pays for it)."""
from __future__ import annotations

import pytest


@pytest.fixture
def default_model(db):
    from segmentation.services.models import default_sam_model

    return default_sam_model()
