"""Every learned model from the registry: shapes, finite outputs, gradients, checkpoints, tiling, and upscale."""

import json

import pytest
import torch

from stvsr.cli import main
from stvsr.errors import UsageError, WeightsError
from stvsr.io import probe
from stvsr.models import build_method, create_model, list_models, load_model, model_entry, read_metadata, save_weights
from stvsr.models.layers import feature_shuffle, feature_unshuffle
from stvsr.ops.tiling import tiled

TINY = [e.name for e in list_models("*_tiny", learned=True)]
UPSCALERS = [n for n in TINY if list_models(n)[0].task != "critic"]


def test_every_family_has_a_tiny_variant():
    full = {e.name for e in list_models(learned=True) if not e.name.endswith("_tiny")}
    # A size variant (flowstvsr_fast) shares its family's tiny model (flowstvsr_tiny).
    assert full and all(f"{name}_tiny" in TINY or f"{name.rsplit('_', 1)[0]}_tiny" in TINY for name in full)


@pytest.mark.parametrize("name", UPSCALERS)
@pytest.mark.parametrize("size", [(17, 23), (32, 32)])  # odd sizes too
def test_forward_shapes_finite_and_backward(name, size):
    torch.manual_seed(0)
    model = create_model(name)
    frames = max(model.window, 1)
    clip = torch.rand(2, frames, 3, *size, requires_grad=True)
    out = model(clip)
    h, w = size
    assert out.shape == (2, model.output_length(frames), 3, h * model.scale, w * model.scale)
    assert torch.isfinite(out).all()
    out.mean().backward()
    if "frames2d" in getattr(model, "STAGES", ()):  # the auxiliary 2D head learns only through its stage
        model.stages(clip[:, :2 * model.radius + 1])["frames2d"].mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_discriminator_gives_one_logit_per_frame():
    model = create_model("srgan_discriminator_tiny")
    assert model(torch.rand(3, 3, 40, 56)).shape == (3,)


def test_antialiased_discriminator_blurs_the_period_two_pattern_away():
    from stvsr.models.srgan import BinomialBlur, Discriminator

    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 1.0
    stripes = (torch.arange(16)[None, :] % 2 * 1.0).expand(16, 16)
    # the period-2 frequencies (pi, pi) and (0, pi): flat after the blur, inside the border
    for pattern in (checker, stripes):
        assert float(BinomialBlur(2)(pattern.expand(1, 2, 16, 16))[..., 1:-1, 1:-1].std()) < 1e-6
    # the generator's gradient through the critic: the plain critic's input gradient has a period-2 peak
    def nyquist_share(antialias: bool) -> float:
        torch.manual_seed(0)
        critic = Discriminator(features=8, antialias=antialias).eval()
        frames = torch.rand(8, 3, 64, 64, requires_grad=True)
        critic(frames).sum().backward()
        power = torch.fft.fft2(frames.grad.mean(1)).abs() ** 2
        return float(power[:, 32, 32].mean() / power.mean())

    assert nyquist_share(True) < nyquist_share(False) / 3
    assert create_model("srgan_discriminator", features=8, antialias=True)(torch.rand(2, 3, 40, 56)).shape == (2,)


@pytest.mark.parametrize("name", UPSCALERS)
def test_save_load_round_trip(tmp_path, name):
    torch.manual_seed(1)
    kwargs = {"time_factor": 2} if list_models(name)[0].task == "vfi" else {"scale": 2}
    model = create_model(name, **kwargs)
    path = save_weights(model.eval(), tmp_path / f"{name}.safetensors", name=name, kwargs=kwargs,
                        extra={"training": {"steps": 3}})
    loaded, metadata = load_model(path, **kwargs)
    assert metadata["model"] == name and metadata["training"]["steps"] == 3
    assert all(metadata[key] == value for key, value in kwargs.items())
    clip = torch.rand(1, max(model.window, 1), 3, 16, 20)
    with torch.no_grad():
        assert torch.equal(model(clip), loaded(clip))


def test_bad_weights_give_clear_errors(tmp_path):
    model = create_model("espcn_tiny", scale=2)
    good = save_weights(model, tmp_path / "good.safetensors", name="espcn_tiny", kwargs={"scale": 2})
    with pytest.raises(WeightsError, match="not found"):
        load_model(tmp_path / "missing.safetensors")
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00" * 100)
    with pytest.raises(WeightsError, match="corrupt or truncated"):
        load_model(corrupt)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(WeightsError, match="corrupt or truncated"):
        load_model(truncated)
    with pytest.raises(WeightsError, match="scale 2, not --scale 4"):
        load_model(good, scale=4)
    # A file claiming to be a different size of the model: the shapes disagree.
    other = save_weights(create_model("espcn_tiny", scale=3), tmp_path / "x3.safetensors", name="espcn_tiny",
                         kwargs={"scale": 2})
    with pytest.raises(WeightsError, match="wrong shape"):
        load_model(other)
    from safetensors.torch import save_file

    bare = tmp_path / "bare.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(bare))
    with pytest.raises(WeightsError, match="no stvsr metadata"):
        read_metadata(bare)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(1)}, str(foreign), metadata={"stvsr": json.dumps({"format": "stvsr-weights/1",
                                                                                   "model": "nosuchnet"})})
    with pytest.raises(WeightsError, match="does not have"):
        load_model(foreign)


def test_tiled_equals_untiled_when_context_covers_the_receptive_field():
    torch.manual_seed(2)
    model = create_model("espcn_tiny", scale=2).eval()  # receptive radius 2 + 1 + 1 = 4 input pixels
    clip = torch.rand(1, 1, 3, 70, 90)
    with torch.no_grad():
        whole = model(clip)
        pieces = tiled(model, clip, scale=2, tile=32, pad=8, overlap=8)
    assert torch.allclose(whole, pieces, atol=1e-5)


def test_tiling_a_deep_model_leaves_no_seam():
    torch.manual_seed(3)
    model = create_model("srunet_tiny", scale=2).eval()
    clip = torch.rand(1, 1, 3, 64, 64)
    with torch.no_grad():
        whole = model(clip)
        pieces = tiled(model, clip, scale=2, tile=32, pad=16, overlap=8)
    assert (whole - pieces).abs().mean() < 0.01


def test_feature_shuffle_is_an_exact_inverse():
    x = torch.rand(2, 8, 5, 6)
    shuffled = feature_shuffle(x)
    assert shuffled.shape == (2, 4, 5, 12)
    assert torch.equal(feature_unshuffle(shuffled), x)
    assert torch.equal(shuffled[0, 1, 2, 2 * 3 + 1], x[0, 3, 2, 3])  # channel 2c+r lands at column 2x+r


def test_learned_models_need_weights():
    with pytest.raises(UsageError, match="learned model"):
        build_method("tosr", scale=4, time_factor=1)  # no shipped weights (imdn has: a bare imdn runs imdn.x4)
    with pytest.raises(UsageError, match="training only"):
        build_method("srgan_discriminator_tiny", scale=4, time_factor=1)


def test_upscale_with_fresh_weights_through_the_cli(tmp_path, capsys, ntsc_clip):
    weights = tmp_path / "imdn.safetensors"
    assert main(["models", "--init", "imdn_tiny", "--scale", "2", "--out", str(weights)]) == 0
    out = tmp_path / "out.mp4"
    code = main(["upscale", str(ntsc_clip), str(out), "--scale", "2", "--model", "imdn_tiny", "--weights",
                 str(weights), "--tile", "24"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert (probe(out).width, probe(out).frame_count) == (128, 20)
    code = main(["upscale", str(ntsc_clip), str(tmp_path / "o2.mp4"), "--model", "espcn_tiny", "--weights",
                 str(weights)])
    _, err = capsys.readouterr()
    assert code == 5 and "holds weights for imdn_tiny" in err
    code = main(["upscale", str(ntsc_clip), str(tmp_path / "o3.mp4"), "--model", "imdn_tiny"])
    _, err = capsys.readouterr()
    assert code == 2 and "needs --weights" in err
    # --model takes an architecture: a shipped model's name points to --method, an unknown name says so
    for model, message in (("propstvsr.x4_real", "use --method propstvsr.x4_real"),
                           ("no_such_net", "unknown architecture for --model: 'no_such_net'")):
        code = main(["upscale", str(ntsc_clip), str(tmp_path / "o5.mp4"), "--model", model])
        _, err = capsys.readouterr()
        assert code == 2 and message in err and not (tmp_path / "o5.mp4").exists()
    corrupt = tmp_path / "bad.safetensors"
    corrupt.write_bytes(weights.read_bytes()[:500])
    code = main(["upscale", str(ntsc_clip), str(tmp_path / "o4.mp4"), "--weights", str(corrupt)])
    _, err = capsys.readouterr()
    assert code == 5 and err.startswith("stvsr: error:") and not (tmp_path / "o4.mp4").exists()


def test_models_listing(capsys):
    from stvsr.models.info import describe

    assert main(["models", "imdn*", "--all"]) == 0
    table = capsys.readouterr().out.split("\n\n")[0].splitlines()[1:]
    rows = {line.split()[0]: line.split() for line in table}
    assert {"imdn", "imdn_tiny"} <= set(rows) and "flowvsr" not in rows  # the pattern filters
    tiny = sum(p.numel() for p in create_model("imdn_tiny").parameters())
    assert rows["imdn_tiny"][1:5] == ["sr", "4", "1", f"{tiny:,}"]  # task, scale, time factor, parameters
    assert main(["models", "imdn_tiny", "--flops"]) == 0
    listed = float(capsys.readouterr().out.splitlines()[1].split()[-1])
    assert listed == pytest.approx(describe(model_entry("imdn_tiny"))["gflops"], abs=0.006) and listed > 0


def test_the_listing_index_matches_the_registry_and_the_shipped_weights():
    import json

    from stvsr import catalogue

    assert json.loads(catalogue.CATALOGUE.read_text()) == catalogue.build(), (
        "src/stvsr/catalogue.json is stale: run python scripts/update_catalogue.py")


def test_the_plain_listing_does_not_import_torch():
    # `stvsr models` lists from the committed index, so it answers without torch's import (issue 14: under 2 s).
    import subprocess
    import sys

    code = "import sys; from stvsr.cli import main; assert main(['models', '--all']) == 0; assert 'torch' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "propstvsr.x4" in done.stdout and "imdn_tiny" in done.stdout


@pytest.mark.parametrize("name", ["vsr_delta_tiny", "vsr_5parallel_tiny", "flowvsr_tiny", "flowstvsr_tiny"])
def test_streaming_windows_leave_no_seam(name):
    # Frame by frame, the windowed stream must equal one pass over the whole clip: every kept output saw all the
    # neighbours it uses.
    from stvsr.data.synthetic import translating_clip
    from stvsr.inference import run_windows

    torch.manual_seed(4)
    model = create_model(name).eval()
    clip = translating_clip(30, 24, 24)
    with torch.no_grad():
        whole = model(clip[None])[0]
    streamed = torch.stack(list(run_windows(model, iter(clip), device=torch.device("cpu"))))
    assert streamed.shape == whole.shape
    assert torch.allclose(streamed, whole, atol=1e-5)


def test_untrained_flow_refinement_is_exactly_dis():
    # flowvfi starts from the classical method and learns a correction: before training it must be DIS itself (with
    # the occlusion-aware blend its weights were trained on).
    from stvsr.data.synthetic import translating_clip

    clip = translating_clip(3, 32, 40, velocity=(1, -2))[None]
    with torch.no_grad():
        refined = create_model("flowvfi_tiny")(clip)
        classical = create_model("dis", preset="ultrafast", blend="occlusion")(clip)
    assert torch.equal(refined, classical)


def test_untrained_flow_space_time_model_is_exactly_dis_then_bicubic():
    from stvsr.data.synthetic import translating_clip
    from stvsr.models import Cascade

    clip = translating_clip(4, 24, 32, velocity=(1, 1))[None]
    with torch.no_grad():
        model = create_model("flowstvsr_tiny")(clip)
        classical = Cascade(create_model("dis", preset="ultrafast", blend="occlusion"),
                            create_model("bicubic", scale=4))(clip)
    assert torch.allclose(model, classical, atol=1e-6)


def test_flow_alignment_brings_neighbours_onto_the_frame():
    # On a clip that translates, the warped neighbours should match the centre frame far better than unwarped ones.
    from stvsr.data.synthetic import translating_clip

    model = create_model("flowvsr_tiny")
    clip = translating_clip(3, 48, 48, velocity=(2, 1))[None]
    previous, following = model._aligned_neighbours(clip)
    centre = clip[0, 1, :, 8:-8, 8:-8]
    for aligned, raw in ((previous[1], clip[0, 0]), (following[1], clip[0, 2])):
        assert (aligned[:, 8:-8, 8:-8] - centre).abs().mean() < 0.25 * (raw[:, 8:-8, 8:-8] - centre).abs().mean()


def test_vfinet_any_time():
    """t = 0 gives the first frame and t = 1 the second, exactly; in between, the frame depends on t, per sample."""
    torch.manual_seed(5)
    model = create_model("vfinet_tiny").eval()
    a, b = torch.rand(2, 3, 20, 30), torch.rand(2, 3, 20, 30)
    with torch.no_grad():
        assert torch.equal(model.at(a, b, 0.0), a) and torch.equal(model.at(a, b, 1.0), b)
        ends = model.at(a, b, torch.tensor([0.0, 1.0]))
        assert torch.equal(ends[0], a[0]) and torch.equal(ends[1], b[1])
        early, late = model.at(a, b, 0.1), model.at(a, b, 0.9)
        assert early.shape == a.shape and torch.isfinite(early).all()
        assert (early - late).abs().mean() > 1e-4  # t reaches the output
        mixed = model.at(a, b, torch.tensor([0.1, 0.9]))
        assert torch.allclose(mixed[0], early[0], atol=1e-6) and torch.allclose(mixed[1], late[1], atol=1e-6)


@pytest.mark.parametrize("name", [e.name for e in list_models("*_tiny", task="stvsr")])
@pytest.mark.parametrize("frames", [2, 3, 4, 7])
def test_space_time_models_take_any_number_of_frames(name, frames):
    model = create_model(name).eval()
    with torch.no_grad():
        out = model(torch.rand(1, frames, 3, 17, 21))
    assert out.shape == (1, 2 * frames - 1, 3, 17 * model.scale, 21 * model.scale)


def test_tpnet_stages_and_dual_stream_streams():
    torch.manual_seed(6)
    tp = create_model("tpnet_tiny")
    stages = tp.stages(torch.rand(1, 4, 3, 12, 16))
    assert stages["tpsrm"].shape == (1, 7, 3, 24, 16) and stages["fsm"].shape == (1, 7, 3, 48, 64)
    assert stages["rm"].shape == stages["fsm"].shape
    ds = create_model("dual_stream_tiny", masks="one")
    parts = ds.streams(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))
    assert parts["masks"].shape == (1, 1, 64, 64) and parts["out"].shape == (1, 3, 64, 64)
    assert parts["t_lr"].shape == (1, 3, 16, 16)


def test_bad_model_arguments_are_usage_errors():
    with pytest.raises(UsageError, match="streams must be"):
        create_model("dual_stream_tiny", streams="neither")
    with pytest.raises(UsageError, match="masks must be"):
        create_model("dual_stream_tiny", masks="three")


def test_dual_stream_ablation_rows_are_the_streams_they_name():
    """streams='st' without refinement is the cascade M_S then M_T; 'ts' is M_T at low resolution then M_S; a
    classical M_T (DIS) runs in fp32 without gradients, so only M_S and the fusion train."""
    torch.manual_seed(7)
    l0, l1 = torch.rand(1, 3, 24, 24), torch.rand(1, 3, 24, 24)
    st = create_model("dual_stream_tiny", temporal="dis_fast", streams="st", refine=False).eval()
    ts = create_model("dual_stream_tiny", temporal="dis_fast", streams="ts", refine=False).eval()
    ts.load_state_dict(st.state_dict())
    dis = create_model("dis_fast", blend="occlusion")  # the blend the dual-stream models were trained with
    with torch.no_grad():
        s0, s1 = st.spatial.upscale_frames(l0), st.spatial.upscale_frames(l1)
        assert torch.equal(st.streams(l0, l1)["out"], dis.interpolate(s0, s1, [0.5])[0])
        expected = st.spatial.upscale_frames(dis.interpolate(l0, l1, [0.5])[0])
        assert torch.equal(ts.streams(l0, l1)["out"], expected)
    assert st.fusion is None and st.refine is None
    fused = create_model("dual_stream_tiny", temporal="dis_fast", refine=False)
    parts = fused.streams(l0, l1)
    assert torch.equal(parts["out"], parts["fused"]) and parts["masks"].shape == (1, 2, 96, 96)
    parts["out"].mean().backward()
    assert all(p.grad is not None for p in [*fused.fusion.parameters(), *fused.spatial.parameters()])
    primed = create_model("dual_stream", spatial="imdn_tiny", temporal="dis_fast", features=2, refine_features=4,
                          fusion_max_features=4, mask_prior=3.0)
    with torch.no_grad():
        parts = primed.streams(l0, l1)
    weight = torch.sigmoid(torch.tensor(3.0))
    assert torch.allclose(parts["out"], weight * parts["st"] + (1 - weight) * parts["ts"], atol=1e-6)


def test_space_time_model_through_upscale_and_evaluate(tmp_path, capsys, ntsc_clip):
    weights = tmp_path / "tp.safetensors"
    assert main(["models", "--init", "tpnet_tiny", "--scale", "2", "--out", str(weights)]) == 0
    out = tmp_path / "tp.mp4"
    code = main(["upscale", str(ntsc_clip), str(out), "--scale", "2", "--time-factor", "2", "--weights",
                 str(weights)])
    _, err = capsys.readouterr()
    assert code == 0, err
    info = probe(out)
    assert info.frame_count == 40 and info.width == 128
    code = main(["upscale", str(ntsc_clip), str(tmp_path / "bad.mp4"), "--scale", "4", "--time-factor", "2",
                 "--weights", str(weights)])
    _, err = capsys.readouterr()
    assert code == 2 and "x2 in space" in err


def test_tpnet_stages_stop_early():
    model = create_model("tpnet_tiny")
    clip = torch.rand(1, 3, 3, 10, 12)
    assert set(model.stages(clip, until="tpsrm")) == {"tpsrm"}
    assert set(model.stages(clip, until="fsm")) == {"tpsrm", "fsm"}
    torch.manual_seed(0)
    with torch.no_grad():
        assert torch.equal(model.stages(clip, until="tpsrm")["tpsrm"], model.stages(clip)["tpsrm"])
        assert torch.equal(model.stages(clip)["rm"], model.stages(clip)["fsm"])  # RM starts as a zero correction


def test_bench_times_each_method_in_its_own_process(capsys):
    assert main(["bench", "--methods", "bicubic,imdn.x4", "--frames", "2", "--output", "576p"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:3]}
    assert set(rows) == {"bicubic", "imdn.x4"}
    for row in rows.values():
        fps, peak = float(row[3]), float(row[4])
        assert fps > 0 and 50 < peak < 8000  # a real process's resident memory, in MB


def test_bench_times_a_named_cascade_at_both_factors(capsys):
    # A cascade not in the default list (imdn.x4+dis, medium DIS) is timed at x4 x2, not at --time-factor 1.
    assert main(["bench", "--methods", "imdn.x4+dis", "--frames", "3", "--output", "576p"]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:3] == ["imdn.x4+dis", "4", "2"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_bench_refuses_bad_names_and_devices_before_any_worker(capsys):
    # Both were exit 1, "a bug", with the worker's exception class printed (issue 38, item 14).
    for args in (["--methods", "nosuch"], ["--methods", "bicubic", "--device", "cuda"]):
        assert main(["bench", *args, "--frames", "2"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("stvsr: error:") and "bug" not in err[0], err


def test_tpcascade_starts_as_the_cascade_it_refines():
    # Issue 11's redesign: TP-net's modules on a motion-compensated base. With the shipped imdn.x4 in its cascade
    # and the fusion's last layer at zero, the untrained model is exactly imdn.x4+dis_fast (occlusion blend).
    from stvsr.models import build_method
    from stvsr.models.shipped import WEIGHTS_DIR
    from stvsr.train.loop import init_from

    model = create_model("tpcascade", scale=4)
    init_from(model, str(WEIGHTS_DIR / "imdn.x4.safetensors"))
    from stvsr.data.synthetic import translating_clip

    clip = translating_clip(4, 24, 32, velocity=(1, 1), seed=4)[None]
    with torch.no_grad():
        ours = model.eval()(clip)
        cascade = build_method("imdn.x4+dis_fast", scale=4, time_factor=2).eval()
        cascade.second.blend = "occlusion"  # the blend of the cascade tpcascade was trained on
        cascade = cascade(clip)
    assert ours.shape == (1, 7, 3, 96, 128)
    # Equal but for float rounding: the prepared cascade runs channels-last convolutions on a CPU.
    assert (ours - cascade).abs().max() < 1e-5
    stages = model.stages(clip)
    assert set(stages) == {"tp", "out"} and stages["tp"].shape == ours.shape


def test_resize_convolution_srresnet_has_no_periodic_pattern_at_init():
    """Sub-pixel convolution's phases disagree from the first step (a checkerboard the critic then amplifies);
    resize-convolution's do not: at random initialisation the periodic amplitude differs by more than 10x."""
    from stvsr.data.synthetic import texture
    from stvsr.metrics.artifacts import periodic_amplitude
    from stvsr.ops.resize import imresize

    hr = texture(96, 96, seed=2)[None]
    lr = imresize(hr, 0.25)[:, None]
    amplitude = {}
    for upsampler in ("pixelshuffle", "resize"):
        torch.manual_seed(0)
        model = create_model("srresnet", features=16, blocks=2, upsampler=upsampler).eval()
        with torch.no_grad():
            out = model(lr)[:, 0]
        out = (out - out.mean()) / out.std() * hr.std() + hr.mean()  # same contrast as the target
        amplitude[upsampler] = periodic_amplitude(out.clamp(0, 1), hr)
        assert out.shape == hr.shape
    assert amplitude["pixelshuffle"] > 10 * amplitude["resize"]
    with pytest.raises(UsageError, match="upsampler must be"):
        create_model("srresnet", upsampler="bilinear")


def test_residual_srresnet_starts_as_bicubic_and_learns_a_correction():
    from stvsr.ops.resize import imresize

    torch.manual_seed(0)
    lr = torch.rand(1, 2, 3, 12, 16)
    model = create_model("srresnet", scale=2, features=8, blocks=1, upsampler="resize", residual=True).eval()
    with torch.no_grad():
        assert torch.allclose(model(lr)[0], imresize(lr[0], 2), atol=1e-6)
    model.train()
    loss = (model(lr) - torch.rand(1, 2, 3, 24, 32)).square().mean()
    loss.backward()
    assert model.tail.weight.grad.abs().sum() > 0  # the zero tail still trains


def test_srunet_resize_upsampler_starts_from_transposed_weights_without_the_pattern(tmp_path):
    # adapt_init turns a 2x2 stride-2 transposed step into nearest x2 + conv with the mean of its four phase
    # kernels: the transposed step's output averaged over each 2x2 block, i.e. with its period-2 pattern removed.
    from stvsr.train.loop import init_from
    torch.manual_seed(0)
    transposed = create_model("srunet", scale=2, features=4, depth=1).eval()
    resize = create_model("srunet", scale=2, features=4, depth=1, upsampler="resize").eval()
    tensors = {k: v.clone() for k, v in transposed.state_dict().items()}
    adapted = resize.adapt_init(tensors)
    assert "beyond.0.weight" not in adapted and adapted["beyond.0.1.weight"].shape == (4, 4, 3, 3)
    resize.load_state_dict(adapted)
    x = torch.rand(1, 4, 6, 6)
    phases = transposed.beyond[0](x)
    expected = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(phases, 2), scale_factor=2)
    assert torch.allclose(resize.beyond[0](x), expected, atol=1e-6)
    assert not torch.allclose(phases, expected, atol=1e-3)  # the transposed step does have a phase pattern
    fresh = create_model("srunet", scale=2, features=4, depth=1, upsampler="resize")
    path = save_weights(transposed, tmp_path / "t.safetensors", name="srunet",
                        kwargs={"scale": 2, "features": 4, "depth": 1})
    init_from(fresh, str(path))  # the training loop's init goes through adapt_init
    assert torch.equal(fresh.beyond[0][1].weight, resize.beyond[0][1].weight)
    with pytest.raises(UsageError, match="upsampler"):
        create_model("srunet", upsampler="pixelshuffle")


def test_srunet_bilinear_upsampler_has_no_period_two_power(tmp_path):
    # Nearest-neighbour blocks carry power next to the period-2 frequencies; a bilinear step (a triple zero there)
    # carries next to none. Measured on the step's own output, Hann windowed inside the border.
    from stvsr.train.loop import init_from

    def near_nyquist_share(model) -> float:
        torch.manual_seed(0)
        up = model.beyond[0][0](torch.rand(4, 4, 24, 24))[..., 4:-4, 4:-4]
        n = up.shape[-1]
        window = torch.hann_window(n, periodic=False)
        power = torch.fft.fft2((up - up.mean((-2, -1), keepdim=True)) * window[:, None] * window).abs() ** 2
        near = sum(power[..., (a + da) % n, (b + db) % n].sum() for a, b in ((n // 2, n // 2), (0, n // 2), (n // 2, 0))
                   for da in (-1, 0, 1) for db in (-1, 0, 1))
        return float(near / power.sum())

    bilinear = create_model("srunet", scale=2, features=4, depth=1, upsampler="bilinear")
    nearest = create_model("srunet", scale=2, features=4, depth=1, upsampler="resize")
    assert near_nyquist_share(bilinear) < near_nyquist_share(nearest) / 100
    transposed = create_model("srunet", scale=2, features=4, depth=1)
    path = save_weights(transposed, tmp_path / "t.safetensors", name="srunet",
                        kwargs={"scale": 2, "features": 4, "depth": 1})
    init_from(bilinear, str(path))  # starts from transposed weights as the resize step does
    assert bilinear(torch.rand(1, 1, 3, 12, 16)).shape == (1, 1, 3, 24, 32)


def test_the_listing_counts_parameters_on_the_meta_device_as_on_the_cpu():
    from stvsr.models import create_model, list_models
    from stvsr.models.info import describe

    for entry in list_models(learned=True):
        real = sum(p.numel() for p in create_model(entry.name).parameters())
        assert describe(entry, flops=False)["params"] == real, entry.name


def test_nan_weights_are_refused_before_any_video(tmp_path, capsys, ntsc_clip):
    # A NaN file made an all-black video that passed the self-check (issue 38, item 5).
    model = create_model("imdn_tiny", scale=2)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    weights = save_weights(model, tmp_path / "nan.safetensors", name="imdn_tiny", kwargs={"scale": 2})
    out = tmp_path / "out.mp4"
    code = main(["upscale", str(ntsc_clip), str(out), "--scale", "2", "--model", "imdn_tiny", "--weights",
                 str(weights)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 5 and len(err) == 1 and "NaN or infinite" in err[0], err
    assert not out.exists()


def test_metadata_asking_for_a_huge_model_allocates_nothing(tmp_path):
    # 1.5 KB of metadata asked for a 1.4 TB model, built before the tensors were compared (issue 38, item 10).
    import json
    import resource

    from safetensors.torch import save_file

    small = create_model("imdn", scale=4, features=8, blocks=1)
    lying = tmp_path / "huge.safetensors"
    save_file({k: v.contiguous() for k, v in small.state_dict().items()}, str(lying), metadata={"stvsr": json.dumps(
        {"format": "stvsr-weights/1", "model": "imdn", "kwargs": {"scale": 4, "features": 200000, "blocks": 6}})})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(WeightsError, match="does not match imdn"):
        load_model(lying)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500_000  # KiB: under 0.5 GB more


def test_a_model_that_outputs_nan_stops_the_run():
    # The other half of issue 38, item 5: weights may pass the load check and still compute NaN (an overflow).
    from stvsr.inference import output_frames

    model = create_model("imdn_tiny", scale=2).eval()
    with torch.no_grad():
        model.net.up[0].bias.fill_(float("inf"))
    with pytest.raises(WeightsError, match="NaN or infinite values at output frame 0"):
        list(output_frames(model, iter(torch.rand(3, 3, 16, 16)), device=torch.device("cpu")))


def test_a_model_that_outputs_a_flat_frame_stops_the_run():
    # Finite weights can still make an all-black video (zeroed weights); the self-check passed it (issue 38, item 5).
    from stvsr.inference import output_frames

    model = create_model("imdn_tiny", scale=2).eval()
    with torch.no_grad():  # a collapsed run: the residual drowned by a huge negative bias, clamped to black
        model.net.up[0].bias.fill_(-1000.0)
    with pytest.raises(WeightsError, match="blank frame .* at output frame 0"):
        list(output_frames(model, iter(torch.rand(3, 3, 16, 16)), device=torch.device("cpu")))


def test_a_flat_input_may_give_a_flat_output():
    # A black leader (or a fade) is flat on both sides: not a broken model.
    from stvsr.inference import output_frames

    model = create_model("imdn_tiny", scale=2).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    out = list(output_frames(model, iter(torch.zeros(3, 3, 16, 16)), device=torch.device("cpu")))
    assert len(out) == 3


def test_propstvsr_starts_x2_from_x4_weights_with_each_residual_box_filtered(tmp_path):
    # A x4 model's weights into a x2 model: every input-size layer kept, and each sub-pixel output layer's 2x2
    # phases that fall in one x2 pixel averaged, so the residual is the x4 one box-filtered to the x2 grid.
    from torch.nn.functional import avg_pool2d
    from stvsr.train.loop import init_from
    torch.manual_seed(0)
    x4 = create_model("propstvsr_tiny", scale=4, time_factor=1).eval()
    for layer in (x4.up[0], x4.net.up[0]):  # the residual starts at zero: give it something to carry over
        torch.nn.init.normal_(layer.weight, std=0.1)
        torch.nn.init.normal_(layer.bias, std=0.1)
    x2 = create_model("propstvsr_tiny", scale=2, time_factor=1).eval()
    path = save_weights(x4, tmp_path / "x4.safetensors", name="propstvsr_tiny", kwargs={"scale": 4, "time_factor": 1})
    init_from(x2, str(path))
    for name, value in x4.state_dict().items():
        if not name.startswith(("up.", "net.up.")):
            assert torch.equal(x2.state_dict()[name], value), name
    features = torch.rand(1, x4.features, 5, 7)
    assert torch.allclose(x2.up(features), avg_pool2d(x4.up(features), 2), atol=1e-6)
    backbone = torch.rand(1, 8, 5, 7)  # the backbone's fused features
    assert torch.allclose(x2.net.up(backbone), avg_pool2d(x4.net.up(backbone), 2), atol=1e-6)
    assert x2(torch.rand(1, 3, 3, 20, 24)).shape == (1, 3, 3, 40, 48)
    x3 = create_model("propstvsr_tiny", scale=3, time_factor=1)
    with pytest.raises(WeightsError, match="do not fit"):  # 4 is not a multiple of 3: named, not guessed
        init_from(x3, str(path))
