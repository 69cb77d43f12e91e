"""Training data packed to travel: segments of every source clip at training resolution, each a short H.264 file,
the photos as PNG, and a manifest (`pack.json`). A bare GPU machine trains from it with OpenCV alone: no PyAV, no
`../shared`, and a 64 MiB carry.

The 718 MB of decoded sources do not fit: a pack holds a subset, chosen for variety. Segments of `segment` frames
(enough for a sample's span) are taken from each source in turn, each at positions spread over the clip, until the
byte budget is spent; the photos take up to a fifth of it first.

Why H.264 (written and read by `io.rgb_clips`): consecutive frames share almost everything, and only a video codec
uses that (60 frames of 240×427, 18.4 MB raw, are 3.1 MB at CRF 12). Why RGB (libx264rgb): OpenCV decodes it to
exactly what was coded, no colour matrix in between. 4:4:4 YUV would fit about a fifth more frames at the same
fidelity (2.6 MB for 44.2 dB against RGB's 3.1 MB for 43.8), but its 8-bit studio-range round trip alone caps it at 52
dB; the pack measures each segment's PSNR against the cached frames and records it. Decoding with OpenCV, not PyAV:
OpenCV is on the GPU image, PyAV is not (its wheel alone is half the carry).

A pack made with a `degradation` (a training chain of `degrade/`, e.g. the compressed recipe's x264 at a random CRF)
also holds each segment's low-resolution input, degraded `variants` times with different draws: the loader, which
would need PyAV to run a codec, crops those instead. A variant that went through a video codec is stored as the
codec's own stream (`io.compress.write_codec_stream`): the bits a round trip in the loader would decode, at a tenth
of the size of a re-encoded copy; the manifest records the largest difference between OpenCV's decode of it (the
loader's) and PyAV's (0 where measured so far). Its photos are packed as pans instead of stills: `pans` segments a
photo, each a crop moved by one random velocity (`train.data.pan`, as the loader pans a still), degraded like the video
segments; the loader draws them with probability `data.photo_share`. A still is panned per sample, and compressing
the pan needs PyAV, so a pack must do it ahead of time. (On 2 cores, photos in 70 % of samples gave the compressed
model 0.04 dB at CRF 26: runs.md, 2026-12-07.)
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..degrade import Protocol, parse_protocol
from ..degrade.protocol import VIDEO_STAGES
from ..errors import InputError, OutputError, UsageError
from ..io.rgb_clips import read_rgb_clip, write_rgb_clip
from .data import FrameStore, find_sources, load_photos

MANIFEST = "pack.json"
FORMAT = 1
# raw elementary streams, which OpenCV's FFmpeg reads; VP9 has none (it needs a container), so a pack refuses it
_STREAM_SUFFIX = {"h264": ".h264", "h265": ".hevc", "mpeg4": ".m4v"}


def pack_training_data(videos: list[str], photos: list[str], out: str | Path, *, budget_mb: float = 36.0,
                       segment: int = 32, hr_downscale: float = 0.5, crf: int = 10, cache: str | None = None,
                       degradation: str | None = None, variants: int = 3, scale: int = 4, seed: int = 0,
                       pans: int = 2, pan_size: int = 256, pan_frames: int = 16) -> dict:
    """Write a pack of `videos` (files and frame folders) and `photos` to the folder `out` within `budget_mb` (made
    beside it and moved into place only when complete); returns the manifest. With `degradation`, each segment
    also gets `variants` low-resolution inputs at ×1/`scale` (drawn from `seed`), and each photo becomes `pans`
    panned segments of `pan_frames` frames of up to `pan_size`² pixels, degraded the same way."""
    out = Path(out)
    if out.exists():
        raise OutputError(f"{out} exists; remove it or choose another --out")
    protocol = parse_protocol(degradation) if degradation else None
    if protocol is not None:
        protocol.apply_before_codec(torch.zeros(2, 3, 8 * scale, 8 * scale), scale)  # a chain it cannot pack fails now
        unpackable = [stage.name for stage in protocol.stages if stage.name in VIDEO_STAGES
                      and stage.name not in _STREAM_SUFFIX]
        if unpackable:
            raise UsageError(f"degradation {protocol.text!r}: a pack stores {', '.join(_STREAM_SUFFIX)} streams, "
                             f"not {unpackable[0]}")
        if variants < 1:
            raise InputError(f"variants must be at least 1, not {variants}")
        if pans < 0:
            raise InputError(f"pans must be 0 or more, not {pans}")
    sources = find_sources(videos, exclude=photos)
    if not sources:
        raise InputError(f"no video files or frame folders in {', '.join(videos)}")
    store = FrameStore(sources, downscale=hr_downscale, cache=cache)
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "clips").mkdir(parents=True)
    budget = budget_mb * 2 ** 20
    manifest = {"format": FORMAT, "hr_downscale": hr_downscale, "crf": crf, "codec": "libx264rgb", "segment": segment,
                "budget_mb": budget_mb, "clips": [], "photos": []}
    if protocol is not None:
        manifest |= {"degradation": protocol.text, "scale": scale, "variants": variants, "seed": seed}
    try:
        stills = load_photos(photos, hr_downscale) if photos else []
        if protocol is None:
            spent = _pack_photos(stills, partial, manifest, budget / 5)
        else:
            spent = _pack_pans(stills, partial, manifest, budget / 5, protocol, pans, pan_size, pan_frames, crf,
                               variants)
        queues = [_spread_starts(len(clip), segment) for clip in store.clips]
        while spent < budget and any(queues):
            for index, (name, clip) in enumerate(zip(store.names, store.clips)):
                if queues[index] and spent < budget:
                    spent += _pack_segment(partial, manifest, index, name, clip, queues[index].pop(0), segment, crf)
                    if protocol is not None:
                        spent += _pack_degraded(partial, manifest["clips"][-1], protocol, scale, variants,
                                                np.random.default_rng([seed, len(manifest["clips"])]))
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=1))
        partial.rename(out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return manifest


def _pack_segment(folder: Path, manifest: dict, index: int, name: str, clip: Tensor, start: int, segment: int,
                  crf: int) -> int:
    return _pack_frames(folder, manifest, f"clips/{index:02d}_{Path(name).stem}_{start:05d}.mp4",
                        clip[start:start + segment], crf, {"source": name, "start": start})


def _pack_frames(folder: Path, manifest: dict, relative: str, frames: Tensor, crf: int, about: dict) -> int:
    scale = manifest.get("scale", 1)  # a degraded pack's segments are cut to whole low-resolution pixels
    frames = frames[..., :frames.shape[-2] // scale * scale, :frames.shape[-1] // scale * scale]
    write_rgb_clip(folder / relative, frames, crf)
    size = (folder / relative).stat().st_size
    psnr = _psnr(read_rgb_clip(folder / relative, len(frames)), frames)
    manifest["clips"].append({"file": relative, **about, "frames": len(frames), "psnr_db": round(psnr, 2),
                              "bytes": size})
    return size


def _pack_pans(stills: list[Tensor], folder: Path, manifest: dict, budget: float, protocol: Protocol, pans: int,
               pan_size: int, frames: int, crf: int, variants: int) -> int:
    """Each still as `pans` panned segments of `frames` frames with their degraded inputs, until `budget` is spent:
    a first pan of every photo, then a second..., so that a budget that stops early still holds every photo. A
    photo too small for a pan of at least a quarter of `pan_size` is skipped."""
    from .data import PAN_SPEED, pan

    scale, seed, spent = manifest["scale"], manifest["seed"], 0
    sizes = [min(pan_size, min(still.shape[-2:]) - PAN_SPEED * (frames - 1)) // scale * scale for still in stills]
    for k in range(pans):
        for index, (still, size) in enumerate(zip(stills, sizes)):
            if spent >= budget:
                return spent
            if size < pan_size // 4:
                continue
            rng = np.random.default_rng([seed, 1_000_000 + index, k])  # apart from the video segments' draws
            relative = f"clips/pan{index:03d}_{k}.mp4"
            spent += _pack_frames(folder, manifest, relative, pan(still, rng, frames, size), crf,
                                  {"source": f"photo {index}", "start": 0, "pan": True})
            spent += _pack_degraded(folder, manifest["clips"][-1], protocol, scale, variants, rng)
    return spent


def _pack_degraded(folder: Path, entry: dict, protocol: Protocol, scale: int, variants: int,
                   rng: np.random.Generator) -> int:
    """The segment of `entry`, as packed, degraded `variants` times; each variant's file and draws go in `entry`."""
    from ..io.compress import read_codec_stream, write_codec_stream
    from ..ops.color import quantize

    hr = read_rgb_clip(folder / entry["file"], entry["frames"]).float().div(255)
    entry["lr"], spent = [], 0
    for v in range(variants):
        x, codec = protocol.apply_before_codec(hr, scale, rng)
        stem = f"{entry['file'].removesuffix('.mp4')}_lr{v}"
        if codec is None:  # the chain's draw skipped the codec: the input as it is, losslessly (x264 at CRF 0)
            relative, drawn, exact = f"{stem}.mp4", "none", quantize(x)
            write_rgb_clip(folder / relative, exact.mul(255).round().to(torch.uint8), 0)
        else:
            name, values = codec
            relative, drawn = stem + _STREAM_SUFFIX[name], f"{name} " + " ".join(f"{k}={v}" for k, v in values.items())
            write_codec_stream(folder / relative, x, name, **values)
            exact = _crop(read_codec_stream(folder / relative), x.shape[-2:])  # as PyAV decodes it
        stored = _crop(read_rgb_clip(folder / relative, len(x)), x.shape[-2:])  # as the loader will
        size = (folder / relative).stat().st_size
        entry["lr"].append({"file": relative, "codec": drawn, "bytes": size,
                            "decode_max_diff": int((stored.float() - exact.mul(255).round()).abs().max())})
        spent += size
    return spent


def _crop(frames: Tensor, size) -> Tensor:
    """`frames` without a codec's padding (to even and smallest sizes, bottom and right)."""
    return frames[..., :size[0], :size[1]].contiguous()


def _spread_starts(length: int, segment: int) -> list[int]:
    """Start frames of the clip's whole segments, ordered so that any prefix is spread over the clip (the start, the
    middle, then the quarters, the eighths...): a budget that stops early still samples the whole clip."""
    count = max(1, length // segment) if length >= segment else (1 if length >= 2 else 0)
    order = sorted(range(count), key=lambda i: (_bit_reverse_rank(i, count), i))
    return [min(i * segment, max(0, length - segment)) for i in order]


def _bit_reverse_rank(i: int, count: int) -> float:
    """i's position in the van der Corput order of `count` slots (0 → 0, then the middle, then the quarters...)."""
    bits = max(1, math.ceil(math.log2(max(count, 2))))
    return int(format(i, f"0{bits}b")[::-1], 2) / 2 ** bits


def _pack_photos(photos: list[Tensor], folder: Path, manifest: dict, budget: float) -> int:
    from ..io.frames import write_png

    spent = 0
    for index, photo in enumerate(photos):
        relative = f"photos/{index:03d}.png"
        (folder / "photos").mkdir(exist_ok=True)
        write_png(folder / relative, photo.float().div(255))  # uint8 / 255 rounds back to itself
        size = (folder / relative).stat().st_size
        if spent + size > budget:
            (folder / relative).unlink()
            break
        spent += size
        manifest["photos"].append(relative)
    return spent


def _psnr(a: Tensor, b: Tensor) -> float:
    mse = (a.float() - b.float()).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)


class PackedStore:
    """`FrameStore`'s clips and `load_photos`' stills, read from a pack (see `pack_training_data`)."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            raise InputError(f"not a training pack (no {MANIFEST}): {folder}")
        try:
            manifest = json.loads(manifest_path.read_text())
            entries = [(folder / c["file"], int(c["frames"]), c["source"]) for c in manifest["clips"]]
        except (ValueError, KeyError, TypeError) as error:
            raise InputError(f"training pack manifest is corrupt: {manifest_path} ({error})") from None
        if manifest.get("format") != FORMAT:
            raise InputError(f"training pack format {manifest.get('format')} is not {FORMAT}: {folder}")
        self.manifest = manifest
        self.hr_downscale = float(manifest["hr_downscale"])
        self.clips = [read_rgb_clip(path, frames) for path, frames, _ in entries]
        self.names = [source for _, _, source in entries]
        self.pans = frozenset(i for i, c in enumerate(manifest["clips"]) if c.get("pan"))
        self.photos = [_read_photo(folder / p) for p in manifest.get("photos", [])]
        # A degraded pack: each clip's low-resolution inputs, and the chain that made them (None: a clean pack).
        self.degradation: str | None = manifest.get("degradation")
        self.degraded: list[list[Tensor]] | None = None
        self.scale: int | None = None
        if self.degradation:
            self.scale = scale = int(manifest["scale"])
            try:
                self.degraded = [[_crop(read_rgb_clip(folder / v["file"], len(clip)),
                                        (clip.shape[-2] // scale, clip.shape[-1] // scale)) for v in c["lr"]]
                                 for clip, c in zip(self.clips, manifest["clips"])]
            except (KeyError, TypeError) as error:
                raise InputError(f"training pack manifest is corrupt: {manifest_path} ({error})") from None


def _read_photo(path: Path) -> Tensor:
    from ..io.probe import read_image

    return torch.from_numpy(read_image(path)).permute(2, 0, 1).contiguous()

