"""How many frames a per-frame network should take per call on this CPU, and in which memory layout.

    python benchmarks/frame_batches.py [--model imdn.x4] [--frames 20] [--sizes 320x180,480x270]
                                       [--chunks 20,4,2,1] [--precisions fp32,bf16]

The shipped network's SR backbone (imdn.x4: the one propstvsr.x4 runs on every frame of its 20-frame windows) runs
over `--frames` random frames of each input size, split into calls of each `--chunks` frames, in NCHW and in
channels-last, at each precision (bf16 as autocast, where the CPU computes it natively). Printed: ms per frame,
best of 2 after a warm-up. `stvsr.ops.batching.CPU_PIXELS_PER_CALL` and the channels-last choice of
`stvsr.models.build.Prepared` come from this table (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import time

import torch

from _sizes import parse_sizes
from stvsr.errors import StvsrError
from stvsr.models.build import conv_layout
from stvsr.models.checkpoint import load_model
from stvsr.models.shipped import shipped
from stvsr.runtime import native_bf16


def per_frame_ms(net: torch.nn.Module, frames: torch.Tensor, chunk: int, dtype: torch.dtype | None) -> float:
    best = float("inf")
    with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
        for attempt in range(3):  # the first is a warm-up (oneDNN picks and caches its kernels)
            started = time.perf_counter()
            for part in frames.split(chunk):
                net(part)
            if attempt:
                best = min(best, time.perf_counter() - started)
    return best / frames.shape[0] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="imdn.x4")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--sizes", type=parse_sizes, default="320x180,480x270", help="input sizes, WxH")
    parser.add_argument("--chunks", default="20,4,2,1")
    parser.add_argument("--precisions", default="fp32,bf16")
    args = parser.parse_args()
    entry = shipped(args.model)
    if entry is None:
        raise SystemExit(f"frame_batches: unknown shipped model {args.model!r} (`stvsr models` lists them)")
    try:
        model, _ = load_model(entry.path)
    except StvsrError as error:
        raise SystemExit(f"frame_batches: {error}") from None
    net = getattr(model, "net", model).eval()
    chunks = [int(c) for c in args.chunks.split(",")]
    print(f"{args.model} backbone, {args.frames} frames, {torch.get_num_threads()} threads; ms per frame")
    print("| input | precision | layout | " + " | ".join(f"{c} a call" for c in chunks) + " |")
    print("|---|---|---|" + "---:|" * len(chunks))
    for width, height in args.sizes:
        size = f"{width}x{height}"
        frames = torch.rand(args.frames, 3, height, width, generator=torch.Generator().manual_seed(0))
        for precision in args.precisions.split(","):
            if precision == "bf16" and not native_bf16(torch.device("cpu")):
                print(f"| {size} | bf16 | - | skipped: this CPU has no native bf16 |")
                continue
            dtype = torch.bfloat16 if precision == "bf16" else None
            for layout in (torch.contiguous_format, torch.channels_last):
                conv_layout(net, layout)
                times = [per_frame_ms(net, frames, chunk, dtype) for chunk in chunks]
                name = "NCHW" if layout is torch.contiguous_format else "channels-last"
                print(f"| {size} | {precision} | {name} | " + " | ".join(f"{t:.1f}" for t in times) + " |",
                      flush=True)


if __name__ == "__main__":
    main()
