"""Which blocks of the detail network stamp a periodic pattern? (docs/experiments/per-frame-and-multi-frame.md: the perceptual loss.)

Optimises the pixels of a bicubic upsampling of two dev frames directly against MSE + 0.01 x the L1 distance of one
set of detail-network blocks to the ground truth (120 Adam steps), and prints PSNR and the periodic amplitude
(`checker`, 8-bit levels) of the result for each set. Run: python benchmarks/perceptual_pattern_probe.py
"""

import time

import torch

from stvsr.data.clips import open_clips
from stvsr.losses.perceptual import load_detail_features
from stvsr.metrics.artifacts import periodic_amplitude
from stvsr.ops.resize import imresize


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/dev/vimeo_septuplet", help="Vimeo septuplet folder")
    args = parser.parse_args()
    torch.set_num_threads(1)
    clips = list(open_clips(args.data, "vimeo"))[:2]
    hr = torch.stack([c.float_frames()[3] for c in clips])
    base = imresize(imresize(hr, 0.25).clamp(0, 1), 4).clamp(0, 1)
    net = load_detail_features()
    with torch.no_grad():
        wanted = net(hr)
    for blocks in [(), (0,), (1,), (2,), (0, 1, 2)]:
        x = base.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([x], lr=2e-3)
        started = time.time()
        for _ in range(120):
            features = net(x)
            loss = ((x - hr) ** 2).mean()
            if blocks:
                loss = loss + 0.01 * sum((features[k] - wanted[k]).abs().mean() for k in blocks) / len(blocks)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            y = x.clamp(0, 1)
            psnr = -10 * torch.log10(((y - hr) ** 2).mean())
        print(blocks, f"psnr {psnr:.2f} checker {periodic_amplitude(y, hr):.2f} ({time.time() - started:.0f}s)",
              flush=True)
    print("bicubic checker", periodic_amplitude(base, hr))


if __name__ == "__main__":
    main()
