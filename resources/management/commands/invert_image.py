from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from resources import imaging


class Command(BaseCommand):
    help = (
        "Invert an image file with the same code as the online tool: "
        "gray (255 − luma, the default) or color (every channel)."
    )

    def add_arguments(self, parser):
        parser.add_argument("input", help="the image to invert")
        parser.add_argument("output", help="where to write the result (an existing file is replaced)")
        parser.add_argument("--mode", choices=imaging.MODES, default="gray")

    def handle(self, *args, input, output, mode, **options):
        source = Path(input)
        try:
            # Checked before reading, so a huge file is refused without loading it.
            if source.stat().st_size > imaging.MAX_BYTES:
                raise imaging.ImageTooLarge(f"The file is larger than {imaging.MAX_BYTES // 2**20} MiB.")
            result = imaging.invert_image(source.read_bytes(), mode, filename=source.name)
        except OSError as exc:
            raise CommandError(f"Cannot read {source}: {exc.strerror or exc}") from exc
        except imaging.ImageToolError as exc:
            raise CommandError(f"{source}: {exc.message}") from exc

        target = Path(output)
        try:
            target.write_bytes(result.data)
        except OSError as exc:
            raise CommandError(f"Cannot write {target}: {exc.strerror or exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {target} ({result.format}, {result.width}×{result.height}, "
                f"{result.frames} frame{'s' if result.frames != 1 else ''}, {len(result.data)} bytes)."
            )
        )
        expected = imaging.OUTPUT_FORMATS[result.format][0]
        matching = {".jpg": {".jpg", ".jpeg"}, ".tif": {".tif", ".tiff"}}.get(expected, {expected})
        if target.suffix.lower() not in matching:
            self.stderr.write(f"Note: the data is {result.format}; a {expected} name would match it.")
