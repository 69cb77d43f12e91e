"""Degradations and temporal-profile transforms."""

import pytest
import torch

from stvsr.degrade import bicubic_down, blur3_bicubic_down, blur_down, degrade, keep_even_frames, modcrop
from stvsr.errors import UsageError
from stvsr.ops.profiles import (from_horizontal_profiles, from_vertical_profiles, scanline, to_horizontal_profiles,
                                to_vertical_profiles)
from stvsr.ops.resize import imresize


def test_modcrop_and_bi():
    hr = torch.rand(2, 3, 30, 45)
    assert modcrop(hr, 4).shape[-2:] == (28, 44)
    lr = bicubic_down(hr, 4)
    assert lr.shape[-2:] == (7, 11)
    assert torch.equal(lr, lr.mul(255).round().div(255))  # on the 8-bit grid
    exact = imresize(modcrop(hr, 4), size=(7, 11))
    assert (lr - exact).abs().max() <= 0.5 / 255 + 1e-6


def test_bd_keeps_every_fourth_pixel_of_the_blurred_image():
    flat = torch.full((3, 32, 32), 0.25)
    assert torch.allclose(blur_down(flat, 4), torch.full((3, 8, 8), 64 / 255), atol=1e-6)  # 0.25·255 rounds to 64
    impulse = torch.zeros(1, 33, 33)
    impulse[0, 16, 16] = 1.0
    out = blur_down(impulse, 4, quantize=False)
    # Centre sample (16, 16) = 4·4: the Gaussian's peak 1 / (2π σ²) with σ = 1.6, normalised over 13×13.
    assert out[0, 4, 4] == pytest.approx(out.max().item()) and out[0, 4, 4] < 0.07


def test_blur3_bicubic_and_named_degradations():
    # A horizontal ramp is kept linear by a symmetric blur and by bicubic: away from the borders, LR pixel j of
    # blur3_bicubic (x2) sits at HR position 2j + 0.5, and BD (x4, every 4th pixel from the first) at 4j.
    ramp = (torch.arange(80.0) / 200).expand(3, 40, 80)
    quantized = lambda v: torch.round(v * 255) / 255  # noqa: E731
    down = blur3_bicubic_down(ramp, 2)
    assert down.shape == (3, 20, 40)
    j = torch.arange(8, 32.0)
    assert torch.allclose(down[0, 10, 8:32], quantized((2 * j + 0.5) / 200), atol=1 / 255 + 1e-6)
    bd = degrade(ramp, "BD", 4)
    assert bd.shape == (3, 10, 20)
    j = torch.arange(3, 17.0)
    assert torch.allclose(bd[1, 5, 3:17], quantized(4 * j / 200), atol=1 / 255 + 1e-6)
    flat = torch.full((3, 40, 40), 0.31)  # a flat image stays at its own 8-bit level under every kernel
    for kind in ("BI", "BD", "blur3_bicubic"):
        assert torch.allclose(degrade(flat, kind, 2), quantized(torch.tensor(0.31)).expand(3, 20, 20)), kind
    with pytest.raises(UsageError):
        degrade(ramp, "JPEG", 4)


def test_keep_even_frames():
    clip = torch.arange(7.0).view(7, 1, 1, 1).expand(7, 3, 2, 2)
    assert keep_even_frames(clip)[:, 0, 0, 0].tolist() == [0, 2, 4, 6]
    assert keep_even_frames(clip[None])[0, :, 0, 0, 0].tolist() == [0, 2, 4, 6]


def test_profiles_are_exact_inverses():
    video = torch.rand(5, 3, 6, 7)
    vertical = to_vertical_profiles(video)
    assert vertical.shape == (7, 3, 6, 5)
    assert torch.equal(vertical[2, :, :, 4], video[4, :, :, 2])  # column x=2 over time; frame t=4
    assert torch.equal(from_vertical_profiles(vertical), video)
    horizontal = to_horizontal_profiles(video)
    assert horizontal.shape == (6, 3, 5, 7)
    assert torch.equal(horizontal[1, :, 3], video[3, :, 1])  # row y=1 at time t=3
    assert torch.equal(from_horizontal_profiles(horizontal), video)
    batch = torch.rand(2, 5, 3, 6, 7)
    assert torch.equal(from_vertical_profiles(to_vertical_profiles(batch)), batch)
    assert torch.equal(from_horizontal_profiles(to_horizontal_profiles(batch)), batch)


def test_scanline():
    video = torch.rand(4, 3, 5, 6)
    assert torch.equal(scanline(video, row=2), video[:, :, 2, :].permute(1, 0, 2))
    assert scanline(video, column=1).shape == (3, 5, 4)
    with pytest.raises(ValueError):
        scanline(video)
