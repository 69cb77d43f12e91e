"""Check stvsr's NIQE against BasicSR's independent implementation (which matches the LIVE MATLAB release to 1e-4).

    pip download --no-deps basicsr==1.4.2 -d /tmp/basicsr && tar xzf /tmp/basicsr/basicsr-1.4.2.tar.gz -C /tmp/basicsr
    pip install scipy
    python benchmarks/check_niqe.py /tmp/basicsr/basicsr-1.4.2 IMAGE [IMAGE ...]

BasicSR's package __init__ pulls in torchvision and training code, so only the four modules NIQE needs are loaded,
from a scratch copy of the source tree.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from stvsr.io.frames import array_to_tensor
from stvsr.io.probe import read_image
from stvsr.metrics.niqe import niqe


def load_basicsr_niqe(source: Path):
    scratch = Path(tempfile.mkdtemp())
    package = scratch / "basicsr"
    for sub in ("", "utils", "metrics"):
        (package / sub).mkdir(parents=True, exist_ok=True)
        (package / sub / "__init__.py").write_text("")
    for name in ("utils/matlab_functions.py", "utils/color_util.py", "utils/registry.py", "metrics/metric_util.py",
                 "metrics/niqe_pris_params.npz"):
        shutil.copy(source / "basicsr" / name, package / name)
    (package / "utils/__init__.py").write_text("from .color_util import bgr2ycbcr\n")
    text = (source / "basicsr/metrics/niqe.py").read_text().replace("scipy.ndimage.filters", "scipy.ndimage")
    (package / "metrics/niqe.py").write_text(text)
    sys.path.insert(0, str(scratch))
    from basicsr.metrics import niqe as module

    return module


def float64_resize(module):
    """BasicSR's imresize returns float32 (errors ~1e-7), which NIQE's ill-conditioned fit on few blocks amplifies;
    swap in stvsr's float64 imresize (itself checked against Pillow and hand-computed weights in the tests)."""
    import torch

    from stvsr.ops.resize import imresize

    original = module.imresize
    module.imresize = lambda img, scale, antialiasing=True: imresize(torch.from_numpy(np.asarray(img, np.float64)),
                                                                     scale).numpy()
    return original


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="stvsr's NIQE against BasicSR's on the same images, in float64.")
    parser.add_argument("basicsr", type=Path, help="an unpacked BasicSR source tree (e.g. basicsr-1.4.2)")
    parser.add_argument("images", type=Path, nargs="+", help="images to score")
    args = parser.parse_args()
    source, images = args.basicsr, args.images
    basicsr = load_basicsr_niqe(source)
    params = np.load(source / "basicsr/metrics/niqe_pris_params.npz")
    worst = 0.0
    # BasicSR's calculate_niqe runs in float32; MATLAB, and stvsr, in float64. In flat regions the local variance
    # E[x²] − μ² cancels in float32, and with few 96×96 blocks NIQE's covariance fit amplifies tiny input changes,
    # so the shipped function can differ by tenths. Its Y after rounding is integral, so feeding that Y to its
    # `niqe()` in float64 compares the algorithms at MATLAB's precision.
    print("| image | stvsr | BasicSR in float64 | difference | BasicSR as shipped (float32) |")
    print("|---|---:|---:|---:|---:|")
    for path in images:
        rgb = read_image(path)
        ours = niqe(array_to_tensor(rgb))
        y = basicsr.to_y_channel(rgb[:, :, ::-1].astype(np.float32)).squeeze().round()
        original = float64_resize(basicsr)
        theirs64 = basicsr.niqe(y.astype(np.float64), params["mu_pris_param"], params["cov_pris_param"],
                                params["gaussian_window"])
        basicsr.imresize = original
        theirs32 = basicsr.calculate_niqe(rgb[:, :, ::-1].astype(np.float32), crop_border=0, input_order="HWC",
                                          convert_to="y")
        worst = max(worst, abs(ours - theirs64))
        print(f"| {path.name} | {ours:.6f} | {theirs64:.6f} | {abs(ours - theirs64):.1e} | {theirs32:.4f} |")
    print(f"largest difference from BasicSR in float64: {worst:.2e}")


if __name__ == "__main__":
    main()
