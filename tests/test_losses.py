"""Each loss at a known value, and gradients where training needs them."""

import math

import pytest
import torch

from stvsr.errors import WeightsError
from stvsr.losses import (FeatureLoss, VGG19Features, adversarial_loss, charbonnier, cycle_loss, discriminator_loss,
                          dual_stream_losses, l1, load_vgg19, mse, occlusion_weight, periodic_loss, psnr_loss,
                          ssim_loss, tosr_joint_loss, warping_loss)
from stvsr.metrics.fidelity import ssim
from stvsr.models import create_model


def test_pixel_losses():
    a, b = torch.full((2, 3, 4, 4), 0.5), torch.full((2, 3, 4, 4), 0.25)
    assert l1(a, b).item() == pytest.approx(0.25)
    assert mse(a, b).item() == pytest.approx(0.0625)
    assert charbonnier(a, a).item() == pytest.approx(1e-3)
    assert charbonnier(a, b).item() == pytest.approx(math.sqrt(0.0625 + 1e-6))


def test_psnr_loss_is_minus_the_mean_psnr_and_weighs_each_sample_alike():
    target = torch.full((2, 5, 3, 8, 8), 0.5)  # two clips (N, T, C, H, W): one nearly right, one far off
    pred = (target + torch.tensor([0.01, 0.1]).view(2, 1, 1, 1, 1)).requires_grad_()
    # −(mean of the per-clip PSNRs): 40 dB and 20 dB
    assert psnr_loss(pred, target).item() == pytest.approx(-30, abs=1e-3)
    psnr_loss(pred, target).backward()
    # d(log MSE) = dMSE / MSE: a mean MSE would push the far-off clip's pixels 10× harder than the easy one's; here
    # the easy one's are pushed 10× harder, so a dB gained on either is worth the same, as in a benchmark's mean
    easy, hard = pred.grad[0].abs().mean(), pred.grad[1].abs().mean()
    assert easy.item() == pytest.approx(10 * hard.item(), rel=1e-3)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # a log of a mean: fp32
        assert psnr_loss(pred.bfloat16(), target.bfloat16()).dtype == torch.float32


def test_periodic_loss_prices_a_checkerboard_and_not_a_shared_error():
    torch.manual_seed(0)
    target = torch.rand(2, 5, 3, 48, 48)  # (N, T, C, H, W) as the video models' outputs
    tile = torch.zeros(4, 4)
    tile[0, 0], tile[2, 1] = 0.01, -0.01  # two of the sixteen x4 phases off: a sub-pixel upsampler's pattern
    pred = (target + tile.repeat(12, 12)).requires_grad_()
    # A pure period-4 pattern costs most of its power (what MSE charges it), whatever the picture under it ...
    power = 2 * 0.01 ** 2 / 16
    assert 0.5 * power < periodic_loss(pred, target, 4).item() <= power
    # ... an error every phase shares (an offset, a smooth ramp) costs nothing, and a perfect output nothing
    ramp = torch.linspace(0, 0.1, 48)[None, :].expand(48, 48)
    assert periodic_loss(target + 0.05, target, 4).item() == pytest.approx(0, abs=1e-12)
    assert periodic_loss(target + ramp, target, 4).item() < 1e-10
    assert periodic_loss(target, target, 4).item() == 0
    # priced by the upsampler's own period: seen through x2 phases, the same x4 pattern costs less
    assert periodic_loss(target + tile.repeat(12, 12), target, 2).item() < periodic_loss(pred, target, 4).item()
    periodic_loss(pred, target, 4).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    with torch.autocast("cpu", dtype=torch.bfloat16):  # its spread of means stays in float32
        assert periodic_loss(pred.bfloat16(), target.bfloat16(), 4).dtype == torch.float32


def test_ssim_loss_is_one_minus_the_metric():
    torch.manual_seed(0)
    a = torch.rand(2, 3, 24, 24, requires_grad=True)
    b = torch.rand(2, 3, 24, 24)
    loss = ssim_loss(a, b)
    metric = ssim(a.detach(), b, channel="rgb", round_pred=False).mean()
    assert loss.item() == pytest.approx(1 - metric.item(), abs=1e-5)
    loss.backward()
    assert a.grad is not None and torch.isfinite(a.grad).all()
    assert ssim_loss(b, b).item() == pytest.approx(0, abs=1e-6)


def test_vgg_loss_with_local_weights(tmp_path, monkeypatch):
    monkeypatch.delenv("STVSR_VGG19_WEIGHTS", raising=False)
    with pytest.raises(WeightsError, match="needs VGG-19 weights"):
        load_vgg19()
    with pytest.raises(WeightsError, match="not found"):
        load_vgg19(tmp_path / "nope.pth")
    torch.manual_seed(1)
    path = tmp_path / "vgg19.pth"
    torch.save(VGG19Features(layers=(36,)).state_dict(), path)  # torchvision's layout: features.N.weight
    monkeypatch.setenv("STVSR_VGG19_WEIGHTS", str(path))
    loss = FeatureLoss(load_vgg19())
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    assert loss(x, x.detach()).item() == 0
    value = loss(x, torch.rand(1, 3, 32, 32))
    value.backward()
    assert value.item() > 0 and x.grad is not None
    bad = tmp_path / "bad.pth"
    torch.save({"fc.weight": torch.zeros(1)}, bad)
    with pytest.raises(WeightsError, match="not a torchvision VGG-19"):
        load_vgg19(bad)


def test_warping_and_joint_losses():
    frame = torch.rand(1, 3, 16, 16)
    zero = torch.zeros(1, 2, 16, 16)
    assert torch.allclose(occlusion_weight(frame, frame, zero), torch.ones(1, 1, 16, 16))
    assert warping_loss(frame, frame, zero, torch.ones(1, 1, 16, 16)).item() == pytest.approx(0, abs=1e-10)
    pred = (frame + 0.1).requires_grad_()
    # Same offset on both frames: the warping term is 0 and the fidelity term is 2·α·0.1² = 0.01.
    loss = tosr_joint_loss(pred, pred, frame, frame, zero, alpha=0.5, beta=1.0)
    assert loss.item() == pytest.approx(0.01, abs=1e-6)
    flicker = tosr_joint_loss(frame + 0.1, frame - 0.1, frame, frame, zero, alpha=0.5, beta=1.0)
    assert flicker.item() == pytest.approx(0.01 + 3 * 0.2 ** 2, abs=1e-5)  # ‖0.2‖² summed over RGB


def test_cycle_loss():
    lr = torch.full((1, 3, 3, 8, 8), 0.4)
    hr = torch.full((1, 5, 3, 32, 32), 0.4)
    assert cycle_loss(hr, lr, scale=4).item() == pytest.approx(0, abs=1e-6)
    assert cycle_loss(hr + 0.1, lr, scale=4).item() == pytest.approx(0.1, abs=1e-5)
    long_lr, long_hr = torch.full((1, 11, 3, 8, 12), 0.4), torch.full((1, 21, 3, 32, 48), 0.4)
    assert cycle_loss(long_hr, long_lr, scale=4, kind="ssim").item() == pytest.approx(0, abs=1e-4)


def test_adversarial_losses():
    zero = torch.zeros(4)
    assert adversarial_loss(zero).item() == pytest.approx(math.log(2))
    assert discriminator_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert adversarial_loss(torch.full((4,), 20.0)).item() < 1e-6


def test_dual_stream_losses_sum_their_terms():
    torch.manual_seed(2)
    model = create_model("dual_stream_tiny")
    l0, l1_ = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    hr = [torch.rand(1, 3, 64, 64) for _ in range(3)]
    terms = dual_stream_losses(model.streams(l0, l1_), *hr, scale=4)
    assert set(terms) == {"out", "fused", "st", "ts", "spatial", "temporal", "mask", "total"}
    assert terms["total"].item() == pytest.approx(sum(v.item() for k, v in terms.items() if k != "total"), rel=1e-5)
    terms["total"].backward()
    assert all(p.grad is not None for p in model.fusion.parameters())


# Half precision (issue 11): variances, ratios, exp and resampling in fp16/bf16 lose the loss to cancellation.

@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_ssim_loss_of_half_inputs_equals_float32(dtype):
    torch.manual_seed(0)
    target = torch.rand(2, 3, 48, 48)
    pred = (target + 0.03 * torch.randn_like(target)).clamp(0, 1)
    half_pred, half_target = pred.to(dtype), target.to(dtype)
    reference = ssim_loss(half_pred.float(), half_target.float())  # the same (rounded) pixels, in float32
    with torch.autocast("cpu", dtype=dtype):
        value = ssim_loss(half_pred, half_target)
    assert value.dtype == torch.float32
    # Tolerance: float32 rounding of the 11x11 Gaussian sums (~1e-7 relative) on a loss of about 0.1.
    assert value.item() == pytest.approx(reference.item(), abs=1e-5)


def test_every_fragile_loss_runs_in_float32_inside_autocast():
    torch.manual_seed(1)
    clip = torch.rand(1, 7, 3, 32, 32)
    lr = torch.rand(1, 4, 3, 8, 8)
    flow = torch.randn(2, 2, 32, 32)
    a, b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        values = [cycle_loss(clip.bfloat16(), lr, scale=4), occlusion_weight(a.bfloat16(), b, flow),
                  warping_loss(a.bfloat16(), b.bfloat16(), flow, torch.ones(2, 1, 32, 32)),
                  charbonnier(a.bfloat16(), b.bfloat16())]
    assert all(v.dtype == torch.float32 for v in values)
    assert values[0].item() == pytest.approx(cycle_loss(clip.bfloat16().float(), lr, scale=4).item(), rel=1e-5)


def test_detail_loss_offline_weights(tmp_path):
    from safetensors.torch import save_file

    from stvsr.losses import DetailFeatures, FeatureLoss, load_detail_features
    from stvsr.ops.filters import gaussian_blur

    with pytest.raises(WeightsError, match="not found"):
        load_detail_features(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match="cannot read"):
        load_detail_features(tmp_path / "bad.safetensors")
    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(WeightsError, match="does not hold"):
        load_detail_features(tmp_path / "other.safetensors")
    torch.manual_seed(0)
    path = tmp_path / "detail.safetensors"
    save_file(DetailFeatures().state_dict(), str(path))
    loss = FeatureLoss(load_detail_features(path))
    assert not any(p.requires_grad for p in loss.parameters())
    x = torch.rand(2, 3, 3, 32, 32)  # clips work: frames are flattened
    assert float(loss(x, x)) == 0
    blurred = gaussian_blur(x, 7, 1.5)
    assert float(loss(blurred, x)) > 0
    pred = blurred.clone().requires_grad_(True)
    loss(pred, x).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = float(loss(blurred, x))
    assert half == pytest.approx(float(loss(blurred, x)), rel=0.05)


def test_critic_features_come_from_a_trained_discriminator(tmp_path):
    """A GAN run's critic, cut to its first layers, loads as the perceptual loss's feature network: the same
    activations as the discriminator's own layers, frozen, and told apart from a detail network by its keys."""
    from safetensors.torch import save_file

    from stvsr.losses import CriticFeatures, DetailFeatures, critic_feature_state, load_feature_network
    from stvsr.losses.perceptual import CRITIC_LAYERS
    from stvsr.models.srgan import Discriminator

    torch.manual_seed(0)
    critic = Discriminator(features=8)
    critic(torch.rand(4, 3, 32, 32))  # one training-mode pass moves the BatchNorm statistics off their defaults
    critic.eval()
    path = tmp_path / "critic.safetensors"
    save_file(critic_feature_state(critic.state_dict()), str(path))
    net = load_feature_network(path)
    assert isinstance(net, CriticFeatures) and not any(p.requires_grad for p in net.parameters())
    x = torch.rand(2, 3, 32, 32)
    features = net(x)
    assert len(features) == 5 and features[0].shape[1] == 8 and features[-1].shape[-1] == 8  # 1/4 resolution
    with torch.no_grad():
        expected = critic.features[:CRITIC_LAYERS](x * 2 - 1)
    assert torch.allclose(features[-1], expected)
    detail = tmp_path / "detail.safetensors"
    save_file(DetailFeatures().state_dict(), str(detail))
    assert isinstance(load_feature_network(detail), DetailFeatures)
    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(WeightsError, match="neither"):
        load_feature_network(tmp_path / "other.safetensors")
    with pytest.raises(WeightsError, match="not found"):
        load_feature_network(tmp_path / "missing.safetensors")


def test_feature_loss_compares_only_the_chosen_layers():
    from stvsr.losses import DetailFeatures, FeatureLoss

    torch.manual_seed(0)
    net = DetailFeatures().eval().requires_grad_(False)
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    per_layer = [float(FeatureLoss(net, layers=[k])(x, y)) for k in range(3)]
    assert len(set(per_layer)) == 3  # each block gives its own distance
    assert float(FeatureLoss(net, layers=[0, 1])(x, y)) == pytest.approx((per_layer[0] + per_layer[1]) / 2, rel=1e-5)
    assert float(FeatureLoss(net)(x, y)) == pytest.approx(sum(per_layer) / 3, rel=1e-5)


def test_texture_loss_asks_for_statistics_not_exact_detail():
    """Two draws of one noise texture have nearly the same local Gram matrices but different features: relative to
    flat grey (detail averaged away), the texture loss scores the other draw far closer than feature matching does
    (feature matching is why perceptual SR still averages unpredictable detail away)."""
    from stvsr.losses import FeatureLoss, load_detail_features
    from stvsr.losses.perceptual import patch_gram

    torch.manual_seed(0)
    net = load_detail_features()
    a, b = (0.5 + 0.15 * torch.randn(2, 3, 64, 64)).clamp(0, 1).unbind(0)
    a, b, grey = a[None], b[None], torch.full((1, 3, 64, 64), 0.5)
    texture, features = FeatureLoss(net, [0, 1], texture_patch=16), FeatureLoss(net, [0, 1])
    assert texture(b, b).item() == 0
    texture_ratio = texture(a, b).item() / texture(grey, b).item()
    feature_ratio = features(a, b).item() / features(grey, b).item()
    assert texture_ratio < 0.2 and texture_ratio < feature_ratio / 4
    assert patch_gram(torch.ones(2, 4, 40, 33), 16).shape == (2, 4, 4, 4)  # 2 x 2 whole windows; edges left out
    with pytest.raises(ValueError, match="smaller than the texture patch"):
        patch_gram(torch.ones(1, 4, 8, 8), 16)


def test_export_critic_features_cuts_a_gan_checkpoint(tmp_path, capsys, load_script):
    """scripts/export_critic_features.py keeps a run's critic as a feature network; a checkpoint without a critic,
    or no checkpoint, is a one-line error and leaves no file behind."""
    from stvsr.errors import OutputError
    from stvsr.losses import CriticFeatures, load_feature_network
    from stvsr.models.srgan import Discriminator

    script = load_script("export_critic_features")

    def run(*args):
        import sys
        saved, sys.argv = sys.argv, ["export_critic_features.py", *map(str, args)]
        try:
            return script.main()
        finally:
            sys.argv = saved

    out = tmp_path / "features.safetensors"
    torch.save({"step": 3, "model": {}, "critic": None}, tmp_path / "plain.pt")
    assert run(tmp_path / "plain.pt", out) == WeightsError.exit_code and not out.exists()
    assert run(tmp_path / "missing.pt", out) == WeightsError.exit_code and not out.exists()
    (tmp_path / "truncated.pt").write_bytes(b"PK\x03\x04")
    assert run(tmp_path / "truncated.pt", out) == WeightsError.exit_code and not out.exists()
    torch.save({"step": 400, "critic": Discriminator(features=8).state_dict()}, tmp_path / "gan.pt")
    assert run(tmp_path / "gan.pt", tmp_path / "no" / "such" / "dir.safetensors") == OutputError.exit_code
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 4  # one line per failure
    assert run(tmp_path / "gan.pt", out) == 0
    assert isinstance(load_feature_network(out), CriticFeatures)
    assert list(tmp_path.glob(".*partial")) == []
