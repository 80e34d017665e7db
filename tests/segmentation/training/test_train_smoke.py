"""A short CPU training run: the loss goes down, and the CLI writes a checkpoint, a log and metrics."""

import json

import numpy as np
import pytest
import torch

from segmentation.sam.default_arch import build_default_sam
from segmentation.training.data import make_sample
from segmentation.training.train import main, parse_args, train_step


def _batch(seed: int, images: int, targets: int) -> dict:
    rng = np.random.default_rng(seed)
    samples = [make_sample(rng, 512, targets) for _ in range(images)]
    return {k: torch.as_tensor(np.stack([s[k] for s in samples])) for k in samples[0]}


@pytest.mark.slow
def test_loss_goes_down_on_a_fixed_batch():
    torch.manual_seed(0)
    np.random.seed(0)
    sam = build_default_sam().train()
    args = parse_args(["--out", "unused", "--rounds", "2", "--grad-rounds", "2"])
    opt = torch.optim.AdamW(sam.parameters(), lr=1e-3)
    batch = _batch(0, images=1, targets=2)
    losses = []
    for _ in range(5):
        stats = train_step(sam, batch, args, torch.device("cpu"), None)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(stats["loss"])
    assert all(np.isfinite(losses))
    assert np.mean(losses[-2:]) < 0.8 * losses[0], losses


@pytest.mark.slow
def test_cli_saves_checkpoint_log_and_metrics(tmp_path, capsys):
    result = main(
        [
            "--device",
            "cpu",
            "--minutes",
            "0.02",
            "--out",
            str(tmp_path),
            "--batch",
            "1",
            "--targets",
            "2",
            "--rounds",
            "3",
            "--workers",
            "0",
            "--eval-objects",
            "2",
            "--eval-clicks",
            "2",
        ]
    )
    assert result["steps"] >= 1
    log = json.loads((tmp_path / "train_log.json").read_text())
    assert log["done"] and "mIoU@1" in log["eval"] and "NoC@90" in log["eval"]
    build_default_sam(tmp_path / "default_sam.pt")  # the saved file loads
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-2].startswith("NoC@90 ")


@pytest.mark.slow
def test_profiling_prints_the_operators_and_leaves_the_weights_as_they_were(capsys):
    from segmentation.training.train import profile_steps

    torch.manual_seed(0)
    sam = build_default_sam().train()
    args = parse_args(
        [
            "--out",
            "unused",
            "--rounds",
            "2",
            "--grad-rounds",
            "2",
            "--batch",
            "1",
            "--targets",
            "1",
            "--profile-steps",
            "1",
        ]
    )
    opt = torch.optim.AdamW(sam.parameters(), lr=1e-3)
    before = {k: v.clone() for k, v in sam.state_dict().items()}
    profile_steps(sam, opt, _batch(1, images=1, targets=1), args, torch.device("cpu"), None)
    out = capsys.readouterr().out
    assert "[profile]" in out and "ms per step" in out and "aten::" in out
    assert all(torch.equal(before[k], v) for k, v in sam.state_dict().items())
    assert not opt.state  # the optimizer's moments are back to none
