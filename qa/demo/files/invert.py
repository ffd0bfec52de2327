#!/usr/bin/env python3
"""Invert an image: grayscale T(x,y) = 255 - S(x,y), or per colour channel.

Usage: python invert.py INPUT OUTPUT [--color]
Needs Pillow (pip install Pillow).
"""

import argparse

from PIL import Image, ImageOps, ImageSequence


def invert(im: Image.Image, color: bool = False) -> Image.Image:
    im = ImageOps.exif_transpose(im)
    alpha = im.getchannel("A") if "A" in im.getbands() else None
    if color:
        out = ImageOps.invert(im.convert("RGB"))
    elif im.mode == "I;16":
        out = im.point(lambda s: 65535 - s)
    else:
        out = ImageOps.invert(im.convert("L"))
    if alpha is not None:
        out = out.convert("RGBA" if color else "LA")
        out.putalpha(alpha)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--color", action="store_true", help="invert each colour channel")
    args = parser.parse_args()
    with Image.open(args.input) as im:
        frames = [invert(frame.copy(), args.color) for frame in ImageSequence.Iterator(im)]
        extra = {"save_all": True, "append_images": frames[1:]} if len(frames) > 1 else {}
        if "duration" in im.info:
            extra["duration"] = im.info["duration"]
        frames[0].save(args.output, **extra)


if __name__ == "__main__":
    main()
