"""Image inversion for the online tool (SPEC §8): pure code, bytes in and bytes out.

Nothing here knows about HTTP or Django, so the page, the API and the
``invert_image`` management command all share one implementation, and tests
call it directly.

Uploads are hostile until proven otherwise, so every limit is checked from the
file's header before any pixel data is decoded, only a short list of decoders
is ever consulted, and every decoder failure becomes an :class:`ImageToolError`
carrying the HTTP status that describes it.
"""

import io
import itertools
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PureWindowsPath

from PIL import Image, JpegImagePlugin, UnidentifiedImageError

logger = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
# An animation is judged by the pixels of all its frames together, so a small
# file cannot ask for hundreds of full-size canvases.
MAX_TOTAL_PIXELS = 100_000_000
MAX_FRAMES = 1000

MODES = ("gray", "color")
# zlib level for PNG output. On a noisy 12-megapixel picture, Pillow's default (6)
# takes about four times as long as 3 for under a tenth less size; a web tool
# answering within a request's time budget wants the faster one.
PNG_COMPRESS_LEVEL = 3

# Pillow's global settings are left alone (threads of one worker share them):
# the limits are the caller's, checked from each frame's header by
# check_frame_size before it is decoded, and Pillow's own bomb guard (its
# default limit is above ours) is a backstop whose warning counts as an error.

# The decoders we agree to run. Pillow knows dozens more (EPS would even start
# Ghostscript); each one is attack surface that a photo tool does not need.
Image.init()  # register every plugin, so the list below is checked against what this Pillow has
INPUT_FORMATS = tuple(
    name
    for name in ("PNG", "JPEG", "MPO", "GIF", "WEBP", "BMP", "DIB", "TIFF", "ICO", "PPM", "TGA", "AVIF")
    if name in Image.OPEN
)
MULTI_FRAME_FORMATS = {"GIF", "WEBP", "PNG", "TIFF"}

# Output format -> (file extension, media type). Anything else is written as PNG.
OUTPUT_FORMATS = {
    "PNG": (".png", "image/png"),
    "JPEG": (".jpg", "image/jpeg"),
    "GIF": (".gif", "image/gif"),
    "WEBP": (".webp", "image/webp"),
    "BMP": (".bmp", "image/bmp"),
    "TIFF": (".tif", "image/tiff"),
}
# Formats Pillow reports under another name but that we write as their family.
FORMAT_ALIASES = {"MPO": "JPEG", "DIB": "BMP"}

# Modes each writer takes as they are; other modes are converted first (see _writable).
WRITABLE_MODES = {
    "PNG": {"1", "L", "LA", "I;16", "P", "RGB", "RGBA"},
    "JPEG": {"L", "RGB", "CMYK"},
    "GIF": {"1", "L", "P", "RGB", "RGBA"},
    "WEBP": {"RGB", "RGBA"},
    "BMP": {"1", "L", "P", "RGB", "RGBA"},
    "TIFF": {"1", "L", "LA", "I;16", "P", "RGB", "RGBA", "CMYK"},
}

ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}

_INVERT = list(range(255, -1, -1))
_KEEP = list(range(256))

# EXIF orientation -> the transpose that shows the picture upright.
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def gettext_noop(message: str) -> str:
    """Marks a message for the translation catalogue (makemessages looks for this name).

    This module stays free of Django, so messages are kept in English here and
    translated where a request's language is known: see ``ImageToolError.translated``.
    """
    return message


SUPPORTED_HINT = gettext_noop("Upload a PNG, JPEG, GIF, WebP, BMP or TIFF image.")


class ImageToolError(Exception):
    """An upload the tool refuses; ``status`` is the HTTP status that describes why.

    ``message`` is the English text. ``template`` and ``params`` keep it
    translatable, and ``hint`` adds the list of formats the tool reads.
    """

    status = 400

    def __init__(self, template: str, *, hint: bool = False, **params):
        self.template, self.params, self.hint = template, params, hint
        self.message = self.translated(lambda text: text)
        super().__init__(self.message)

    def translated(self, gettext) -> str:
        """The message in the language ``gettext`` translates to."""
        text = gettext(self.template) % self.params if self.params else gettext(self.template)
        if not self.hint:
            return text
        # Sentences after a full-width full stop (Chinese) follow without a space.
        return f"{text}{'' if text.endswith('。') else ' '}{gettext(SUPPORTED_HINT)}"


class InvalidImage(ImageToolError):
    status = 400


class UnsupportedImage(ImageToolError):
    status = 415


class ImageTooLarge(ImageToolError):
    status = 413


@dataclass(frozen=True)
class InvertedImage:
    data: bytes
    format: str
    source_format: str
    filename: str
    content_type: str
    width: int
    height: int
    frames: int


def invert_image(data: bytes, mode: str = "gray", *, filename: str = "image") -> InvertedImage:
    """Invert an uploaded image and encode the result.

    ``mode="gray"``: T(x, y) = 255 − S(x, y) on the 8-bit luma image (16-bit
    grayscale stays 16-bit: 65535 − S). ``mode="color"``: every colour channel
    inverted. Alpha is kept, EXIF orientation applied, every frame of an
    animation inverted with its timing, the ICC profile kept. The output uses
    the input's format when Pillow writes it, else PNG.

    Raises :class:`ImageToolError` (with an HTTP ``status``) for input the tool refuses.
    """
    if mode not in MODES:
        raise InvalidImage(
            gettext_noop("Unknown mode “%(mode)s”: choose “gray” or “color”."), mode=str(mode)[:20]
        )
    with open_checked_image(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS) as source:
        source_format = source.format
        output_format = output_format_for(source_format)
        orientation = _orientation(source)
        icc_profile = source.info.get("icc_profile")
        multi = source_format in MULTI_FRAME_FORMATS
        frames, durations, loop = _inverted_frames(source, mode, multi=multi)
        save_options = _save_options(source, output_format, data)

    if orientation in _ORIENTATION:
        frames = [frame.transpose(_ORIENTATION[orientation]) for frame in frames]
    frames = [_writable(frame, output_format) for frame in frames]
    frames = _same_mode(frames)

    if icc_profile and output_format in {"PNG", "JPEG", "WEBP", "TIFF"}:
        save_options["icc_profile"] = icc_profile
    if len(frames) > 1:
        save_options.update(save_all=True, append_images=frames[1:])
        save_options.update(_timing(output_format, durations, loop, frames))

    out = io.BytesIO()
    frames[0].save(out, format=output_format, **save_options)
    extension, content_type = OUTPUT_FORMATS[output_format]
    return InvertedImage(
        data=out.getvalue(),
        format=output_format,
        source_format=source_format,
        filename=f"{_safe_stem(filename)}-inverted{extension}",
        content_type=content_type,
        width=frames[0].width,
        height=frames[0].height,
        frames=len(frames),
    )


@contextmanager
def open_checked_image(data: bytes, *, max_bytes: int, max_pixels: int) -> Iterator[Image.Image]:
    """Open an uploaded image for decoding, as every upload of the site is checked.

    Refuses an empty file, one over ``max_bytes``, known non-images (PDF, SVG,
    HTML, HEIC) and anything but the decoders in ``INPUT_FORMATS``; the first
    frame's size is checked from its header (``check_frame_size``) before a
    pixel is decoded. Inside the ``with`` block the caller decodes (calling
    ``check_frame_size`` before loading any further frame): whatever a decoder
    raises there becomes an :class:`ImageToolError` with a clear message, and
    Pillow's decompression-bomb warning counts as an error.
    """
    if not data:
        raise InvalidImage(gettext_noop("The file is empty."))
    if len(data) > max_bytes:
        raise ImageTooLarge(
            gettext_noop("The file is larger than %(mib)d MiB."), mib=max_bytes // (1024 * 1024)
        )
    _refuse_known_non_images(data)
    try:
        # Scoped to this call; no global Pillow or warnings setting is changed for good.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=INPUT_FORMATS) as source:
                check_frame_size(source, max_pixels=max_pixels)
                yield source
    except ImageToolError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(
            gettext_noop("The image has too many pixels (more than %(limit)d megapixels)."),
            limit=max_pixels // 1_000_000,
        ) from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage(gettext_noop("The file is not an image the tool can read."), hint=True) from exc
    except MemoryError as exc:
        raise ImageTooLarge(gettext_noop("The image needs more memory than the tool allows.")) from exc
    except Exception as exc:
        # Decoders report damaged files with OSError, SyntaxError, ValueError,
        # struct.error, EOFError and more; whichever it is, the upload is bad,
        # not the server.
        logger.info("image decode failed: %r", exc)
        raise InvalidImage(gettext_noop("The image is damaged or truncated and cannot be read.")) from exc


def check_frame_size(image: Image.Image, *, max_pixels: int) -> None:
    """Refuse the current frame of ``image`` when its header says it has no pixels or too many."""
    width, height = image.size
    if width <= 0 or height <= 0:
        raise InvalidImage(gettext_noop("The image has no pixels."))
    if width * height > max_pixels:
        raise ImageTooLarge(
            gettext_noop("The image is %(width)d×%(height)d pixels; the limit is %(limit)d megapixels."),
            width=width,
            height=height,
            limit=max_pixels // 1_000_000,
        )


def output_format_for(source_format: str | None) -> str:
    """The format the result is written in: the input's own when Pillow writes it, else PNG."""
    family = FORMAT_ALIASES.get(source_format or "", source_format or "")
    return family if family in OUTPUT_FORMATS else "PNG"


def invert_frame(frame: Image.Image, mode: str) -> Image.Image:
    """One decoded frame, inverted; alpha and bit depth handled per SPEC §8."""
    if frame.mode in SIXTEEN_BIT_MODES or (frame.mode == "I" and _fits_16_bits(frame)):
        if frame.mode != "I;16":
            # Pillow's point transform on 16-bit data only takes native "I;16".
            frame = frame.convert("I").convert("I;16")
        return frame.point(lambda value: value * -1 + 65535)

    bilevel = frame.mode == "1" and "transparency" not in frame.info
    has_alpha = frame.mode in ALPHA_MODES or "transparency" in frame.info
    single_band = frame.mode in {"1", "L", "LA", "La", "I", "F"}
    target = ("L" if mode == "gray" or single_band else "RGB") + ("A" if has_alpha else "")
    if frame.mode != target:
        frame = frame.convert(target)

    inverted = frame.point(_lookup_table(target))
    if bilevel:
        # Values are exactly 0 or 255, so no dithering can occur.
        return inverted.convert("1", dither=Image.Dither.NONE)
    return inverted


def _lookup_table(mode: str) -> list[int]:
    """Invert the colour bands and keep the alpha band, in one pass over the pixels."""
    colour_bands = len(mode) - 1 if mode.endswith("A") else len(mode)
    return _INVERT * colour_bands + _KEEP * (len(mode) - colour_bands)


def _fits_16_bits(frame: Image.Image) -> bool:
    low, high = frame.getextrema()
    return low >= 0 and high <= 65535


def _inverted_frames(source: Image.Image, mode: str, *, multi: bool):
    """Invert each frame in turn, checking its size from the header before it is decoded."""
    frames, durations = [], []
    total_pixels = 0
    for index in itertools.count():
        if index:
            if not multi:
                break
            try:
                source.seek(index)
            except EOFError:
                break
            if index >= MAX_FRAMES:
                raise ImageTooLarge(
                    gettext_noop("The animation has more than %(limit)d frames."), limit=MAX_FRAMES
                )
        check_frame_size(source, max_pixels=MAX_PIXELS)
        width, height = source.size
        total_pixels += width * height
        if total_pixels > MAX_TOTAL_PIXELS:
            raise ImageTooLarge(
                gettext_noop("The animation’s frames add up to more than %(limit)d megapixels."),
                limit=MAX_TOTAL_PIXELS // 1_000_000,
            )
        source.load()
        frames.append(invert_frame(source, mode))
        durations.append(source.info.get("duration"))
    return frames, durations, source.info.get("loop")


def _orientation(source: Image.Image) -> int:
    try:
        return int(source.getexif().get(0x0112) or 1)
    except Exception:
        # A damaged EXIF block should not cost the user their picture: show it as stored.
        return 1


def _save_options(source: Image.Image, output_format: str, data: bytes) -> dict:
    if output_format == "JPEG":
        options = {"quality": 95}
        if isinstance(source, JpegImagePlugin.JpegImageFile):
            sampling = JpegImagePlugin.get_sampling(source)
            if sampling != -1:
                options["subsampling"] = sampling
        return options
    if output_format == "WEBP":
        if webp_is_lossless(data):
            return {"lossless": True, "exact": True}
        return {"quality": 95}
    if output_format == "TIFF":
        return {"compression": "tiff_adobe_deflate"}
    if output_format == "PNG":
        return {"compress_level": PNG_COMPRESS_LEVEL}
    return {}


def webp_is_lossless(data: bytes) -> bool:
    """True when every image chunk of a WebP file (each animation frame too) is VP8L."""
    kinds = set()

    def walk(start: int, end: int) -> None:
        position = start
        while position + 8 <= end:
            fourcc = data[position : position + 4]
            size = int.from_bytes(data[position + 4 : position + 8], "little")
            body = position + 8
            if fourcc in (b"VP8 ", b"VP8L"):
                kinds.add(fourcc)
            elif fourcc == b"ANMF":
                # A frame header (16 bytes) precedes the frame's own chunks.
                walk(body + 16, min(body + size, end))
            position = body + size + (size & 1)

    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        walk(12, len(data))
    return kinds == {b"VP8L"}


def _writable(frame: Image.Image, output_format: str) -> Image.Image:
    """Convert a frame to a mode the output format's writer takes, without changing pixel values."""
    if frame.mode in WRITABLE_MODES[output_format]:
        return frame
    if frame.mode == "LA":
        return frame.convert("RGBA")
    if frame.mode in {"1", "L"}:
        return frame.convert("RGB")
    if frame.mode == "I;16":
        # Only PNG and TIFF hold 16 bits and both take I;16 above; others get the top 8 bits.
        return frame.point(lambda value: value / 257).convert("L")
    return frame.convert("RGBA" if frame.mode in ALPHA_MODES else "RGB")


def _same_mode(frames: list[Image.Image]) -> list[Image.Image]:
    """Animated writers want one mode for all frames; Pillow decodes GIFs as P, then RGB(A)."""
    modes = {frame.mode for frame in frames}
    if len(modes) == 1:
        return frames
    if modes <= {"1", "L"}:
        target = "L"
    elif modes <= {"1", "L", "LA"}:
        target = "LA"
    else:
        target = "RGBA" if modes & ALPHA_MODES else "RGB"
    return [frame if frame.mode == target else frame.convert(target) for frame in frames]


def _timing(output_format: str, durations: list, loop, frames: list[Image.Image]) -> dict:
    options = {}
    if all(duration is not None for duration in durations):
        options["duration"] = [int(duration) for duration in durations]
    if loop is not None and output_format in {"GIF", "WEBP", "PNG"}:
        options["loop"] = loop
    if output_format == "GIF" and frames[0].mode in ALPHA_MODES:
        # Pillow hands out fully composited frames; clearing between them keeps
        # transparent areas transparent instead of showing the previous frame.
        options["disposal"] = 2
    return options


def _refuse_known_non_images(data: bytes) -> None:
    """Name the common wrong uploads instead of a generic "not an image"."""
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"%pdf"):
        raise InvalidImage(gettext_noop("PDF documents are not supported."), hint=True)
    if head.startswith(b"<"):
        if b"<svg" in data[:4096].lower():
            raise InvalidImage(
                gettext_noop("SVG images are not supported (they are XML, not pixels)."), hint=True
            )
        raise InvalidImage(gettext_noop("The file is HTML or XML text, not an image."), hint=True)
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1", b"ftyphevc"):
        raise UnsupportedImage(gettext_noop("HEIC/HEIF images are not supported."), hint=True)
    if data[:4] == b"8BPS":
        raise UnsupportedImage(gettext_noop("Photoshop documents are not supported."), hint=True)


_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')


def _safe_stem(filename: str) -> str:
    """The uploaded name without folders, extension or characters that break headers or file systems."""
    stem = PureWindowsPath(str(filename or "")).stem
    stem = _UNSAFE_NAME_CHARS.sub("_", stem).strip(" ._")
    return stem[:80] or "image"
