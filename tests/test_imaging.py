"""The pure inversion function (resources.imaging), tested without any request."""

import io
import os
import random
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms, ImageStat

from resources import imaging
from resources.imaging import ImageToolError, invert_image

REPO = Path(__file__).resolve().parent.parent


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def pixels(image: Image.Image) -> list:
    return list(image.get_flattened_data())


def noise(mode: str, size=(13, 7), seed=1) -> Image.Image:
    """Random pixels, so every value of every band takes part in the comparison."""
    rng = random.Random(seed)
    count = size[0] * size[1] * len(Image.new(mode, (1, 1)).getbands())
    return Image.frombytes(mode, size, bytes(rng.randrange(256) for _ in range(count)))


def inverted_luma(image: Image.Image) -> list[int]:
    return [255 - value for value in pixels(image.convert("L"))]


def inverted_colours(image: Image.Image) -> list[tuple]:
    return [tuple(255 - value for value in pixel) for pixel in pixels(image.convert("RGB"))]


def gradient(size=(64, 48)) -> Image.Image:
    """A smooth picture, so JPEG's loss stays small and comparisons can be tight."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata(
        [
            (x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height))
            for y in range(height)
            for x in range(width)
        ]
    )
    return image


def mean_and_max_difference(a: Image.Image, b: Image.Image) -> tuple[float, int]:
    difference = ImageChops.difference(a, b)
    worst = max(
        high for _, high in (difference.getextrema() if len(a.getbands()) > 1 else [difference.getextrema()])
    )
    return max(ImageStat.Stat(difference).mean), worst


# --- exact pixels for every common mode ------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP"])
def test_rgb_gray_mode_is_255_minus_luma_exactly(fmt):
    source = noise("RGB")
    options = {"lossless": True} if fmt == "WEBP" else {}
    result = invert_image(encode(source, fmt, **options))
    assert result.format == fmt
    assert pixels(decode(result.data).convert("L")) == inverted_luma(source)


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP"])
def test_rgb_color_mode_inverts_every_channel_exactly(fmt):
    source = noise("RGB")
    options = {"lossless": True} if fmt == "WEBP" else {}
    result = invert_image(encode(source, fmt, **options), "color")
    assert pixels(decode(result.data).convert("RGB")) == inverted_colours(source)


def test_default_mode_is_gray_and_writes_an_8_bit_luma_image():
    result = invert_image(encode(noise("RGB"), "PNG"))
    assert decode(result.data).mode == "L"


def test_grayscale_image_is_inverted_exactly():
    source = noise("L")
    for mode in imaging.MODES:
        output = decode(invert_image(encode(source, "PNG"), mode).data)
        assert output.mode == "L"
        assert pixels(output) == [255 - value for value in pixels(source)]


def test_rgba_keeps_alpha_in_both_modes():
    source = noise("RGBA")
    alpha = pixels(source.getchannel("A"))

    color = decode(invert_image(encode(source, "PNG"), "color").data)
    assert color.mode == "RGBA"
    assert pixels(color.convert("RGB")) == inverted_colours(source.convert("RGB"))
    assert pixels(color.getchannel("A")) == alpha

    gray = decode(invert_image(encode(source, "PNG"), "gray").data)
    assert gray.mode == "LA"
    assert pixels(gray.getchannel("L")) == inverted_luma(source)
    assert pixels(gray.getchannel("A")) == alpha


def test_rgba_webp_keeps_colour_under_transparent_pixels():
    source = noise("RGBA")
    output = decode(invert_image(encode(source, "WEBP", lossless=True, exact=True), "color").data)
    assert pixels(output) == [(255 - r, 255 - g, 255 - b, a) for r, g, b, a in pixels(source)]


def test_la_inverts_luma_and_keeps_alpha():
    source = noise("LA")
    output = decode(invert_image(encode(source, "PNG")).data)
    assert output.mode == "LA"
    assert pixels(output) == [(255 - value, alpha) for value, alpha in pixels(source)]


def test_palette_image_is_inverted_through_its_colours():
    source = noise("P")
    source.putpalette(bytes(random.Random(2).randrange(256) for _ in range(768)))
    data = encode(source, "PNG")
    assert pixels(decode(invert_image(data, "color").data).convert("RGB")) == inverted_colours(source)
    assert pixels(decode(invert_image(data, "gray").data).convert("L")) == inverted_luma(source)


def test_palette_transparency_becomes_kept_alpha():
    source = Image.new("P", (2, 1))
    source.putpalette([255, 0, 0, 0, 255, 0])
    source.putpixel((1, 0), 1)
    data = encode(source, "PNG", transparency=1)

    color = decode(invert_image(data, "color").data)
    assert pixels(color.convert("RGBA")) == [(0, 255, 255, 255), (255, 0, 255, 0)]
    gray = decode(invert_image(data, "gray").data)
    assert pixels(gray.convert("LA")) == [(255 - 76, 255), (255 - 150, 0)]


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "GIF"])
def test_bilevel_image_stays_bilevel_and_is_inverted(fmt):
    source = noise("L").point(lambda value: 255 if value > 127 else 0).convert("1")
    output = decode(invert_image(encode(source, fmt)).data)
    if fmt != "GIF":  # GIF has no 1-bit mode; Pillow reads it back as a palette image
        assert output.mode == "1"
    assert pixels(output.convert("L")) == [255 - value for value in pixels(source.convert("L"))]


def test_sixteen_bit_grayscale_png_is_inverted_at_sixteen_bits():
    source = Image.new("I;16", (4, 2))
    values = [0, 1, 255, 256, 1000, 32768, 65534, 65535]
    source.putdata(values)
    for mode in imaging.MODES:
        output = decode(invert_image(encode(source, "PNG"), mode).data)
        assert output.mode == "I;16"
        assert pixels(output) == [65535 - value for value in values]


def test_cmyk_jpeg_is_inverted_within_jpeg_tolerance():
    cmyk = gradient().convert("CMYK")
    data = encode(cmyk, "JPEG", quality=95)
    decoded = decode(data)
    assert decoded.mode == "CMYK"

    color = decode(invert_image(data, "color").data)
    assert color.format == "JPEG" and color.mode == "RGB"
    expected = Image.eval(decoded.convert("RGB"), lambda value: 255 - value)
    mean, _ = mean_and_max_difference(color, expected)
    assert mean < 2

    gray = decode(invert_image(data, "gray").data)
    assert gray.mode == "L"
    mean, _ = mean_and_max_difference(gray, Image.eval(decoded.convert("L"), lambda value: 255 - value))
    assert mean < 2


def test_rgb_jpeg_is_inverted_within_jpeg_tolerance_at_quality_95():
    data = encode(gradient(), "JPEG", quality=90)
    decoded = decode(data)
    output = decode(invert_image(data, "color").data)
    mean, worst = mean_and_max_difference(output, Image.eval(decoded, lambda value: 255 - value))
    assert mean < 1.5 and worst < 24
    # Same quantisation tables as Pillow's quality 95, so the output was written at 95.
    assert output.quantization == decode(encode(gradient(), "JPEG", quality=95)).quantization


def test_exif_orientation_is_applied_before_inverting():
    # Stored 40 wide and 20 tall, left half black; orientation 6 means "rotate 90° clockwise to view".
    stored = Image.new("L", (40, 20), 255)
    stored.paste(0, (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(stored, "JPEG", quality=95, exif=exif)

    output = decode(invert_image(data).data)
    assert output.size == (20, 40)
    assert output.getexif().get(0x0112) in (None, 1)
    # Viewed upright, the black half is on top; inverted, the top is white and the bottom black.
    assert output.getpixel((10, 5)) > 240
    assert output.getpixel((10, 35)) < 15


def test_tiny_and_very_wide_images():
    for size in [(1, 1), (6000, 2), (2, 6000)]:
        source = noise("RGB", size=size, seed=size[0])
        result = invert_image(encode(source, "PNG"), "color")
        assert (result.width, result.height) == size
        assert pixels(decode(result.data)) == inverted_colours(source)


def test_png_with_junk_after_iend_is_inverted_and_junk_is_not_echoed():
    source = noise("RGB")
    junk = b"<script>alert('not an image')</script>" + b"JUNK" * 1000
    result = invert_image(encode(source, "PNG") + junk, "color")
    assert pixels(decode(result.data)) == inverted_colours(source)
    assert b"JUNK" not in result.data and b"<script>" not in result.data
    assert result.data.endswith(b"IEND\xaeB`\x82")


# --- animation -------------------------------------------------------------------------------------


def animated_gif_frames(count=3, size=(6, 5)):
    frames = []
    for index in range(count):
        frame = noise("P", size=size, seed=10 + index)
        frame.putpalette(bytes(random.Random(20 + index).randrange(256) for _ in range(768)))
        frames.append(frame)
    return frames


def read_frames(data: bytes, mode: str) -> tuple[list[Image.Image], list]:
    image = Image.open(io.BytesIO(data))
    frames, durations = [], []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        frames.append(image.convert(mode))
        durations.append(image.info.get("duration"))
    return frames, durations


def test_animated_gif_every_frame_inverted_with_timing_and_loop():
    frames = animated_gif_frames()
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=[80, 120, 200], loop=0)
    source_frames, _ = read_frames(data, "RGB")

    for mode in imaging.MODES:
        result = invert_image(data, mode)
        assert result.format == "GIF" and result.frames == 3
        output = Image.open(io.BytesIO(result.data))
        assert output.n_frames == 3
        assert output.info.get("loop") == 0
        out_frames, durations = read_frames(result.data, "RGB")
        assert durations == [80, 120, 200]
        for source, inverted in zip(source_frames, out_frames, strict=True):
            if mode == "color":
                assert pixels(inverted) == inverted_colours(source)
            else:
                assert pixels(inverted.convert("L")) == inverted_luma(source)


def test_gif_that_plays_once_still_plays_once():
    frames = animated_gif_frames(count=2)
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    assert "loop" not in Image.open(io.BytesIO(data)).info
    assert "loop" not in Image.open(io.BytesIO(invert_image(data).data)).info


def test_animated_lossless_webp_every_frame_exact_with_timing():
    frames = [noise("RGBA", seed=seed) for seed in (3, 4, 5)]
    data = encode(
        frames[0],
        "WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=[100, 150, 250],
        loop=2,
        lossless=True,
        exact=True,
    )
    source_frames, _ = read_frames(data, "RGBA")
    result = invert_image(data, "color")
    assert imaging.webp_is_lossless(result.data)
    output = Image.open(io.BytesIO(result.data))
    assert output.n_frames == 3 and output.info.get("loop") == 2
    out_frames, durations = read_frames(result.data, "RGBA")
    assert durations == [100, 150, 250]
    for source, inverted in zip(source_frames, out_frames, strict=True):
        # libwebp's animation encoder has no "exact" switch: the colour under fully
        # transparent pixels is not kept, but every visible pixel must be exact.
        expected = [(255 - r, 255 - g, 255 - b, a) if a else (0, 0, 0, 0) for r, g, b, a in pixels(source)]
        got = [pixel if pixel[3] else (0, 0, 0, 0) for pixel in pixels(inverted)]
        assert got == expected


# --- output format and metadata -------------------------------------------------------------------


def test_webp_stays_lossless_when_input_is_lossless_and_lossy_otherwise():
    source = gradient()
    lossless = invert_image(encode(source, "WEBP", lossless=True))
    lossy = invert_image(encode(source, "WEBP", quality=80))
    assert imaging.webp_is_lossless(lossless.data)
    assert not imaging.webp_is_lossless(lossy.data)
    assert b"VP8 " in lossy.data[:64]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF"])
def test_icc_profile_is_kept(fmt):
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(gradient(), fmt, icc_profile=profile)
    for mode in imaging.MODES:
        assert decode(invert_image(data, mode).data).info.get("icc_profile") == profile


def test_exif_and_text_metadata_are_not_copied():
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"
    data = encode(gradient(), "JPEG", exif=exif)
    assert b"SecretCamera" not in invert_image(data).data


@pytest.mark.parametrize(
    ("fmt", "expected_format", "content_type", "extension"),
    [
        ("PNG", "PNG", "image/png", ".png"),
        ("JPEG", "JPEG", "image/jpeg", ".jpg"),
        ("GIF", "GIF", "image/gif", ".gif"),
        ("WEBP", "WEBP", "image/webp", ".webp"),
        ("BMP", "BMP", "image/bmp", ".bmp"),
        ("TIFF", "TIFF", "image/tiff", ".tif"),
        ("ICO", "PNG", "image/png", ".png"),
        ("PPM", "PNG", "image/png", ".png"),
        ("TGA", "PNG", "image/png", ".png"),
    ],
)
def test_output_format_follows_input_when_pillow_writes_it_else_png(
    fmt, expected_format, content_type, extension
):
    result = invert_image(encode(gradient((16, 16)), fmt), filename=f"photo.{fmt.lower()}")
    assert result.format == expected_format
    assert result.content_type == content_type
    assert result.filename == f"photo-inverted{extension}"
    assert decode(result.data).format == expected_format


@pytest.mark.parametrize(
    ("uploaded", "expected"),
    [
        ("照片.JPG", "照片-inverted.png"),
        ("../../etc/passwd.png", "passwd-inverted.png"),
        ("C:\\Users\\me\\猫 cat.png", "猫 cat-inverted.png"),
        ('evil";\r\nX-Header: 1.png', "evil_X-Header_ 1-inverted.png"),
        ("", "image-inverted.png"),
        ("...", "image-inverted.png"),
    ],
)
def test_output_file_name_is_derived_safely_from_the_upload(uploaded, expected):
    assert invert_image(encode(noise("L"), "PNG"), filename=uploaded).filename == expected


# --- refusals ------------------------------------------------------------------------------------------


def assert_refused(data: bytes, status: int, mode: str = "gray") -> str:
    with pytest.raises(ImageToolError) as caught:
        invert_image(data, mode)
    assert caught.value.status == status
    assert caught.value.message
    return caught.value.message


def png_with_size(width: int, height: int, rows: bytes = b"") -> bytes:
    """A PNG whose header says ``width`` × ``height``, with ``rows`` as its compressed data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def png_bomb(width: int, height: int) -> bytes:
    """A real decompression bomb: a valid 8-bit grayscale PNG of zeros, tiny on disk, huge once decoded.

    One block of rows is deflated once and repeated (a full flush makes blocks independent),
    so building a 144-megapixel bomb takes milliseconds; the checksum covers every row.
    """
    row = bytes(width + 1)  # filter byte + pixels
    block_rows = 64
    full_blocks, rest = divmod(height, block_rows)
    block, tail_rows = row * block_rows, row * rest
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed_block = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    packed_tail = compressor.compress(tail_rows) + compressor.flush()
    checksum = 1
    for _ in range(full_blocks):
        checksum = zlib.adler32(block, checksum)
    checksum = zlib.adler32(tail_rows, checksum)
    stream = b"\x78\xda" + packed_block * full_blocks + packed_tail + struct.pack(">I", checksum)
    return png_with_size(width, height, stream)


def test_bomb_builder_makes_valid_pngs():
    small = decode(png_bomb(300, 130))
    assert small.size == (300, 130) and small.getextrema() == (0, 0)
    assert len(zlib.decompress(png_bomb(1000, 1000)[41:-16])) == 1000 * 1001


def test_empty_upload_is_refused():
    assert "empty" in assert_refused(b"", 400)


def test_unknown_mode_is_refused():
    assert "mode" in assert_refused(encode(noise("L"), "PNG"), 400, mode="sepia")


def test_file_over_ten_mebibytes_is_refused_before_decoding():
    assert "10 MiB" in assert_refused(encode(noise("L"), "PNG") + bytes(imaging.MAX_BYTES), 413)


@pytest.mark.parametrize(
    "data",
    [
        b"just some text, not a picture\n",
        b"\x00" * 100,
        b"PK\x03\x04" + bytes(100),
        b"GIF89a",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff",
    ],
)
def test_non_images_and_bare_headers_are_refused(data):
    assert_refused(data, 400)


@pytest.mark.parametrize(
    ("data", "word"),
    [
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><rect width='5' height='5'/></svg>", "SVG"),
        (b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>", "HTML"),
        (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF", "PDF"),
    ],
)
def test_svg_html_and_pdf_are_refused_with_a_clear_message(data, word):
    assert word in assert_refused(data, 400)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"])
def test_truncated_images_are_refused(fmt):
    data = encode(noise("RGB", size=(64, 64)), fmt)
    assert_refused(data[: len(data) // 2], 400)


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")  # as imaging does in a call
def test_header_over_forty_megapixels_is_refused_without_decoding():
    message = assert_refused(png_with_size(8000, 6000), 413)
    assert "40 megapixels" in message


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_own_header_check_holds_even_when_pillows_warning_is_silenced():
    assert_refused(png_with_size(8000, 6000), 413)
    assert_refused(png_bomb(7000, 7000), 413)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory use from Linux /proc")
def test_real_decompression_bomb_is_refused_in_bounded_memory():
    """A 144-megapixel PNG of zeros (about 140 KiB) must not be decoded: the child's memory stays small."""
    bomb = png_bomb(12000, 12000)
    assert len(bomb) < 1024 * 1024
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from resources.imaging import ImageToolError, invert_image

        def kib(field):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1])

        data = sys.stdin.buffer.read()
        before = kib("VmRSS")
        try:
            invert_image(data)
        except ImageToolError as exc:
            status = exc.status
        else:
            status = 200
        # VmHWM, unlike ru_maxrss, does not inherit the parent's peak across exec.
        print(status, kib("VmHWM") - before)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.run(
        [sys.executable, "-c", script], input=bomb, capture_output=True, env=env, timeout=120, check=True
    )
    status, grown_kib = child.stdout.decode().split()
    assert int(status) == 413
    # Decoding would need 144 MB for the pixels alone.
    assert int(grown_kib) < 40 * 1024


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")  # as imaging does in a call
def test_bomb_between_one_and_two_times_the_limit_is_refused():
    assert_refused(png_bomb(7000, 7000), 413)


def test_importing_the_tool_changes_no_process_wide_pillow_setting():
    script = textwrap.dedent(
        """
        import warnings
        from PIL import Image
        before = (Image.MAX_IMAGE_PIXELS, list(warnings.filters))
        import resources.imaging
        print(before == (Image.MAX_IMAGE_PIXELS, list(warnings.filters)))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, env=env, timeout=60, check=True
    )
    assert child.stdout.decode().strip() == "True"


def gif_with_frames(count: int, size=(1, 1)) -> bytes:
    """A hand-built GIF with ``count`` tiny frames (Pillow's writer would merge identical ones)."""
    width, height = size
    out = [b"GIF89a", struct.pack("<HHBBB", width, height, 0x80, 0, 0), b"\x00\x00\x00\xff\xff\xff"]
    for index in range(count):
        out.append(b"\x21\xf9\x04\x00\x0a\x00\x00\x00")  # 100 ms per frame
        out.append(b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0))
        # LZW, minimum code size 2: clear (4), the pixel, end (5), three bits each.
        pixel = index % 2
        out.append(b"\x02\x02" + bytes([0x44 | pixel << 3, 0x01]) + b"\x00")
    out.append(b"\x3b")
    return b"".join(out)


def test_animation_with_too_many_frames_is_refused():
    assert Image.open(io.BytesIO(gif_with_frames(3))).n_frames == 3
    assert "frames" in assert_refused(gif_with_frames(imaging.MAX_FRAMES + 5), 413)


def test_animation_pixels_are_bounded_across_frames(monkeypatch):
    frames = animated_gif_frames(count=8, size=(4, 4))
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=40)
    assert invert_image(data).frames == 8
    monkeypatch.setattr(imaging, "MAX_TOTAL_PIXELS", 5 * 16)
    assert "megapixels" in assert_refused(data, 413)


def test_heic_is_unsupported_media():
    assert "HEIC" in assert_refused(b"\x00\x00\x00\x18ftypheic" + bytes(64), 415)


# --- hostile bytes never escape as anything but ImageToolError ---------------------------------------


def fuzz_cases():
    rng = random.Random(1234)
    seeds = [
        encode(noise("RGB", size=(12, 9)), "PNG"),
        encode(gradient((24, 16)), "JPEG"),
        encode(noise("P"), "GIF"),
        encode(noise("RGBA"), "WEBP", lossless=True),
        encode(noise("RGB"), "BMP"),
        encode(noise("RGB"), "TIFF"),
    ]
    cases = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) for _ in range(40)]
    for seed in seeds:
        for _ in range(15):
            mutated = bytearray(seed)
            for _ in range(rng.randrange(1, 8)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            cases.append(bytes(mutated))
        cases.extend(seed[:cut] for cut in (1, 8, 16, 33, len(seed) - 1))
    return cases


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's notes about the damaged TIFF tags
def test_fuzzed_and_truncated_inputs_only_raise_image_tool_errors():
    for data in fuzz_cases():
        for mode in imaging.MODES:
            try:
                result = invert_image(data, mode)
            except ImageToolError as exc:
                assert exc.status in (400, 413, 415)
            else:
                assert result.data
