"""Re-encoding an uploaded figure (SPEC §4): pure code, bytes in and bytes out.

An upload is checked by the image tool's own code (``resources.imaging.
open_checked_image``: decoded by content, size, pixel and bomb limits), then
drawn afresh into a new image that carries pixels only, so nothing of the
original file survives but what a reader sees:

- EXIF orientation is applied to the pixels, then EXIF (GPS included), XMP,
  IPTC, comments and text chunks are dropped: none of them is ever copied.
- An ICC profile is applied, converting the pixels to sRGB, and then dropped:
  browsers assume sRGB for untagged images, so colours stay right without a
  profile that can identify the camera or editing software.
- An animated image is refused rather than silently cut to its first frame.
- Pixels are 8 bits per channel (16-bit images are reduced, as browsers show them).

Photos (JPEG) stay JPEG, WebP stays WebP (lossless stays lossless) and
everything else (PNG, GIF, BMP, TIFF…) becomes PNG, so diagrams stay sharp.
A narrow variant (``NARROW_WIDTH`` wide) is made for images wider than that.
"""

import io
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps

from resources.imaging import InvalidImage, gettext_noop, open_checked_image, webp_is_lossless

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
NARROW_WIDTH = 480
JPEG_QUALITY = 85
WEBP_QUALITY = 85

# Output format -> (file extension, media type).
FORMATS = {
    "JPEG": (".jpg", "image/jpeg"),
    "PNG": (".png", "image/png"),
    "WEBP": (".webp", "image/webp"),
}
# Extension -> media type, for serving a stored figure.
CONTENT_TYPES = dict(FORMATS.values())

_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class EncodedFigure:
    """A figure as the site stores it: the full image and, when it is wider
    than ``NARROW_WIDTH``, a narrow variant in the same format."""

    format: str
    full: EncodedImage
    narrow: EncodedImage | None

    @property
    def extension(self) -> str:
        return FORMATS[self.format][0]


def encode_figure(data: bytes) -> EncodedFigure:
    """Check and re-encode an uploaded figure; raises ``resources.imaging.ImageToolError``."""
    with open_checked_image(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS) as source:
        if getattr(source, "n_frames", 1) > 1:
            raise InvalidImage(gettext_noop("Animated images cannot be figures: upload a still image."))
        output_format, options = _output(source.format, data)
        icc_profile = source.info.get("icc_profile")
        source.load()
        image = _upright(source)
    image = _pixels_only(_in_srgb(image, icc_profile), output_format)
    full = _encode(image, output_format, options)
    narrow = None
    if image.width > NARROW_WIDTH:
        height = max(1, round(image.height * NARROW_WIDTH / image.width))
        smaller = image.resize((NARROW_WIDTH, height), Image.Resampling.LANCZOS)
        narrow = _encode(smaller, output_format, options)
    return EncodedFigure(format=output_format, full=full, narrow=narrow)


def _output(source_format: str | None, data: bytes) -> tuple[str, dict]:
    """The stored format and its encoder options for an upload in ``source_format``."""
    if source_format in {"JPEG", "MPO"}:
        return "JPEG", {"quality": JPEG_QUALITY, "optimize": True, "progressive": True}
    if source_format == "WEBP":
        if webp_is_lossless(data):
            return "WEBP", {"lossless": True, "method": 4}
        return "WEBP", {"quality": WEBP_QUALITY, "method": 4}
    return "PNG", {"compress_level": 6}


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        # A damaged EXIF block should not cost the editor their picture: keep it as stored.
        return image.copy()


def _in_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """The pixels converted from their embedded profile to sRGB (CMYK always ends as RGB)."""
    # Grey and palette images differ from sRGB too little to matter on a web page.
    if icc_profile and image.mode in {"RGB", "RGBA", "CMYK"}:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            mode = "RGBA" if image.mode == "RGBA" else "RGB"
            return ImageCms.profileToProfile(image, profile, _SRGB, outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # an unusable profile: the pixels as they are
    return image.convert("RGB") if image.mode == "CMYK" else image


def _pixels_only(image: Image.Image, output_format: str) -> Image.Image:
    """A new 8-bit image holding only the pixels: no info, EXIF, profile or palette."""
    has_alpha = image.mode in {"LA", "La", "PA", "RGBA", "RGBa"} or "transparency" in image.info
    if image.mode in {"I;16", "I;16B", "I;16L", "I;16N", "I"}:
        image = image.convert("I")
        scale = 1 / 257 if image.getextrema()[1] > 255 else 1
        image = image.point(lambda value: value * scale).convert("L")
    elif image.mode == "F":
        image = image.convert("L")
    if image.mode in {"1", "L"} and not has_alpha:
        target = "L"
    elif image.mode in {"LA", "La"}:
        target = "LA"
    else:
        target = "RGBA" if has_alpha else "RGB"
    if output_format == "JPEG":
        target = "RGB" if target != "L" else "L"
    elif output_format == "WEBP":
        target = "RGBA" if "A" in target else "RGB"
    converted = image.convert(target) if image.mode != target else image
    return Image.frombytes(target, converted.size, converted.tobytes())


def _encode(image: Image.Image, output_format: str, options: dict) -> EncodedImage:
    out = io.BytesIO()
    image.save(out, output_format, **options)
    return EncodedImage(data=out.getvalue(), width=image.width, height=image.height)
