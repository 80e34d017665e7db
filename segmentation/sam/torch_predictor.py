"""A batched PyTorch ClickPredictor with exactly the exported decoder's semantics (no Django).

It runs segment_anything's SamOnnxModel (the module the ONNX export traces) eagerly: same point
encoding (padding point, labels), same previous-mask feedback, same single-mask choice (best
predicted IoU among the 3 multimask outputs for one click, the single-output token afterwards), same
upscaling. Objects of one image share one embedding forward and one decoder call per click round.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch

from segmentation.evaluation.clicks import Click, EvalObject


class TorchClickPredictor:
    def __init__(self, sam, objects: Sequence[EvalObject], images: dict[str, np.ndarray], device: torch.device) -> None:
        from segment_anything.utils.onnx import SamOnnxModel
        from segment_anything.utils.transforms import ResizeLongestSide

        self.sam, self.objects, self.images, self.device = sam, objects, images, device
        self.onnx_model = SamOnnxModel(sam, return_single_mask=True).to(device).eval()
        self.transform = ResizeLongestSide(sam.image_encoder.img_size)
        self.embeddings: dict[str, torch.Tensor] = {}
        self.prev_low_res: dict[int, torch.Tensor] = {}

    @torch.no_grad()
    def _embedding(self, key: str) -> torch.Tensor:
        if key not in self.embeddings:
            image = self.images[key]
            resized = self.transform.apply_image(image)
            x = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()[None].float()
            x = self.sam.preprocess(x)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                self.embeddings[key] = self.sam.image_encoder(x).float()
        return self.embeddings[key]

    @torch.no_grad()
    def predict(self, requests: Sequence[tuple[int, Sequence[Click]]]) -> list[np.ndarray]:
        groups: dict[str, list[int]] = defaultdict(list)
        for pos, (index, _) in enumerate(requests):
            groups[self.objects[index].image_key].append(pos)
        results: list[np.ndarray | None] = [None] * len(requests)
        for key, positions in groups.items():
            h, w = self.images[key].shape[:2]
            n_points = max(len(requests[p][1]) for p in positions) + 1
            coords = np.zeros((len(positions), n_points, 2), np.float32)
            labels = -np.ones((len(positions), n_points), np.float32)  # trailing -1 = padding point
            low_res = torch.zeros((len(positions), 1, *self._low_res_shape()), device=self.device)
            has_mask = torch.zeros(len(positions), device=self.device)
            for row, p in enumerate(positions):
                index, clicks = requests[p]
                xy = np.array([[c.x, c.y] for c in clicks], np.float32)
                coords[row, : len(clicks)] = self.transform.apply_coords(xy, (h, w))
                labels[row, : len(clicks)] = [1.0 if c.positive else 0.0 for c in clicks]
                if index in self.prev_low_res:
                    low_res[row] = self.prev_low_res[index]
                    has_mask[row] = 1.0
            masks, _, low = self._run(key, coords, labels, low_res, has_mask, (h, w))
            binary = (masks[:, 0] > self.sam.mask_threshold).cpu().numpy()  # one transfer per image
            for row, p in enumerate(positions):
                self.prev_low_res[requests[p][0]] = low[row]
                results[p] = binary[row]
        return results

    def _low_res_shape(self) -> tuple[int, int]:
        side = self.sam.prompt_encoder.image_embedding_size[0] * 4
        return side, side

    def _run(self, key, coords, labels, low_res, has_mask, size):
        emb = self._embedding(key)
        # SamOnnxModel takes one has_mask flag for the batch; rows differ only on the first click
        # (all 0) versus later ones (all 1), so split when mixed.
        outs = []
        for flag in (0.0, 1.0):
            rows = (has_mask == flag).nonzero().flatten()
            if len(rows) == 0:
                continue
            r = rows.cpu().numpy()
            out = self.onnx_model(
                emb,
                torch.as_tensor(coords[r], device=self.device),
                torch.as_tensor(labels[r], device=self.device),
                low_res[rows],
                torch.tensor([flag], device=self.device),
                torch.tensor(size, dtype=torch.float32, device=self.device),
            )
            outs.append((r, out))
        n = len(coords)
        masks = torch.empty((n, 1, *size), device=self.device)
        low = torch.empty((n, 1, *self._low_res_shape()), device=self.device)
        for r, (m, _, lr) in outs:
            masks[torch.as_tensor(r, device=self.device)] = m
            low[torch.as_tensor(r, device=self.device)] = lr
        return masks, None, low
