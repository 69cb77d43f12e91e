"""How far a reduced-precision run of a network is from its fp32 output, on frames of the bundled real clip.

    python benchmarks/precision_agreement.py [--models imdn.x4,propstvsr.x4] [--frames 8] [--precision bf16]

Each model runs on the first `--frames` frames of samples/dog.mp4 (320x180, x4) as `stvsr upscale` runs it
(`inference.prepare`, tile auto) at fp32 and at `--precision`; both outputs are rounded to 8 bits and compared
(PSNR over all frames, RGB). bf16 needs a device that computes it natively.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from stvsr.errors import StvsrError
from stvsr.inference import prepare
from stvsr.io import VideoReader
from stvsr.ops.color import quantize
from stvsr.metrics.fidelity import mse
from stvsr.runtime import pick_device

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "dog.mp4"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="imdn.x4,propstvsr.x4")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    with VideoReader(SAMPLE) as reader:
        clip = torch.stack([f for _, f in zip(range(args.frames), reader)])[None].to(device)
    for name in args.models.split(","):
        outputs = {}
        for precision in ("fp32", args.precision):
            try:
                model = prepare(name, scale=4, time_factor=1, device=device, tile="auto", precision=precision)
            except StvsrError as error:
                raise SystemExit(f"precision_agreement: {error}") from None
            with torch.inference_mode():
                outputs[precision] = model(clip)[0]
        error = mse(outputs[args.precision], quantize(outputs["fp32"]), channel="rgb").mean()  # both in 8 bits
        print(f"{name}: {args.precision} against fp32, 8 bits: {(-10 * torch.log10(error)).item():.2f} dB "
              f"PSNR over {args.frames} frames ({device})")


if __name__ == "__main__":
    main()
