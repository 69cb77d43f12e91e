"""--tta, the test-time self-ensemble: eight flips and transposes of the frames, each output turned back, averaged."""

import pytest
import torch

from stvsr.errors import UsageError
from stvsr.inference import prepare
from stvsr.ops.tiling import self_ensemble

CPU = torch.device("cpu")


def test_the_ensemble_is_equivariant_whatever_the_network():
    """Any network becomes flip- and transpose-equivariant under the ensemble (which is why it helps), and a network
    that already is one is left as it is."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 3, 3, padding=1)  # random weights: not equivariant by itself

    def run(clip):
        n, t = clip.shape[:2]
        return conv(clip.flatten(0, 1)).view(n, t, 3, *clip.shape[-2:])

    clip = torch.rand(1, 2, 3, 12, 12)
    with torch.no_grad():
        out = self_ensemble(run, clip)
        assert not torch.allclose(run(clip.flip(-1)), run(clip).flip(-1), atol=1e-4)
        assert torch.allclose(self_ensemble(run, clip.flip(-1)), out.flip(-1), atol=1e-5)
        assert torch.allclose(self_ensemble(run, clip.transpose(-1, -2)), out.transpose(-1, -2), atol=1e-5)
        assert torch.allclose(self_ensemble(lambda x: 2 * x, clip), 2 * clip)


def test_tta_runs_the_learned_parts_of_a_method_and_refuses_a_classical_one(tmp_path):
    from stvsr.models import create_model, save_weights

    torch.manual_seed(1)
    weights = tmp_path / "imdn_tiny.safetensors"
    save_weights(create_model("imdn_tiny"), weights, name="imdn_tiny", kwargs={})
    clip = torch.rand(1, 3, 3, 16, 20)
    plain = prepare(str(weights), scale=4, time_factor=1, device=CPU)
    ensembled = prepare(str(weights), scale=4, time_factor=1, device=CPU, tta=True)
    suffixed = prepare(f"{weights}[tta]", scale=4, time_factor=1, device=CPU)
    with torch.no_grad():
        a, b, c = plain(clip), ensembled(clip), suffixed(clip)
    assert a.shape == b.shape == (1, 3, 3, 64, 80)
    assert not torch.allclose(a, b, atol=1e-4) and torch.equal(b, c)
    cascade = prepare(f"{weights}+dis", scale=4, time_factor=2, device=CPU, tta=True)
    with torch.no_grad():
        assert cascade(clip).shape == (1, 5, 3, 64, 80)
    with pytest.raises(UsageError, match="--tta"):
        prepare("bicubic", scale=4, time_factor=1, device=CPU, tta=True)


def test_upscale_tta_on_a_classical_method_is_one_line(tmp_path, ntsc_clip, capsys):
    from stvsr.cli import main

    out = tmp_path / "o.mp4"
    assert main(["upscale", str(ntsc_clip), str(out), "--scale", "2", "--method", "bicubic", "--tta"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--tta" in err and len(err.splitlines()) == 1 and not out.exists()
