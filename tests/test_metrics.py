"""Metrics against known values and independent references."""

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from stvsr.data.synthetic import translating_clip
from stvsr.metrics import METRICS
from stvsr.metrics.fidelity import mse, psnr, ssim
from stvsr.metrics.niqe import aggd_fit, niqe
from stvsr.metrics.temporal import consistency_mask, tof, warping_error
from stvsr.ops.color import rgb_to_y
from stvsr.ops.filters import gaussian_blur


def test_y_of_pure_colours():
    # BT.601 studio range (MATLAB rgb2ycbcr): Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, R,G,B in [0, 255].
    colours = torch.tensor([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float64)
    y = rgb_to_y(colours.view(5, 3, 1, 1)).flatten() * 255
    assert torch.allclose(y, torch.tensor([16.0, 235.0, 81.481, 144.553, 40.966], dtype=torch.float64))


def test_psnr_identical_is_inf_and_known_mse():
    a = torch.rand(2, 3, 16, 16).mul(255).round().div(255)
    assert torch.isinf(psnr(a, a)).all()
    # Every RGB value off by exactly 1 level: MSE = 1, PSNR = 10 log10(255²) = 48.1308 dB.
    b = (a * 255 + torch.where(a < 0.5, 1.0, -1.0)) / 255
    assert psnr(b, a, channel="rgb") == pytest.approx(20 * math.log10(255), abs=1e-6)
    assert mse(b, a) == pytest.approx(1 / 255 ** 2, rel=1e-6)


def test_prediction_is_rounded_and_clipped_first():
    target = torch.full((3, 8, 8), 0.5).mul(255).round().div(255)
    off_grid = target + 0.3 / 255  # rounds back onto the target
    assert torch.isinf(psnr(off_grid, target))
    assert psnr(target + 2.0, target, channel="rgb") == psnr(torch.ones_like(target), target, channel="rgb")


@pytest.mark.parametrize("channel", ["y", "rgb"])
def test_ssim_matches_skimage(channel):
    torch.manual_seed(0)
    a = torch.rand(3, 48, 64)
    b = gaussian_blur(a, 5, 1.0).clamp(0, 1)
    ours = ssim(b, a, channel=channel).item()
    pred = b.mul(255).round()
    if channel == "y":
        x, y = rgb_to_y(pred.double() / 255)[0] * 255, rgb_to_y(a.double())[0] * 255
        ref = structural_similarity(x.numpy(), y.numpy(), gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=255)
    else:
        x, y = pred.permute(1, 2, 0).double().numpy(), (a * 255).permute(1, 2, 0).double().numpy()
        ref = structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                    data_range=255, channel_axis=2)
    assert ours == pytest.approx(ref, abs=1e-4)


def test_crop_border():
    a = torch.rand(3, 32, 32).mul(255).round().div(255)
    b = a.clone()
    b[:, :4] = 1 - b[:, :4]  # damage only the top 4 rows
    assert torch.isinf(psnr(b, a, crop_border=4)) and not torch.isinf(psnr(b, a))


def test_warping_error_static_translation_and_flicker():
    clip = translating_clip(6, 96, 128, velocity=(2, 1))
    static = clip[:1].repeat(5, 1, 1, 1)
    assert warping_error(static) < 1e-10
    assert warping_error(clip) < 1e-4  # global integer translation: warps back almost exactly
    noisy = (clip + 0.05 * torch.randn(clip.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    for backend in ("dis", "farneback"):
        assert warping_error(noisy, flow_from=clip, backend=backend) > 100 * warping_error(clip, backend=backend)


def test_consistency_mask_flags_inconsistent_flow():
    forward = torch.zeros(1, 2, 8, 8)
    forward[:, 0] = 2.0
    backward = -forward
    assert consistency_mask(forward, backward).all()
    assert not consistency_mask(forward, forward).any()  # forward + backward = 4 px away from zero


def test_tof_zero_for_identical_and_grows_with_flicker():
    clip = translating_clip(5, 64, 64)
    assert tof(clip, clip) == 0
    noisy = (clip + 0.1 * torch.randn(clip.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert tof(noisy, clip) > 0.1


def test_niqe_finite_and_lower_for_sharp():
    image = translating_clip(1, 192, 192, seed=3)[0]
    sharp, blurred = niqe(image), niqe(gaussian_blur(image, 13, 2.0))
    assert math.isfinite(sharp) and math.isfinite(blurred) and sharp < blurred
    with pytest.raises(ValueError, match="96x96"):
        niqe(torch.rand(3, 64, 64))


def test_aggd_fit_recovers_a_gaussian():
    # A Gaussian is a generalised Gaussian with shape alpha = 2 and equal left/right scales sigma·sqrt(Γ(1/α)/Γ(3/α)).
    samples = np.random.default_rng(0).normal(0, 1.0, size=(1, 200_000))
    alpha, left, right = aggd_fit(samples)
    assert alpha[0] == pytest.approx(2.0, abs=0.05)
    assert left[0] == pytest.approx(math.sqrt(2), rel=0.03) and right[0] == pytest.approx(math.sqrt(2), rel=0.03)


def test_every_metric_names_its_protocol():
    target = translating_clip(3, 192, 192)  # NIQE needs 96x96 blocks with texture
    pred = (target + 0.02 * torch.randn(target.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    for name, metric in METRICS.items():
        assert metric.label and metric.protocol, name
        assert all(isinstance(k, str) and v not in (None, "") for k, v in metric.protocol.items()), name
        assert "definition" in metric.protocol or "channel" in metric.protocol, name  # what the number is
        values = metric.compute(pred, target, 0, {})
        values = values if isinstance(values, list) else [values]
        assert values and all(math.isfinite(v) for v in values), (name, values)


def _checker(height: int, width: int, period: int) -> torch.Tensor:
    """+1/−1 checkerboard whose cells are period/2 wide (period 3: the cell pattern of a 3x3 sub-pixel phase)."""
    y, x = torch.arange(height)[:, None], torch.arange(width)[None, :]
    return (((y % period) * 2 < period) ^ ((x % period) * 2 < period)).float() * 2 - 1


@pytest.mark.parametrize("period", [2, 3, 4])
def test_periodic_amplitude_finds_a_checkerboard_of_each_period(period):
    from stvsr.degrade import bicubic_down
    from stvsr.metrics import periodic_amplitude
    from stvsr.ops.resize import imresize

    hr = translating_clip(3, 96, 120, velocity=(1, 1), seed=2)
    clean = imresize(bicubic_down(hr, 4), 4)  # a bicubic upscale: smooth error, no periodic pattern
    assert periodic_amplitude(clean, hr) < 0.3
    noisy = (clean + torch.randn_like(clean) * 3 / 255).clamp(0, 1)  # random error is not periodic either
    assert periodic_amplitude(noisy, hr) < 0.5
    # a +-2 level checkerboard in RGB is +-1.72 levels in Y (219/255): its RMS is what the metric reports
    patterned = (clean + 2 / 255 * _checker(96, 120, period)).clamp(0, 1)
    assert periodic_amplitude(patterned, hr) == pytest.approx(2 * 219 / 255, rel=0.2)
    # the sign following the content (a checkerboard modulated by the image) is still caught
    modulated = (clean + 2 / 255 * _checker(96, 120, period) * torch.sign(hr - 0.5)).clamp(0, 1)
    assert periodic_amplitude(modulated, hr) > 0.8
    assert periodic_amplitude(patterned) > 1.0  # without a ground truth: the frame's own fine detail


def test_periodic_amplitude_refuses_tiny_frames():
    from stvsr.metrics import periodic_amplitude

    with pytest.raises(ValueError, match="48x48"):
        periodic_amplitude(torch.rand(1, 3, 40, 40), torch.rand(1, 3, 40, 40))
    assert METRICS["checker"].size_problem(40, 40) is not None
