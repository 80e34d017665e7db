"""Click-simulator evaluation of a model on a folder of images + masks, through the ONNX decoder."""

import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from segmentation.evaluation.clicks import format_table, simulate, summarize
from segmentation.evaluation.dataset import load_click_dataset
from segmentation.evaluation.onnx_predictor import OnnxClickPredictor
from segmentation.models import Architecture, SamModel
from segmentation.sam.encoder import encode_images, resolve_device
from segmentation.sam.loader import load_sam
from segmentation.sam.onnx_decoder import OnnxDecoder
from segmentation.sam.onnx_export import export_decoder
from segmentation.services.models import default_sam_model


class Command(BaseCommand):
    help = (
        "Simulate a labeler's clicks on DIR/images + DIR/masks (same stems; mask 255 object, 0 background, "
        "128 ignored) and print mIoU after 1..5 clicks, NoC@85 and NoC@90."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("dir")
        parser.add_argument("--model", help="Registered SamModel name; default: the default model.")
        parser.add_argument("--checkpoint", help="Evaluate this state dict instead of a registered model.")
        parser.add_argument(
            "--type", default="default", choices=Architecture.values, help="Architecture of --checkpoint."
        )
        parser.add_argument("--max-clicks", type=int, default=20)
        parser.add_argument("--int8", action="store_true", help="Use the int8 decoder instead of fp32.")
        parser.add_argument("--limit", type=int, default=0, help="Evaluate only the first N objects.")

    def handle(self, *args, **options) -> None:
        try:
            objects, images, _ = load_click_dataset(options["dir"])
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if options["limit"]:
            objects = objects[: options["limit"]]
        sam, decoder_bytes, label = self._model(options)
        device = resolve_device(settings.SEGMENTATION_DEVICE)
        sam.to(device)
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as work:
            decoder_path = Path(work) / "decoder.onnx"
            if decoder_bytes is None:
                export_decoder(sam, decoder_path, quantize=options["int8"])
                sam.to(device)  # export moved it to the CPU
            else:
                decoder_path.write_bytes(decoder_bytes)
            decoder = OnnxDecoder(decoder_path, img_size=int(sam.image_encoder.img_size))
            predictor = OnnxClickPredictor(
                decoder, objects, images, lambda image: encode_images(sam, [image], device)[0]
            )
            ious = simulate(predictor, objects, max_clicks=options["max_clicks"])
        summary = summarize(ious)
        self.stdout.write(f"{label}: {len(objects)} objects in {len(images)} images, {time.monotonic() - started:.0f}s")
        self.stdout.write(format_table(summary))

    def _model(self, options):
        """(sam, stored decoder bytes or None to export one, label)."""
        if options["checkpoint"]:
            return load_sam(options["type"], options["checkpoint"]), None, f"{options['type']} {options['checkpoint']}"
        if options["model"]:
            record = SamModel.objects.filter(name=options["model"]).first()
            if record is None:
                raise CommandError(f"No registered model named {options['model']!r}")
        else:
            record = default_sam_model()
        field = record.decoder_int8 if options["int8"] else record.decoder_fp32
        decoder_bytes = None
        if field:
            with field.open("rb") as handle:
                decoder_bytes = handle.read()
        return load_sam(record.architecture, record.checkpoint_path), decoder_bytes, record.name
