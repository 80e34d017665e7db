"""The project's own default SAM-compatible model: a small conv/attention image encoder in front of
segment_anything's unchanged PromptEncoder + MaskDecoder.

Why this shape:
- The encoder takes 512-px inputs (SamPredictor resizes the longest side to ``img_size``) and returns
  a 64x64 embedding (stride 8), the grid the official decoders use, so the decoder, its ONNX export and
  the browser code are the same as for the official checkpoints; masks come out at 256x256 low-res.
- 512-px input keeps a 1024-px image's encode well under 0.5 s on 2 CPU cores (see
  bench/default_encoder_speed.py), and makes GPU training 4x cheaper per image than 1024 px.
- Multi-scale (FPN-like) fusion of strides 4..32, with two global self-attention blocks at stride 32,
  gives every embedding cell both fine edges and whole-image context (SAM's ViT has global attention).

Only this module and the training code import torch; callers import it lazily.
"""

from __future__ import annotations

from pathlib import Path

import torch
from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer
from segment_anything.modeling.common import LayerNorm2d
from torch import nn
from torch.nn import functional as F

IMG_SIZE = 512  # longest side fed to the encoder
EMBED_DIM = 256  # channels of the image embedding (same as the official decoders)
EMBED_HW = 64  # embedding grid is EMBED_HW x EMBED_HW (stride 8)
STAGE_WIDTHS = (48, 96, 192, 320)  # channels at strides 4, 8, 16, 32
STAGE_DEPTHS = (1, 2, 4, 2)  # blocks per stage; the stride-32 blocks are attention blocks


class ConvBlock(nn.Module):
    """ConvNeXt-style residual block with BatchNorm (fuses at inference, cheap on CPU)."""

    def __init__(self, dim: int, kernel: int = 7, expand: int = 3) -> None:
        super().__init__()
        self.dw = nn.Conv2d(dim, dim, kernel, padding=kernel // 2, groups=dim, bias=False)
        self.norm = nn.BatchNorm2d(dim)
        self.pw1 = nn.Conv2d(dim, dim * expand, 1)
        self.act = nn.GELU()
        self.pw2 = nn.Conv2d(dim * expand, dim, 1)
        # Start each residual branch near zero so a deep stack trains stably from scratch.
        self.gamma = nn.Parameter(torch.full((1, dim, 1, 1), 1e-2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gamma * self.pw2(self.act(self.pw1(self.norm(self.dw(x)))))


class AttentionBlock(nn.Module):
    """Pre-norm transformer block over all cells of a (small) feature map: global context."""

    def __init__(self, dim: int, heads: int = 8, mlp_ratio: int = 3) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)  # (B, HW, C)
        n = self.norm1(t)
        t = t + self.attn(n, n, n, need_weights=False)[0]
        t = t + self.mlp(self.norm2(t))
        return t.transpose(1, 2).reshape(b, c, h, w)


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 2, stride=2))


class DefaultImageEncoder(nn.Module):
    """(B, 3, IMG_SIZE, IMG_SIZE) normalized pixels -> (B, EMBED_DIM, EMBED_HW, EMBED_HW)."""

    def __init__(self, img_size: int = IMG_SIZE, embed_dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.img_size = img_size  # read by SamPredictor / ResizeLongestSide / SamOnnxModel
        w1, w2, w3, w4 = STAGE_WIDTHS
        d1, d2, d3, d4 = STAGE_DEPTHS
        self.stem = nn.Sequential(
            nn.Conv2d(3, 24, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(24),
            nn.GELU(),
            nn.Conv2d(24, w1, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(w1),
            nn.GELU(),
        )
        self.stage1 = nn.Sequential(*[ConvBlock(w1) for _ in range(d1)])
        self.stage2 = nn.Sequential(_down(w1, w2), *[ConvBlock(w2) for _ in range(d2)])
        self.stage3 = nn.Sequential(_down(w2, w3), *[ConvBlock(w3) for _ in range(d3)])
        self.down4 = _down(w3, w4)
        self.stage4 = nn.Sequential(*[AttentionBlock(w4) for _ in range(d4)])
        # FPN-like fusion: every scale is projected to embed_dim and brought to the stride-8 grid.
        self.lat1 = nn.Conv2d(w1, embed_dim, 2, stride=2)  # stride 4 -> 8
        self.lat2 = nn.Conv2d(w2, embed_dim, 1)
        self.lat3 = nn.Conv2d(w3, embed_dim, 1)
        self.lat4 = nn.Conv2d(w4, embed_dim, 1)
        self.fuse = nn.Sequential(
            nn.BatchNorm2d(embed_dim),
            nn.Conv2d(embed_dim, embed_dim, 3, padding=1, groups=embed_dim),
            nn.Conv2d(embed_dim, embed_dim, 1),
            nn.GELU(),
            nn.Conv2d(embed_dim, embed_dim, 1),
            LayerNorm2d(embed_dim),  # like SAM's neck: a normalized embedding for the decoder
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.stage1(self.stem(x))
        f2 = self.stage2(f1)
        f3 = self.stage3(f2)
        f4 = self.stage4(self.down4(f3))
        size = f2.shape[-2:]
        fused = (
            self.lat1(f1)
            + self.lat2(f2)
            + F.interpolate(self.lat3(f3), size=size, mode="bilinear", align_corners=False)
            + F.interpolate(self.lat4(f4), size=size, mode="bilinear", align_corners=False)
        )
        return self.fuse(fused)


def build_default_sam(checkpoint: str | Path | None = None) -> Sam:
    """A real segment_anything Sam with the default encoder; loads `checkpoint` (a state dict of the
    whole Sam, fp16 or fp32, optionally wrapped as {"model": state_dict}) when given."""
    sam = Sam(
        image_encoder=DefaultImageEncoder(),
        prompt_encoder=PromptEncoder(
            embed_dim=EMBED_DIM,
            image_embedding_size=(EMBED_HW, EMBED_HW),
            input_image_size=(IMG_SIZE, IMG_SIZE),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=EMBED_DIM, mlp_dim=2048, num_heads=8),
            transformer_dim=EMBED_DIM,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
    )
    sam.eval()
    if checkpoint is not None:
        state = torch.load(Path(checkpoint), map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
            state = state["model"]
        sam.load_state_dict({k: v.float() for k, v in state.items()})
    return sam
