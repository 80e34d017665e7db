"""evaluate_clicks runs the simulator through the exported ONNX decoder and prints the summary line."""

from io import StringIO

import pytest
import torch
from django.core.management import call_command

from segmentation.sam.default_arch import build_default_sam
from segmentation.training.make_eval_set import write_eval_set
from segmentation.training.train import save_checkpoint


@pytest.mark.slow
def test_evaluate_clicks_on_a_generated_folder(tmp_path):
    write_eval_set(seed=11, count=3, out=tmp_path / "set")
    torch.manual_seed(0)
    checkpoint = save_checkpoint(build_default_sam(), tmp_path)
    out = StringIO()
    call_command(
        "evaluate_clicks", str(tmp_path / "set"), "--checkpoint", str(checkpoint), "--max-clicks", "3", stdout=out
    )
    lines = out.getvalue().strip().splitlines()
    assert "3 objects" in lines[0]
    assert any(line.startswith("mIoU@3") for line in lines)
    last = lines[-1].split()
    assert last[0] == "NoC@90" and last[2] == "mIoU@1"
    assert 1.0 <= float(last[1]) <= 3.0 and 0.0 <= float(last[3]) <= 1.0
