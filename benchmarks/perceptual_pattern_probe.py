"""Which blocks of the detail network stamp a periodic pattern? (BENCHMARKS.md, issue 12: the perceptual loss.)

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
torch.set_num_threads(1)
clips = list(open_clips("../shared/data/dev/vimeo_septuplet", "vimeo"))[:2]
hr = torch.stack([c.float_frames()[3] for c in clips])
lr = imresize(hr, 0.25).clamp(0, 1)
base = imresize(lr, 4).clamp(0, 1)
net = load_detail_features()
with torch.no_grad():
    want = net(hr)
for layers in [(), (0,), (1,), (2,), (0, 1, 2)]:
    x = base.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=2e-3)
    t = time.time()
    for i in range(120):
        feats = net(x)
        mse = ((x - hr) ** 2).mean()
        perc = sum((feats[k] - want[k]).abs().mean() for k in layers) / max(len(layers), 1) if layers else 0
        loss = mse + 0.01 * perc
        opt.zero_grad(); loss.backward(); opt.step()
    with torch.no_grad():
        y = x.clamp(0, 1)
        psnr = -10 * torch.log10(((y - hr) ** 2).mean())
    print(layers, f"psnr {psnr:.2f} checker {periodic_amplitude(y, hr):.2f} ({time.time()-t:.0f}s)", flush=True)
print("bicubic checker", periodic_amplitude(base, hr))
