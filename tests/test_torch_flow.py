"""The torch flow of the GPU-resident path (pyramidal Lucas–Kanade, `ops.torch_flow`) against known motion and
against the OpenCV DIS path it stands in for."""

import pytest
import torch

from stvsr.data.synthetic import texture
from stvsr.models import create_model
from stvsr.ops.flow import dis_flows
from stvsr.ops.torch_flow import lk_flow, lk_flows
from stvsr.ops.warp import warp


def psnr(x, y):
    return float(-10 * torch.log10(((x - y) ** 2).mean()))


def shifted_pair(dx: float, dy: float, h: int = 96, w: int = 128):
    """A textured frame and the same frame moved by (dx, dy) pixels: b(p + (dx, dy)) = a(p)."""
    big = texture(h + 40, w + 40, seed=3)[None]
    a = big[..., 20:20 + h, 20:20 + w]
    flow = torch.tensor([dx, dy]).view(1, 2, 1, 1).expand(1, 2, h + 40, w + 40)
    b = warp(big, -flow)[..., 20:20 + h, 20:20 + w]  # b(q) = big(q − d): content moved by d
    return a, b


@pytest.mark.parametrize("dx,dy", [(0.0, 0.0), (1.5, -0.75), (6.0, 3.25), (-11.0, 7.5)])
def test_lk_recovers_a_translation_to_a_tenth_of_a_pixel(dx, dy):
    a, b = shifted_pair(dx, dy)
    flow = lk_flow(a, b)
    inner = flow[..., 16:-16, 16:-16]
    assert flow.shape == (1, 2, 96, 128) and flow.dtype == torch.float32
    assert abs(float(inner[:, 0].median()) - dx) < 0.1 and abs(float(inner[:, 1].median()) - dy) < 0.1
    assert float((inner - torch.tensor([dx, dy]).view(1, 2, 1, 1)).abs().mean()) < 0.25


def test_lk_both_ways_and_device_resident():
    a, b = shifted_pair(3.0, -2.0)
    forward, backward = lk_flows(a, b)
    assert torch.allclose(forward, lk_flow(a, b), atol=1e-5)
    assert abs(float(backward[..., 16:-16, 16:-16][:, 0].median()) + 3.0) < 0.1
    with pytest.raises(ValueError, match="equal shape"):
        lk_flow(a, b[..., :-1])


@pytest.mark.parametrize("mx,my", [(1.3, -0.7), (3.6, 2.2), (-5.25, 1.5)])
def test_lk_interpolation_agrees_with_the_dis_path(mx, my):
    """The GPU path's stated tolerance on a moving texture: the middle frame interpolated with the torch flow
    scores above 45 dB PSNR against the truth, as the DIS path's does, and the two paths' frames are above 50 dB
    PSNR of each other (measured: 55-62 dB against the truth, 56-84 dB between the paths)."""
    a, truth = shifted_pair(mx, my)
    _, b = shifted_pair(2 * mx, 2 * my)
    with torch.inference_mode():
        by_lk = create_model("lk").interpolate(a, b, [0.5])[0]
        by_dis = create_model("dis").interpolate(a, b, [0.5])[0]
    inner = (..., slice(12, -12), slice(12, -12))
    assert psnr(by_lk[inner], truth[inner]) > 45 and psnr(by_dis[inner], truth[inner]) > 45
    assert psnr(by_lk[inner], by_dis[inner]) > 50
    f_dis, _ = dis_flows(a, b)
    f_lk, _ = lk_flows(a, b)
    assert float((f_lk - f_dis)[inner].abs().mean()) < 0.25  # pixels
