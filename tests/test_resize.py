"""MATLAB-compatible imresize: kernel values, weights, and agreement with Pillow on the interior."""

import numpy as np
import pytest
import torch
from PIL import Image

from stvsr.ops.resize import contributions, cubic, imresize, imresize_np


def test_cubic_kernel_known_values():
    # Keys (1981) with a = -0.5: 1.5|x|^3 - 2.5|x|^2 + 1 on |x| <= 1, -0.5|x|^3 + 2.5|x|^2 - 4|x| + 2 on 1 < |x| <= 2.
    x = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5], dtype=torch.float64)
    expected = [1.0, 0.8671875, 0.5625, 0.2265625, 0.0, -0.0703125, -0.0625, -0.0234375, 0.0, 0.0]
    assert torch.allclose(cubic(x), torch.tensor(expected, dtype=torch.float64))


def test_upscale_weights_hand_computed():
    # x2: output sample j (1-based) sits at input coordinate u = j/2 + 0.25 (MATLAB's mapping u = x/s + (1 - 1/s)/2).
    # j = 5 -> u = 2.75: inputs 1..4 at distances 1.75, 0.75, -0.25, -1.25.
    index, weights = contributions(8, 16, 2.0, "cubic", True)
    taps = dict(zip(index[4].tolist(), weights[4].tolist()))
    expected = {0: -0.0234375, 1: 0.2265625, 2: 0.8671875, 3: -0.0703125}
    for i, w in expected.items():
        assert taps[i] == pytest.approx(w, abs=1e-7)
    row = torch.arange(8, dtype=torch.float64).pow(2)[None]  # a non-linear row, so weights matter
    out = imresize(row, 2.0)
    assert out[0, 4].item() == pytest.approx(sum(w * row[0, i].item() for i, w in expected.items()), abs=1e-9)


def test_symmetric_border():
    # j = 1 -> u = 0.75: taps at input positions -2..3 (1-based) mirror to 2, 1, 1, 2, 3 (0-based 1, 0, 0, 1, 2).
    index, weights = contributions(8, 16, 2.0, "cubic", True)
    taps = {}
    for i, w in zip(index[0].tolist(), weights[0].tolist()):
        taps[i] = taps.get(i, 0.0) + w
    assert taps[0] == pytest.approx(0.2265625 + 0.8671875, abs=1e-7)
    assert taps[1] == pytest.approx(-0.0234375 - 0.0703125, abs=1e-7)


@pytest.mark.parametrize("scale", [2, 3, 4, 0.5, 0.25])
def test_matches_pillow_bicubic_on_interior(scale):
    # Pillow's BICUBIC is also Keys a = -0.5 with the kernel stretched when downscaling; only borders differ.
    rng = np.random.default_rng(0)
    image = rng.random((64, 80)).astype(np.float32)
    out_h, out_w = int(64 * scale), int(80 * scale)
    ours = imresize(torch.from_numpy(image), scale).numpy()
    pillow = np.asarray(Image.fromarray(image, mode="F").resize((out_w, out_h), Image.BICUBIC))
    border = int(np.ceil(2 * max(scale, 1))) + 2  # the kernel's reach (2 input pixels) in output pixels, plus slack
    inner = (slice(border, -border), slice(border, -border))
    assert np.abs(ours[inner] - pillow[inner]).max() < 1e-4


def test_constant_stays_constant_and_shapes():
    flat = torch.full((2, 3, 7, 9), 0.3)
    for scale in (2, 3, 4, 0.5):
        out = imresize(flat, scale)
        assert out.shape[-2:] == (int(np.ceil(7 * scale)), int(np.ceil(9 * scale)))
        assert torch.allclose(out, torch.full_like(out, 0.3), atol=1e-6)


def test_numpy_uint8_rounds_like_matlab():
    image = (np.arange(64, dtype=np.uint8).reshape(8, 8) * 3)
    out = imresize_np(image, 0.5)
    assert out.dtype == np.uint8 and out.shape == (4, 4)
    exact = imresize(torch.from_numpy(image.astype(np.float64)), 0.5).numpy()
    assert np.array_equal(out, np.clip(np.round(exact), 0, 255).astype(np.uint8))


def test_lanczos_and_bad_arguments():
    x = torch.rand(1, 3, 10, 10)
    assert imresize(x, 2, kernel="lanczos3").shape == (1, 3, 20, 20)
    with pytest.raises(ValueError):
        imresize(x, 2, kernel="nearest")
    with pytest.raises(ValueError):
        imresize(x)


@pytest.mark.parametrize("kernel", ["cubic", "lanczos3"])
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_fast_integer_upscale_equals_the_general_gather(kernel, factor):
    from stvsr.ops.resize import _upsample_last_dim

    x = torch.rand(2, 3, 9, 13, dtype=torch.float64)
    index, weights = contributions(13, 13 * factor, float(factor), kernel, True)
    gathered = (x.index_select(-1, index.flatten()).view(2, 3, 9, 13 * factor, -1) * weights.double()).sum(-1)
    assert torch.allclose(_upsample_last_dim(x, factor, kernel), gathered, atol=1e-6)


@pytest.mark.parametrize("kernel", ["cubic", "lanczos3"])
@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("antialias", [True, False])
def test_fast_integer_downscale_equals_the_general_gather(kernel, factor, antialias):
    from stvsr.ops.resize import _downsample_last_dim

    n = 12 * factor * 6
    x = torch.rand(2, 3, 5, n, dtype=torch.float64)
    index, weights = contributions(n, n // factor, 1 / factor, kernel, antialias)
    gathered = (x.index_select(-1, index.flatten()).view(2, 3, 5, n // factor, -1) * weights.double()).sum(-1)
    assert torch.allclose(_downsample_last_dim(x, factor, kernel, antialias), gathered, atol=1e-9)


def test_cached_weights_made_in_inference_mode_still_train():
    # 29 -> 41 columns: a size no other test uses, so the first call here fills the cache
    with torch.inference_mode():
        imresize(torch.rand(1, 3, 5, 29), size=(5, 41))
    x = torch.rand(1, 3, 5, 29, requires_grad=True)
    imresize(x, size=(5, 41)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("kernel", ["cubic", "lanczos3"])
def test_the_opencv_upscaling_path_matches_the_torch_one(factor, kernel, monkeypatch):
    import stvsr.ops.resize as resize

    calls = []
    fast = resize._upsample_opencv
    monkeypatch.setattr(resize, "_upsample_opencv", lambda *a: calls.append(1) or fast(*a))
    x = torch.rand(2, 3, 13, 17)
    out = imresize(x, factor, kernel=kernel)  # float32 on the CPU: OpenCV's filters
    reference = imresize(x.double(), factor, kernel=kernel)  # float64: the matrix product
    assert calls and out.dtype == torch.float32 and out.shape == (2, 3, 13 * factor, 17 * factor)
    assert torch.allclose(out.double(), reference, atol=1e-5)
    assert imresize(x.requires_grad_(), factor, kernel=kernel).requires_grad and len(calls) == 1


def test_autocast_does_not_lower_the_precision_of_the_resize():
    # SR models add imresize's output to their network's: under bf16 autocast its matrix products once ran in
    # bf16, and the base image was off by up to a grey level.
    x = torch.rand(1, 3, 12, 16)
    reference = imresize(x.double(), 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for image in (x, x.clone().requires_grad_()):  # the OpenCV path and the matrix-product one
            out = imresize(image, 4)
            assert out.dtype == torch.float32
            assert torch.allclose(out.double(), reference, atol=1e-5)
