"""Classical methods through the registry, the streaming window runner, and interpolation quality."""

import pytest
import torch

from stvsr.data.synthetic import translating_clip
from stvsr.errors import UsageError
from stvsr.models import Cascade, VideoModel, build_method, list_models
from stvsr.models.classical import FlowInterpolation
from stvsr.models.registry import create_model
from stvsr.ops.flow import dis_flow, farneback_flow
from stvsr.ops.warp import warp
from stvsr.inference import run_windows


def psnr(a, b):
    return (-10 * torch.log10((a - b).square().mean())).item()


def test_registry_lists_the_classical_methods():
    names = {e.name for e in list_models()}
    assert {"bicubic", "lanczos", "repeat", "blend", "dis"} <= names
    assert {e.name for e in list_models(task="vfi")} >= {"repeat", "blend", "dis"}


@pytest.mark.parametrize("spec,order,first", [("dis+bicubic", None, "FlowInterpolation"),
                                              ("bicubic+dis", None, "Resize"),
                                              ("dis+bicubic", "st", "Resize")])
def test_cascades_in_either_order(spec, order, first):
    model = build_method(spec, scale=2, time_factor=2, order=order)
    assert isinstance(model, Cascade) and type(model.first).__name__ == first
    clip = translating_clip(3, 24, 32)[None]
    out = model(clip)
    assert out.shape == (1, 5, 3, 48, 64) and torch.isfinite(out).all()


@pytest.mark.parametrize("spec,scale,k,message", [
    ("bicubic", 2, 2, "pair it with a frame interpolator"),
    ("dis", 2, 2, "pair it with a spatial method"),
    ("bicubic+lanczos", 2, 2, "one spatial and one temporal"),
    ("nosuch", 2, 1, "unknown method"),
    ("bicubic", 2, 1, None),
])
def test_method_validation(spec, scale, k, message):
    if message is None:
        assert build_method(spec, scale=scale, time_factor=k).scale == scale
        return
    with pytest.raises(UsageError, match=message):
        build_method(spec, scale=scale, time_factor=k)


def test_interpolators_keep_the_input_frames():
    clip = translating_clip(4, 32, 32)[None]
    for name in ("repeat", "blend", "dis"):
        out = build_method(name, scale=1, time_factor=2)(clip)
        assert out.shape[1] == 7
        assert torch.equal(out[0, ::2], clip[0])


def test_dis_beats_blend_on_a_translating_clip():
    # Odd frames of a clip moving 3 px/frame are the ground truth for interpolating the even ones.
    clip = translating_clip(9, 64, 96, velocity=(3, 2), seed=1)
    inputs = clip[::2][None]
    truth = clip[1::2]
    flow = build_method("dis", scale=1, time_factor=2)(inputs)[0, 1::2]
    blend = build_method("blend", scale=1, time_factor=2)(inputs)[0, 1::2]
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))  # away from where content enters the frame
    assert psnr(flow[inner], truth[inner]) > psnr(blend[inner], truth[inner]) + 5


def test_dis_averages_its_two_warps_so_their_independent_errors_partly_cancel():
    # The same moving picture with independent noise on each input, as two super-resolved frames have their own
    # errors: the averaged blend keeps about half of one warp's error (a blend that picked one warp would keep it all).
    clip = translating_clip(3, 64, 96, velocity=(2, 1), seed=3)
    noisy = clip[::2] + 0.04 * torch.randn(2, *clip.shape[1:], generator=torch.Generator().manual_seed(0))
    inner = (slice(None), slice(12, -12), slice(12, -12))
    made = FlowInterpolation()(noisy.clamp(0, 1)[None])[0, 1]
    one_warp = (noisy[0].clamp(0, 1) - clip[0])[inner].square().mean().item()
    assert (made - clip[1])[inner].square().mean().item() < 0.65 * one_warp


def test_models_trained_on_occlusion_aware_frames_keep_that_blend():

    assert create_model("dis").blend == "average" and create_model("dis_fast").blend == "average"
    assert create_model("propstvsr", time_factor=2).interpolate.blend == "occlusion"
    assert create_model("tpcascade_tiny").interpolate.blend == "occlusion"
    assert create_model("flowstvsr_tiny").interpolate.blend == "occlusion"
    assert create_model("flowvfi_tiny").flow.blend == "occlusion"
    assert create_model("dual_stream", temporal="dis_fast", streams="st").temporal.blend == "occlusion"
    with pytest.raises(ValueError, match="blend must be one of"):
        FlowInterpolation(blend="median")


def test_flow_backends_recover_a_known_translation():
    clip = translating_clip(2, 64, 64, velocity=(3, 1), seed=2)
    for backend in (dis_flow, farneback_flow):
        flow = backend(clip[:1], clip[1:])  # content moves by -velocity in the window: a(p) = b(p - v)
        centre = flow[0, :, 16:-16, 16:-16].mean(dim=(1, 2))
        assert torch.allclose(centre, torch.tensor([-3.0, -1.0]), atol=0.3)


def test_warp_identity_and_integer_shift():
    frames = torch.rand(1, 3, 10, 12)
    assert torch.allclose(warp(frames, torch.zeros(1, 2, 10, 12)), frames, atol=1e-6)
    shift = torch.zeros(1, 2, 10, 12)
    shift[:, 0] = 2
    assert torch.allclose(warp(frames, shift)[..., :-2], frames[..., 2:], atol=1e-6)


def test_opencv_warp_matches_grid_sample():
    # Inference on the CPU warps with cv2.remap; frames that need a gradient take grid_sample. Both must agree,
    # borders included (flows reach 12 px past the edges of a 20x24 frame).
    frames, flow = torch.rand(2, 5, 20, 24), torch.randn(2, 2, 20, 24) * 6
    fast = warp(frames, flow)
    reference = warp(frames.requires_grad_(), flow)
    assert reference.requires_grad and not fast.requires_grad
    assert torch.allclose(fast, reference.detach(), atol=2e-4)


class TimeStamp(VideoModel):
    """A fake temporal model whose output frames carry their global time (input frames hold their index)."""

    def __init__(self, window, time_factor=2):
        super().__init__()
        self.window, self.time_factor, self.calls = window, time_factor, []

    def forward(self, clip):
        self.calls.append(clip[0, :, 0, 0, 0].tolist())
        t = clip.shape[1]
        k = self.time_factor
        first = clip[0, 0, 0, 0, 0]
        times = first + torch.arange((t - 1) * k + 1) / k
        return times.view(1, -1, 1, 1, 1).expand(1, -1, 3, 2, 2).clone()


@pytest.mark.parametrize("frames", [1, 2, 3, 7, 8, 13, 20])
@pytest.mark.parametrize("window,overlap", [(2, 1), (4, 1), (7, 2), (7, 3)])
def test_run_windows_covers_every_output_once_in_order(frames, window, overlap):
    model = TimeStamp(window)
    inputs = [torch.full((3, 2, 2), float(i)) for i in range(frames)]
    out = [f[0, 0, 0].item() for f in run_windows(model, iter(inputs), device=torch.device("cpu"), overlap=overlap)]
    assert out == [i / 2 for i in range((frames - 1) * 2 + 1)]
    assert all(len(call) <= window for call in model.calls)


def test_run_windows_drops_margins():
    # With overlap 3, each window's first and last outputs (next to its edges) are replaced by a neighbour's.
    model = TimeStamp(7)
    inputs = [torch.full((3, 2, 2), float(i)) for i in range(15)]
    list(run_windows(model, iter(inputs), device=torch.device("cpu"), overlap=3))
    assert [call[0] for call in model.calls] == [0.0, 4.0, 8.0]


def test_dis_interpolation_needs_room(video_factory, tmp_path, capsys):
    # OpenCV's DIS asserts (a C++ abort) on frames under 16 pixels: stvsr refuses them first, in one line
    from stvsr.cli import main

    assert FlowInterpolation().min_size == 16
    small = video_factory("narrow.mp4", frames=4, height=14, width=32)
    out = tmp_path / "out.mp4"
    code = main(["upscale", str(small), str(out), "--scale", "1", "--time-factor", "2", "--method", "dis"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3 and len(err) == 1 and "too small for dis" in err[0] and "16x16" in err[0], err
    assert not out.exists()


def test_a_multi_frame_space_time_model_at_one_frame_rate_is_the_space_half_of_a_cascade(tmp_path):
    from stvsr.models.checkpoint import save_weights

    kwargs = {"scale": 2, "time_factor": 1}
    vsr = save_weights(create_model("propstvsr_tiny", **kwargs), tmp_path / "vsr.safetensors",
                       name="propstvsr_tiny", kwargs=kwargs)
    model = build_method(f"{vsr}+dis", scale=2, time_factor=2)
    assert isinstance(model, Cascade) and model.first.time_factor == 1
    # Windows are the multi-frame model's, with its overlap (the interpolator needs only one shared frame).
    assert (model.window, model.window_overlap) == (8, 4)
    clip = translating_clip(11, 24, 32)
    out = list(run_windows(model, clip, device=torch.device("cpu")))
    assert len(out) == 21 and out[0].shape == (3, 48, 64)
    # Every second output frame is the spatial model's own frame; the interpolator fills the rest.
    single = model.first(clip[None])[0]
    assert torch.allclose(out[0], single[0], atol=1e-5)

    stvsr_kwargs = {"scale": 2, "time_factor": 2}
    both = save_weights(create_model("propstvsr_tiny", **stvsr_kwargs), tmp_path / "stvsr.safetensors",
                        name="propstvsr_tiny", kwargs=stvsr_kwargs)
    with pytest.raises(UsageError, match="one spatial and one temporal"):
        build_method(f"{both}+dis", scale=2, time_factor=2)


@pytest.mark.parametrize("spec,scale,k,message", [("bicubic+dis", 2, 1, "--time-factor 2"),
                                                  ("bicubic+dis", 1, 2, "--scale above 1")])
def test_a_cascade_with_an_idle_half_is_refused(spec, scale, k, message):
    # bicubic+dis at --time-factor 1 once ran DIS for nothing (and `stvsr bench` timed it as the cascade).
    with pytest.raises(UsageError, match=message):
        build_method(spec, scale=scale, time_factor=k)


class CountingResize(VideoModel):
    """Nearest-neighbour x2 per frame that counts the frames it was given."""

    def __init__(self):
        super().__init__()
        self.scale, self.frames_seen = 2, 0

    def forward(self, clip):
        self.frames_seen += clip.shape[1]
        return clip.repeat_interleave(2, dim=-1).repeat_interleave(2, dim=-2)


@pytest.mark.parametrize("spatial_first", [True, False])
def test_a_streamed_cascade_runs_each_half_once_per_frame(spatial_first):
    # The cascade's shared pairs once sent every frame through the per-frame SR model twice.
    resize, dis = CountingResize(), build_method("dis", scale=1, time_factor=2)
    model = Cascade(resize, dis) if spatial_first else Cascade(dis, resize)
    clip = translating_clip(9, 24, 32)
    out = torch.stack(list(run_windows(model, iter(clip), device=torch.device("cpu"))))
    assert resize.frames_seen == (9 if spatial_first else 17)
    resize.frames_seen = 0
    whole = model(clip[None])[0]
    assert out.shape == whole.shape == (17, 3, 48, 64)
    assert torch.allclose(out, whole, atol=1e-6)


def test_interpolators_batch_their_pairs_in_larger_windows_off_the_cpu():
    from stvsr.models.base import streaming_window

    dis = build_method("dis", scale=1, time_factor=3)
    assert streaming_window(dis, torch.device("cpu")) == 2
    assert streaming_window(dis, torch.device("cuda")) == dis.device_window == 9
    assert streaming_window(build_method("bicubic", scale=2, time_factor=1), torch.device("cuda")) == 4
    # A 9-frame window (8 pairs in one interpolate call) gives what pairs one at a time give.
    clip = translating_clip(12, 24, 32, velocity=(2, 1))
    pairs = torch.stack(list(run_windows(dis, iter(clip), device=torch.device("cpu"))))
    dis.window = 9
    batched = torch.stack(list(run_windows(dis, iter(clip), device=torch.device("cpu"))))
    assert pairs.shape == batched.shape == (34, 3, 24, 32)
    assert torch.allclose(pairs, batched, atol=1e-6)


def test_a_prepared_model_on_a_cpu_runs_channels_last_and_can_still_train(tmp_path):
    # Prepared turns 2-D convolution weights channels-last on a CPU (fp32 too); 3-D convolutions keep theirs
    # (Module.to(memory_format=...) refused them: vsr_5parallel.x4 crashed at --precision auto), and weights
    # converted under inference mode must stay usable by autograd.
    from stvsr.models.build import Prepared

    inner = create_model("vsr_5parallel_tiny", scale=2)
    model = Prepared(inner).eval()
    clip = torch.rand(1, 5, 3, 16, 16)
    with torch.no_grad():
        expected = inner(clip)
    with torch.inference_mode():
        got = model(clip)
    assert (got - expected).abs().max() < 1e-5
    weights = [p for p in inner.parameters() if p.dim() == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    assert not any(p.is_inference() for p in inner.parameters())
    inner.train()
    inner(clip).mean().backward()
    assert all(p.grad is not None for name, p in inner.named_parameters() if not name.startswith("aux."))


def test_per_frame_networks_run_a_few_frames_at_a_time_on_a_cpu_and_agree_with_the_whole_batch():
    from stvsr.ops import batching
    from stvsr.ops.batching import frames_per_call, per_frame

    calls = []

    def network(frames):
        calls.append(frames.shape[0])
        return frames * 2 + 1

    frames = torch.rand(7, 3, 270, 480)  # a 1080p job's input: one frame per call
    with torch.no_grad():
        assert torch.equal(per_frame(network, frames), frames * 2 + 1)
    assert calls == [1] * 7
    small = torch.rand(7, 3, 64, 112)
    with torch.no_grad():
        assert frames_per_call(small) == batching.CPU_PIXELS_PER_CALL // (64 * 112) >= 7
    assert frames_per_call(torch.rand(7, 3, 270, 480)) == 7  # gradients on: training keeps its batch

    model = create_model("propstvsr_tiny", scale=2, time_factor=1).eval()
    torch.nn.init.normal_(model.up[0].weight, std=0.1)  # a residual that is not zero, so `encode` counts too
    clip = translating_clip(6, 40, 48)[None]
    outputs = []
    for budget in (2 * 40 * 48, 10 ** 9):  # two frames a call, then the whole window
        with torch.no_grad(), pytest.MonkeyPatch.context() as patch:
            patch.setattr(batching, "CPU_PIXELS_PER_CALL", budget)
            outputs.append(model(clip))
    chunked, whole = outputs
    assert (chunked - whole).abs().max() < 1e-5


def test_per_frame_models_in_device_windows_give_every_frame_once():
    # Off the CPU per-frame models take 4 frames a call; 10 frames: two full windows and the last, end-aligned.
    bicubic = build_method("bicubic", scale=2, time_factor=1)
    clip = translating_clip(10, 16, 24)
    one_by_one = torch.stack(list(run_windows(bicubic, iter(clip), device=torch.device("cpu"))))
    bicubic.window = bicubic.device_window
    assert bicubic.window == 4
    batched = torch.stack(list(run_windows(bicubic, iter(clip), device=torch.device("cpu"))))
    assert batched.shape == one_by_one.shape == (10, 3, 32, 48)
    assert torch.equal(batched, one_by_one)


def test_flow_oracle_benchmark_swaps_only_the_frames_flow_is_computed_on(load_script):
    oracle = load_script("compressed_flow_oracle", folder="benchmarks")
    model = create_model("propstvsr_tiny", time_factor=1).eval()
    torch.manual_seed(0)
    with torch.no_grad():  # an untrained residual starts at zero and would ignore the flow
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    lr = translating_clip(4, 24, 24, seed=1)
    own = oracle.run_with_flow_from(model, lr, None)
    assert torch.equal(oracle.run_with_flow_from(model, lr, lr), own)  # the same frames: the same flows
    other = translating_clip(4, 24, 24, velocity=(-1, 2), seed=5)
    assert not torch.equal(oracle.run_with_flow_from(model, lr, other), own)
    assert oracle.propagation.dis_flow is dis_flow  # put back
