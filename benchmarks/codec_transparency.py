"""How many bits per pixel does each codec spend to be as faithful as x264 at CRF 10, against x264's own?

`io.compression.CLEAN_BITS_PER_PIXEL` treats a lossy stream as clean from the rate at which the clean model overtakes
the compressed one on dev (measured for H.264, HEVC and MPEG-4 Part 2 by `stvsr evaluate`). How a codec's rate
compares with H.264's at equal fidelity carries those thresholds to clips and codecs not evaluated. This encodes one
clip with each codec over its quality range (`io.compress.coded_roundtrip`: the degradation pipeline's encoders and
settings), measures bits per pixel, PSNR-Y and blockiness against the clip, and reports the rate at which each codec
reaches the PSNR-Y of x264 at CRF 10 (interpolated in log rate), and its ratio to x264's rate there:

    python benchmarks/codec_transparency.py [--video samples/dog.mp4] [--frames 30] [--size 320x180]
    python benchmarks/codec_transparency.py --dev ../shared/data/dev/vimeo_septuplet

The default clip is the bundled sample (itself H.264 at a high rate; the codecs' own losses are what is compared).
`--dev` codes instead each dev clip's x4 bicubic low-resolution frames (112x64, what the models see under the
`BI+CODEC` protocols): bits per pixel over all clips, PSNR-Y the mean of clips.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from stvsr.data.clips import open_clips
from stvsr.degrade import degrade
from stvsr.io import VideoReader
from stvsr.io.compress import coded_jpeg_roundtrip, coded_roundtrip
from stvsr.io.compression import JPEG_HEADER_BYTES
from stvsr.metrics import blockiness, psnr

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "dog.mp4"
REFERENCE = ("h264", 10)  # x264 at CRF 10: the fidelity taken as transparent
SWEEPS = {  # codec: (setting, values from fine to coarse)
    "h264": ("crf", (4, 6, 8, 10, 12, 14, 18, 22, 26)),
    "h265": ("crf", (4, 6, 8, 10, 12, 14, 18, 22, 26)),
    "vp9": ("crf", (4, 8, 12, 16, 20, 24, 28, 32, 40)),
    "av1": ("crf", (4, 8, 12, 16, 20, 24, 28, 32, 40)),
    "mpeg4": ("q", (2, 3, 4, 5, 6, 8, 10)),  # 2 is its finest quantiser (the degradation stage's range)
    "jpeg": ("q", (98, 95, 90, 85, 80, 60, 40)),  # each frame on its own (OpenCV), its headers not counted
}


def load(path: Path, frames: int, size: tuple[int, int] | None) -> torch.Tensor:
    with VideoReader(path) as reader:
        clip = torch.stack([frame for _, frame in zip(range(frames), reader)])
    if size:
        clip = F.interpolate(clip, size=size[::-1], mode="area").clamp(0, 1).mul(255).round().div(255)
    return clip


def rate_at(points: list[tuple[float, float]], target: float) -> float | None:
    """The bits per pixel at which PSNR `target` is reached, log-interpolated between the sweep's points."""
    points = sorted(points)
    for (r0, p0), (r1, p1) in zip(points, points[1:]):
        if min(p0, p1) <= target <= max(p0, p1) and p0 != p1:
            w = (target - p0) / (p1 - p0)
            return math.exp(math.log(r0) + w * (math.log(r1) - math.log(r0)))
    return None


def jpeg_coded(clip: torch.Tensor, quality: int) -> tuple[torch.Tensor, int]:
    """`clip` through JPEG frame by frame, with its coded bytes less the headers (`io.compression` counts them so)."""
    out, size = coded_jpeg_roundtrip(clip, quality=quality)
    return out, size - JPEG_HEADER_BYTES["jpg"] * len(clip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=SAMPLE)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", help="WIDTHxHEIGHT to resize to first (area); default: as it is")
    parser.add_argument("--dev", type=Path, help="a Vimeo-layout dev set: code its clips' x4 bicubic inputs instead")
    args = parser.parse_args()
    if args.dev:
        clips = [degrade(clip.float_frames(), "BI", 4) for clip in open_clips(args.dev, "vimeo")]
        what = f"{args.dev.name}: {len(clips)} clips' x4 bicubic inputs"
    else:
        size = tuple(int(v) for v in args.size.split("x")) if args.size else None
        clips = [load(args.video, args.frames, size)]
        what = args.video.name
    t, _, h, w = clips[0].shape
    print(f"{what}: {t} frames of {w}x{h}; {platform.processor() or platform.machine()}, torch "
          f"{torch.__version__}\n")
    print("| codec | setting | bits per pixel | PSNR-Y | blockiness (levels) | s |")
    print("|---|---|---:|---:|---:|---:|")
    curves = {}
    for codec, (key, values) in SWEEPS.items():
        curves[codec] = []
        for value in values:
            start = time.perf_counter()
            coded = [jpeg_coded(clip, value) if codec == "jpeg" else coded_roundtrip(clip, codec, **{key: value})
                     for clip in clips]
            seconds = time.perf_counter() - start
            bpp = sum(size for _, size in coded) * 8 / sum(clip[:, 0].numel() for clip in clips)
            pairs = [(out, clip) for (out, _), clip in zip(coded, clips)]
            fidelity = sum(float(psnr(out, clip, channel="y").mean()) for out, clip in pairs) / len(clips)
            blocks = sum(blockiness(out, clip) for out, clip in pairs) / len(clips)
            curves[codec].append((bpp, fidelity))
            if (codec, value) == REFERENCE:
                reference = bpp, fidelity
            print(f"| {codec} | {key}={value} | {bpp:.3f} | {fidelity:.2f} | {blocks:.2f} | {seconds:.1f} |")
    print(f"\nx264 at CRF {REFERENCE[1]}: {reference[0]:.3f} bits per pixel, PSNR-Y {reference[1]:.2f}. The same "
          f"fidelity costs:\n")
    print("| codec | bits per pixel | against H.264 |")
    print("|---|---:|---:|")
    for codec, points in curves.items():
        rate = rate_at(points, reference[1])
        best = max(points, key=lambda point: point[1])
        shown = (f"{rate:.3f} | {rate / reference[0]:.2f}x" if rate else
                 f"never: {best[1]:.2f} dB at its finest ({best[0]:.3f} bits per pixel) | –")
        print(f"| {codec} | {shown} |")


if __name__ == "__main__":
    main()
