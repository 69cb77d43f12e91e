"""Before/after crops of a real compressed clip for the README (issue 39): the bundled sample re-encoded with
libx264 at a low quality, then enlarged x4 by bicubic, by the clean default's x4 model, by the model trained on
compressed input and by its GAN-trained twin; one crop of the middle frame from each, side by side with labels,
written as one PNG.

    python scripts/compressed_crops.py [--crf 32] [--frames 24] [--out docs/compressed_crops.png]
        [--methods bicubic,propstvsr.x4_l,propstvsr.x4_real,propstvsr.x4_real_gan]

No ground truth exists for a real clip: this shows what a user sees (block edges enlarged or removed); the numbers
are the dev-set tables (BENCHMARKS.md, "Compressed input").
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

from stvsr.inference import prepare, run_windows
from stvsr.io import VideoReader
from stvsr.io.frames import tensor_to_array
from stvsr.data.synthetic_video import write_synthetic_video

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=ROOT / "samples" / "dog.mp4")
    parser.add_argument("--crf", type=int, default=32)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--methods", default="bicubic,propstvsr.x4_l,propstvsr.x4_real,propstvsr.x4_real_gan")
    parser.add_argument("--crop", default="40,10,72,110", help="y,x,h,w of the crop in input pixels")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "compressed_crops.png")
    args = parser.parse_args()
    with VideoReader(args.input) as reader:
        frames = [f for _, f in zip(range(args.frames), reader)]
    with tempfile.TemporaryDirectory() as tmp:
        coded = Path(tmp) / "coded.mp4"
        write_synthetic_video(coded, frames, fps=reader.fps, options={"crf": str(args.crf), "preset": "medium"})
        with VideoReader(coded) as reader:
            low = list(reader)
    y, x, h, w = (int(v) for v in args.crop.split(","))
    middle = len(low) // 2
    tiles = []
    for method in args.methods.split(","):
        model = prepare(method, scale=4, time_factor=1, device=torch.device("cpu"), precision="fp32")
        with torch.inference_mode():
            out = list(run_windows(model, iter(low), device=torch.device("cpu")))[middle]
        crop = tensor_to_array(out[:, 4 * y:4 * (y + h), 4 * x:4 * (x + w)].clamp(0, 1))[:, :, ::-1].copy()
        label = np.full((28, crop.shape[1], 3), 255, np.uint8)
        cv2.putText(label, method, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.vstack([label, crop]))
        tiles.append(np.full((tiles[-1].shape[0], 6, 3), 255, np.uint8))
    sheet = np.hstack(tiles[:-1])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])  # the README carries it: smallest lossless file
    print(f"wrote {args.out}: frame {middle} of {args.input.name} through libx264 CRF {args.crf}, crop {args.crop}")


if __name__ == "__main__":
    main()
