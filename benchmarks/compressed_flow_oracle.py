"""Does optical flow on compressed input hold the compressed model back? `propstvsr` aligns its recurrent states with
DIS flow computed on its own low-resolution input; on an x264 clip that input has blocks and ringing. This runs the
model on the compressed clip three times, changing only the frames its flow is computed on:

- `own`: the compressed frames themselves (what the product does);
- `clean`: the same clip's low-resolution frames before the codec (an oracle: no user has them);
- `blurred`: the compressed frames smoothed by a Gaussian (σ = 1 pixel), a prefilter a product could use.

If the oracle gains little, alignment is not what limits the model at this compression.

    python benchmarks/compressed_flow_oracle.py [--model propstvsr.x4_real] [--degradation BI+h264:crf=26]
        [--dev ../shared/data/dev/vimeo_septuplet]

PSNR-Y over every frame of each dev clip (the VSR protocol), mean and worst clip.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

import stvsr.models.propagation as propagation
from stvsr.data.clips import open_clips
from stvsr.degrade import degrade
from stvsr.degrade.stages import blur
from stvsr.inference import prepare
from stvsr.metrics.fidelity import psnr

GUIDES = ("own", "clean", "blurred")


def run_with_flow_from(model, lr: torch.Tensor, guide: torch.Tensor | None) -> torch.Tensor:
    """`model` on the clip `lr` (T, 3, h, w), its DIS flows computed on `guide` (same shape) instead where given.
    The model's forward asks for the forward flows of its neighbouring frames, then the backward ones
    (`PropagationSTVSR.forward`), so the stand-in answers those two calls in that order from `guide`."""
    real, calls = propagation.dis_flow, 0

    def from_guide(a, b, preset="medium", backend="auto"):
        nonlocal calls
        calls += 1
        if guide is None:
            return real(a, b, preset, backend)
        pair = (guide[:-1], guide[1:]) if calls == 1 else (guide[1:], guide[:-1])
        return real(*pair, preset, backend)

    propagation.dis_flow = from_guide
    try:
        with torch.no_grad():
            out = model(lr[None])[0].clamp(0, 1)
    finally:
        propagation.dis_flow = real
    if calls != 2:  # the model changed how it asks for flow: the comparison would not mean what it says
        raise RuntimeError(f"expected 2 flow calls per clip, saw {calls}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="propstvsr.x4_real")
    parser.add_argument("--degradation", default="BI+h264:crf=26")
    parser.add_argument("--dev", default="../shared/data/dev/vimeo_septuplet")
    args = parser.parse_args()
    model = prepare(args.model, scale=4, time_factor=1, device=torch.device("cpu"))
    scores = {guide: [] for guide in GUIDES}
    started = time.perf_counter()
    for clip in open_clips(args.dev, "vimeo"):
        hr = clip.float_frames()
        compressed, clean = degrade(hr, args.degradation, 4), degrade(hr, "BI", 4)
        for guide, frames in zip(GUIDES, (None, clean, blur(compressed, 1.0))):
            out = run_with_flow_from(model, compressed, frames)
            scores[guide].append(psnr(out, hr).mean().item())
    print(f"{args.model} on dev through {args.degradation} ({len(scores['own'])} clips, "
          f"{time.perf_counter() - started:.0f} s; {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads)")
    print("flow computed on | PSNR-Y | worst clip | clips above own")
    own = np.array(scores["own"])
    for guide in GUIDES:
        values = np.array(scores[guide])
        above = "" if guide == "own" else f"{int((values > own).sum())} of {len(values)}"
        print(f"{guide} | {values.mean():.3f} | {values.min():.3f} | {above}")


if __name__ == "__main__":
    main()
