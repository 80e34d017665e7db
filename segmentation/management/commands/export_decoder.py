"""Export a checkpoint's decoder to ONNX files on disk (registration does this into storage itself)."""

from pathlib import Path

from django.core.management.base import BaseCommand

from segmentation.models import Architecture
from segmentation.sam.loader import load_sam
from segmentation.sam.onnx_export import export_decoder


class Command(BaseCommand):
    help = "Export SAM's prompt encoder + mask decoder to <out>/decoder-fp32.onnx and decoder-int8.onnx."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--checkpoint", help="State dict path; omit for random weights (tests, benches).")
        parser.add_argument("--type", required=True, choices=Architecture.values)
        parser.add_argument("--out", required=True, help="Output folder.")
        parser.add_argument(
            "--multimask", action="store_true", help="Return all 4 mask tokens instead of the official pick."
        )

    def handle(self, *args, **options) -> None:
        sam = load_sam(options["type"], options["checkpoint"])
        out = Path(options["out"])
        for variant, quantize in (("fp32", False), ("int8", True)):
            path = out / f"decoder-{variant}.onnx"
            sha = export_decoder(sam, path, quantize=quantize, return_single_mask=not options["multimask"])
            self.stdout.write(f"{path} sha256 {sha}")
