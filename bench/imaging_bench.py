"""Benchmark of the image inversion tool on 12-megapixel pictures.

    .venv/bin/python bench/imaging_bench.py [--repeat 3]

Makes a 4000×3000 photo-like JPEG and PNG in a temporary folder, then measures
for each: Pillow alone decoding and re-encoding the file with the same options
(the floor any tool pays), and ``invert_image`` in both modes. Every measurement
runs in a fresh child process, so the peak memory reported (the growth of the
resident high-water mark over the child's state just before the call) belongs to
that call only.
"""

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SIZE = (4000, 3000)


def make_inputs(folder: Path) -> dict[str, Path]:
    """A smooth scene with sensor-like noise: realistic work for JPEG, still under 10 MiB as PNG."""
    from PIL import Image

    ramp = Image.linear_gradient("L")
    scene = Image.merge(
        "RGB", (ramp.resize(SIZE), ramp.rotate(90).resize(SIZE), Image.radial_gradient("L").resize(SIZE))
    )

    def grainy(sigma: float, weight: float) -> Image.Image:
        grain = Image.effect_noise(SIZE, sigma)
        bands = (grain, grain.rotate(180), grain.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
        return Image.blend(scene, Image.merge("RGB", bands), weight)

    paths = {"JPEG": folder / "photo.jpg", "PNG": folder / "photo.png"}
    grainy(30, 0.3).save(paths["JPEG"], quality=90)  # about 3 MiB, like a phone photo
    # Less grain, so the PNG stays under the tool's 10 MiB limit.
    grainy(5, 0.1).save(paths["PNG"])
    return paths


def encode_options(fmt: str) -> dict:
    """The options the tool itself writes with, so the comparison isolates the inversion."""
    from resources.imaging import PNG_COMPRESS_LEVEL

    return {"quality": 95} if fmt == "JPEG" else {"compress_level": PNG_COMPRESS_LEVEL}


def rss_kib(field: str) -> int:
    """Resident memory from /proc (Linux). Unlike ru_maxrss, VmHWM starts afresh in a new program."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(path: str, task: str) -> None:
    from PIL import Image

    from resources.imaging import invert_image

    data = Path(path).read_bytes()
    before = rss_kib("VmRSS")
    start = time.perf_counter()
    if task == "pillow":
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            out = io.BytesIO()
            image.save(out, format=image.format, **encode_options(image.format))
        size = out.tell()
    else:
        size = len(invert_image(data, task).data)
    seconds = time.perf_counter() - start
    grown_kib = rss_kib("VmHWM") - before
    print(json.dumps({"seconds": seconds, "peak_mib": grown_kib / 1024, "out_bytes": size}))


def measure(path: Path, task: str, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(path), task],
            capture_output=True,
            check=True,
            text=True,
        )
        runs.append(json.loads(done.stdout))
    return {
        "seconds": statistics.median(run["seconds"] for run in runs),
        "peak_mib": max(run["peak_mib"] for run in runs),
        "out_bytes": runs[0]["out_bytes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement (median time, max memory)"
    )
    parser.add_argument("--child", nargs=2, metavar=("PATH", "TASK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    with tempfile.TemporaryDirectory() as folder:
        inputs = make_inputs(Path(folder))
        megapixels = SIZE[0] * SIZE[1] / 1e6
        print(
            f"Image inversion benchmark: {SIZE[0]}×{SIZE[1]} ({megapixels:.0f} MP), median of {args.repeat}"
        )
        header = f"{'input':<18}{'task':<26}{'time':>9}{'vs Pillow':>11}{'peak memory':>14}{'output':>11}"
        print(header)
        print("-" * len(header))
        for fmt, path in inputs.items():
            label = f"{fmt} {path.stat().st_size / 2**20:.1f} MiB"
            floor = measure(path, "pillow", args.repeat)
            rows = [("Pillow decode+encode", floor)]
            rows += [
                (f"invert_image mode={mode}", measure(path, mode, args.repeat)) for mode in ("gray", "color")
            ]
            for task, figures in rows:
                print(
                    f"{label:<18}{task:<26}{figures['seconds'] * 1000:>7.0f} ms"
                    f"{figures['seconds'] / floor['seconds']:>10.2f}×"
                    f"{figures['peak_mib']:>10.0f} MiB"
                    f"{figures['out_bytes'] / 2**20:>7.1f} MiB"
                )
                label = ""


if __name__ == "__main__":
    main()
