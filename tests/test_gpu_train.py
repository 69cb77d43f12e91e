"""The lent-GPU path: a training pack read without PyAV, a time-boxed run, and scripts/gpu_train.py's CPU dry run."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from stvsr.data.synthetic import texture, translating_clip
from stvsr.data.synthetic_video import write_synthetic_video
from stvsr.errors import InputError, OutputError, UsageError
from stvsr.io import FrameFolderWriter
from stvsr.train.data import FrameStore, find_sources
from stvsr.train.pack import MANIFEST, PackedStore, pack_training_data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    write_synthetic_video(root / "a.mp4", translating_clip(40, 96, 128, seed=1))
    with FrameFolderWriter(root / "seq") as writer:
        for frame in translating_clip(24, 112, 128, velocity=(1, -2), seed=2):
            writer.write(frame)
    with FrameFolderWriter(root / "photos") as writer:
        writer.write(texture(96, 112, seed=3))
    return root


@pytest.fixture(scope="module")
def pack(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("pack") / "train"
    pack_training_data([str(sources)], [str(sources / "photos")], out, budget_mb=1, segment=12,
                       cache=str(out.parent / "cache"))
    return out


def test_a_pack_holds_the_cached_frames_near_losslessly_and_reads_without_pyav(sources, pack):
    manifest = json.loads((pack / MANIFEST).read_text())
    cached = FrameStore(find_sources([str(sources)], exclude=[str(sources / "photos")]), downscale=0.5,
                        cache=str(pack.parent / "cache"))
    # Every whole segment of both sources fits the budget here: 3 of a.mp4 (40 frames), 2 of seq (24).
    assert sorted((c["source"], c["start"]) for c in manifest["clips"]) == [
        ("a.mp4", 0), ("a.mp4", 12), ("a.mp4", 24), ("seq", 0), ("seq", 12)]
    script = f"""
import sys
sys.modules["av"] = None  # as on the GPU image
from stvsr.train.pack import PackedStore
store = PackedStore({str(pack)!r})
import torch
torch.save({{"clips": store.clips, "names": store.names, "photos": store.photos}}, {str(pack.parent / 'read.pt')!r})
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    read = torch.load(pack.parent / "read.pt", weights_only=True)
    by_name = dict(zip(["a.mp4", "seq"], cached.clips))
    for entry, clip in zip(manifest["clips"], read["clips"]):
        original = by_name[entry["source"]][entry["start"]:entry["start"] + entry["frames"]]
        assert clip.dtype == torch.uint8 and clip.shape == original.shape
        mse = (clip.float() - original.float()).pow(2).mean().item()
        assert 10 * torch.log10(torch.tensor(255 ** 2 / mse)) > 40  # RGB coding: no colour-matrix loss
        assert abs(entry["psnr_db"] - 10 * torch.log10(torch.tensor(255 ** 2 / mse)).item()) < 0.01
    assert len(read["photos"]) == 1 and read["photos"][0].shape == (3, 48, 56)


def test_a_pack_keeps_to_its_budget_and_spreads_what_it_takes(sources, tmp_path):
    manifest = pack_training_data([str(sources)], [], tmp_path / "small", budget_mb=0.001, segment=12,
                                  cache=str(tmp_path / "cache"))
    assert [c["source"] for c in manifest["clips"]] == ["a.mp4"]  # the first segment spends the budget
    with pytest.raises(OutputError, match="exists"):
        pack_training_data([str(sources)], [], tmp_path / "small", budget_mb=1, cache=str(tmp_path / "cache"))
    assert not list(tmp_path.glob(".*partial"))


def test_a_damaged_pack_is_one_line(pack, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(pack, broken)
    first = json.loads((broken / MANIFEST).read_text())["clips"][0]["file"]
    data = (broken / first).read_bytes()
    (broken / first).write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="truncated or unreadable"):
        PackedStore(broken)
    (broken / MANIFEST).write_text("{not json")
    with pytest.raises(InputError, match="manifest is corrupt"):
        PackedStore(broken)
    with pytest.raises(InputError, match="not a training pack"):
        PackedStore(tmp_path)


REAL_CHAIN = yaml.safe_load((ROOT / "configs/propstvsr_real.yaml").read_text())["data"]["degradation"]
# the GPU compressed recipe's: the shipped weights' codec mixture less VP9, one chain drawn per sample
GPU_REAL_CHAIN = yaml.safe_load((ROOT / "configs/gpu/propstvsr_real_l.yaml").read_text())["data"]["degradation"]


@pytest.fixture(scope="module")
def degraded_pack(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("dpack") / "train"
    pack_training_data([str(sources)], [str(sources / "photos")], out, budget_mb=1, segment=12,
                       cache=str(out.parent / "cache"), degradation=REAL_CHAIN, variants=2)
    return out


def test_a_pack_refuses_a_codec_it_cannot_store_before_packing(sources, tmp_path):
    # VP9 has no raw elementary stream for OpenCV to read on the bare GPU machine
    with pytest.raises(UsageError, match="a pack stores h264, h265, mpeg4 streams, not vp9"):
        pack_training_data([str(sources)], [], tmp_path / "train", budget_mb=1, degradation="BI+vp9:crf=20..40")
    assert not (tmp_path / "train").exists()


def test_a_degraded_pack_holds_the_inputs_of_the_chain_as_the_codecs_own_stream(degraded_pack):
    """Each segment's inputs are the training chain applied to the packed frames with the pack's draws (replayed here:
    the same codec settings), stored as the codec's own stream; OpenCV reads them (PyAV blocked) exactly as PyAV
    decodes them."""
    from stvsr.degrade import parse_protocol
    from stvsr.io.compress import read_codec_stream, video_roundtrip

    manifest = json.loads((degraded_pack / MANIFEST).read_text())
    assert manifest["degradation"] == REAL_CHAIN and manifest["scale"] == 4 and manifest["photos"] == []
    entries = [v for c in manifest["clips"] for v in c["lr"]]
    assert all(len(c["lr"]) == 2 for c in manifest["clips"]) and all(v["decode_max_diff"] == 0 for v in entries)
    assert any(v["file"].endswith(".h264") for v in entries) and len({v["codec"] for v in entries}) > 1
    script = f"""
import sys
sys.modules["av"] = None
from stvsr.train.pack import PackedStore
import torch
store = PackedStore({str(degraded_pack)!r})
torch.save({{"clips": store.clips, "degraded": store.degraded}}, {str(degraded_pack.parent / 'read.pt')!r})
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    read = torch.load(degraded_pack.parent / "read.pt", weights_only=True)
    protocol = parse_protocol(REAL_CHAIN)
    for number, (clip, inputs, entry) in enumerate(zip(read["clips"], read["degraded"], manifest["clips"]), start=1):
        assert clip.shape[-2] % 4 == 0 and clip.shape[-1] % 4 == 0
        rng = np.random.default_rng([0, number])
        for stored, variant in zip(inputs, entry["lr"]):
            x, codec = protocol.apply_before_codec(clip.float().div(255), 4, rng)
            assert variant["codec"] == ("none" if codec is None else
                                        f"{codec[0]} " + " ".join(f"{k}={v}" for k, v in codec[1].items()))
            assert stored.shape == x.shape and stored.dtype == torch.uint8
            if codec is None:  # stored losslessly
                assert torch.equal(stored.float(), x.clamp(0, 1).mul(255).round())
                continue
            decoded = read_codec_stream(degraded_pack / variant["file"])[..., :x.shape[-2], :x.shape[-1]]
            assert torch.equal(stored.float(), decoded.mul(255).round())
            # x264 is not always bit-exact between two encodes (io.compress.write_codec_stream): near, not equal
            fresh = video_roundtrip(x, codec[0], **codec[1])
            assert (stored.float() / 255 - fresh).pow(2).mean() < 1e-3  # above 30 dB


def test_samples_from_a_degraded_pack_pair_each_crop_with_its_input(degraded_pack):
    from stvsr.degrade import bicubic_down
    from stvsr.train.config import DataConfig
    from stvsr.train.data import TrainSamples

    store = PackedStore(degraded_pack)
    config = DataConfig(videos=[], photos=[], patch=8, frames=3, frame_step=2, degradation=REAL_CHAIN)
    samples = TrainSamples(store, [], config, scale=4, seed=1)
    for i in range(6):  # the input is nearest the bicubic of its own crop, not of a crop a pixel away
        sample = samples[i]
        assert sample.hr.shape == (3, 3, 32, 32) and sample.lr.shape == (3, 3, 8, 8)
        reference = bicubic_down(sample.hr, 4)[..., 1:-1, 1:-1]
        errors = {(dy, dx): (sample.lr.roll((dy, dx), (-2, -1))[..., 1:-1, 1:-1] - reference).abs().mean().item()
                  for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
        assert min(errors, key=errors.get) == (0, 0), errors


@pytest.fixture(scope="module")
def panned_pack(sources, tmp_path_factory):
    """A degraded pack with photos large enough to pan: each becomes panned segments with their inputs."""
    stills = tmp_path_factory.mktemp("stills")
    with FrameFolderWriter(stills / "photos") as writer:
        writer.write(texture(200, 176, seed=7))
        writer.write(texture(40, 40, seed=8))  # too small to pan: skipped
    out = tmp_path_factory.mktemp("ppack") / "train"
    pack_training_data([str(sources)], [str(stills / "photos")], out, budget_mb=1, segment=12,
                       cache=str(out.parent / "cache"), degradation=GPU_REAL_CHAIN, variants=2, pans=3, pan_size=64,
                       pan_frames=8)
    return out


def test_a_degraded_pack_holds_each_photo_as_panned_segments_with_their_inputs(panned_pack):
    """The stills a compressed recipe pans per sample (which needs PyAV to compress) are panned ahead of time: each
    pan is the photo's crop moving by one whole-pixel velocity, its inputs drawn as the video segments' are."""
    from stvsr.train.data import PAN_SPEED

    manifest = json.loads((panned_pack / MANIFEST).read_text())
    pans = [c for c in manifest["clips"] if c.get("pan")]
    assert [c["source"] for c in pans] == ["photo 0"] * 3 and manifest["photos"] == []
    assert all(len(c["lr"]) == 2 and c["frames"] == 8 for c in pans)
    store = PackedStore(panned_pack)
    assert store.pans == {i for i, c in enumerate(manifest["clips"]) if c.get("pan")}
    for i in store.pans:
        clip = store.clips[i].float()
        assert clip.shape[-2:] == (60, 60)  # min(64, 88 − 4·7) on the ×4 grid (the photo: 100×88 at ×0.5)
        assert store.degraded[i][0].shape == (8, 3, 15, 15)
        # one velocity: frame k+1 is frame k moved by (vy, vx), |v| ≤ PAN_SPEED, found where the two agree
        shifts = {(dy, dx): (clip[1, :, 8:-8, 8:-8] - clip[0, :, 8 + dy:52 + dy, 8 + dx:52 + dx]).abs().mean().item()
                  for dy in range(-PAN_SPEED, PAN_SPEED + 1) for dx in range(-PAN_SPEED, PAN_SPEED + 1)}
        vy, vx = min(shifts, key=shifts.get)
        assert shifts[(vy, vx)] < 3  # up to the packing codec's rounding
        later = (clip[5, :, 24:-24, 24:-24] - clip[4, :, 24 + vy:36 + vy, 24 + vx:36 + vx]).abs().mean().item()
        assert later < 3


def test_the_gpu_compressed_recipes_codec_mixture_packs(panned_pack):
    """configs/gpu/propstvsr_real_l.yaml draws the shipped weights' codecs less VP9 per sample: its chain packs, and
    the draws reach more than one codec (JPEG frames and skipped codecs are stored losslessly, as `none`)."""
    assert "||" in GPU_REAL_CHAIN and "mpeg4" in GPU_REAL_CHAIN and "jpeg" in GPU_REAL_CHAIN
    manifest = json.loads((panned_pack / MANIFEST).read_text())
    drawn = {v["codec"].split()[0] for c in manifest["clips"] for v in c["lr"]}
    assert {"h264", "none"} <= drawn and drawn & {"h265", "mpeg4"}, drawn


def test_a_negative_pan_count_is_one_line_and_leaves_nothing(sources, tmp_path):
    with pytest.raises(InputError, match="pans must be 0 or more"):
        pack_training_data([str(sources)], [], tmp_path / "p", degradation=REAL_CHAIN, pans=-1,
                           cache=str(tmp_path / "cache"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_samples_from_pans_follow_photo_share(panned_pack, share):
    from stvsr.train.config import DataConfig
    from stvsr.train.data import TrainSamples

    store = PackedStore(panned_pack)
    config = DataConfig(videos=[], photos=[], patch=8, frames=3, frame_step=2, degradation=REAL_CHAIN,
                        photo_share=share, augment=[])
    samples = TrainSamples(store, store.photos, config, scale=4, seed=3)
    pans = [store.clips[i] for i in store.pans]

    def from_a_pan(hr: torch.Tensor) -> bool:
        frame = hr[0].mul(255).round().to(torch.uint8)
        return any(torch.equal(frame, clip[k, :, y:y + 32, x:x + 32]) for clip in pans for k in range(len(clip))
                   for y in range(0, clip.shape[-2] - 31, 4) for x in range(0, clip.shape[-1] - 31, 4))

    drawn = [from_a_pan(samples[i].hr) for i in range(8)]
    assert drawn == [share == 1.0] * 8


def _vimeo_dev(root: Path) -> Path:
    clip = root / "sequences" / "00001" / "0001"
    clip.mkdir(parents=True)
    for i, frame in enumerate(translating_clip(7, 64, 64, seed=5), start=1):
        cv2.imwrite(str(clip / f"im{i}.png"), (frame.permute(1, 2, 0).flip(-1) * 255).round().byte().numpy())
    (root / "sep_testlist.txt").write_text("00001/0001\n")
    return root


def test_the_gpu_script_dry_run_trains_from_a_bundle_without_pyav(pack, tmp_path):
    """The one-call GPU script, on the CPU: the GPU recipe grown from the shipped default, a fitted schedule, the dev
    curve, weights that load; PyAV is blocked inside the script's dry run."""
    bundle = tmp_path / "bundle"
    import shutil

    shutil.copytree(pack, bundle / "train")
    _vimeo_dev(bundle / "dev")
    out = tmp_path / "out" / "run"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_train.py"), "run", "--dry-run",
                             "--bundle", str(bundle), "--config", str(ROOT / "configs/gpu/propstvsr_l.yaml"),
                             "--minutes", "0.15", "--validations", "2", "--out", str(out)],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps_planned"] >= 2 and summary["dev_curve"], summary
    assert [row["method"] for row in summary["speed"]] == [summary["weights"], "propstvsr.x4_l"]
    assert all(row["fps"] > 0 for row in summary["speed"])
    assert (out / "curve.png").is_file() and (out / summary["weights"]).is_file()
    assert not (tmp_path / "out" / ".run.rate").exists()  # the rate probe's scratch run is gone
    from stvsr.models import load_model

    model, metadata = load_model(out / summary["weights"], scale=4, time_factor=1)
    assert metadata["kwargs"]["features"] == 64 and metadata["training"]["data"]


def test_the_compressed_recipe_trains_from_a_degraded_bundle_without_pyav(pack, degraded_pack, tmp_path):
    """configs/propstvsr_real.yaml runs x264 in its loader: from a degraded pack it needs no PyAV (validation falls
    back to BI, said in the log); from a clean pack, no PyAV is one line naming the fix."""
    import shutil

    for name, source in (("clean", pack), ("degraded", degraded_pack)):
        shutil.copytree(source, tmp_path / name / "train")
        _vimeo_dev(tmp_path / name / "dev")
    command = [sys.executable, str(ROOT / "scripts" / "gpu_train.py"), "run", "--dry-run", "--config",
               str(ROOT / "configs/propstvsr_real.yaml"), "--minutes", "0.1", "--validations", "1"]
    result = subprocess.run(command + ["--bundle", str(tmp_path / "clean"), "--out", str(tmp_path / "o1")],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr[-2000:]
    assert "holds clean clips only" in result.stderr and "--degradation" in result.stderr
    result = subprocess.run(command + ["--bundle", str(tmp_path / "degraded"), "--out", str(tmp_path / "o2")],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "validation on BI: BI+h264:crf=26 needs PyAV" in result.stdout
    assert json.loads((tmp_path / "o2" / "summary.json").read_text())["dev_curve"]


def test_the_gpu_compressed_recipe_trains_from_a_panned_bundle(panned_pack, tmp_path):
    """configs/gpu/propstvsr_real_l.yaml: the shipped propstvsr.x4_real grown to propstvsr.x4_l's size, photos in
    most samples as the bundle's panned segments; its dry run trains and writes weights of the grown size."""
    import shutil

    shutil.copytree(panned_pack, tmp_path / "bundle" / "train")
    _vimeo_dev(tmp_path / "bundle" / "dev")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_train.py"), "run", "--dry-run", "--config",
                             str(ROOT / "configs/gpu/propstvsr_real_l.yaml"), "--minutes", "0.1", "--validations",
                             "1", "--bundle", str(tmp_path / "bundle"), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    from stvsr.models import read_metadata

    assert read_metadata(tmp_path / "o" / summary["weights"])["kwargs"]["features"] == 64


def test_the_gpu_script_refuses_without_cuda_unless_dry_run(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_train.py"), "run", "--bundle",
                             str(tmp_path), "--config", str(ROOT / "configs/gpu/propstvsr_l.yaml"), "--out",
                             str(tmp_path / "o")], capture_output=True, text=True, timeout=120, cwd=ROOT)
    if torch.cuda.is_available():
        pytest.skip("a CUDA machine")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no CUDA device" in result.stderr


def test_the_bundle_step_refuses_a_missing_dev_set_in_one_line(sources, tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_train.py"), "bundle", "--out",
                             str(tmp_path / "b"), "--videos", str(sources), "--dev", str(tmp_path / "nowhere")],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "no sep_testlist.txt" in result.stderr and not (tmp_path / "b").exists()


def test_a_bundle_carries_its_starting_weights_and_degraded_inputs(sources, tmp_path):
    """`bundle --init W --degradation CHAIN`: the weights travel in the bundle (zoo/ stays behind) and the pack holds
    the chain's inputs; a file that is not stvsr weights is one line and leaves nothing."""
    weights = ROOT / "zoo/propstvsr.x4_m.safetensors"
    command = [sys.executable, str(ROOT / "scripts" / "gpu_train.py"), "bundle", "--videos", str(sources),
               "--photos", "--dev", str(_vimeo_dev(tmp_path / "dev")), "--budget-mb", "1",
               "--cache", str(tmp_path / "cache")]
    result = subprocess.run(command + ["--out", str(tmp_path / "b"), "--init", str(weights), "--degradation",
                                       "BI+h264:crf=20..30", "--variants", "2"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode in (0, 1), result.stderr[-2000:]  # 1: the carry check (this tree is not set aside)
    assert (tmp_path / "b" / "init.safetensors").read_bytes() == weights.read_bytes()
    manifest = json.loads((tmp_path / "b" / "train" / MANIFEST).read_text())
    assert manifest["degradation"] == "BI+h264:crf=20..30" and all(len(c["lr"]) == 2 for c in manifest["clips"])
    (tmp_path / "junk.safetensors").write_bytes(b"not weights")
    result = subprocess.run(command + ["--out", str(tmp_path / "c"), "--init", str(tmp_path / "junk.safetensors")],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "c").exists() and not list(tmp_path.glob(".c*"))


def test_a_bundle_that_fails_to_pack_leaves_nothing(tmp_path):
    dev = _vimeo_dev(tmp_path / "dev")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_train.py"), "bundle", "--out",
                             str(tmp_path / "b"), "--videos", str(tmp_path / "no_videos"), "--dev", str(dev)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "training data not found" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev"]
