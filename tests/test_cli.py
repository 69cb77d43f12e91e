"""`stvsr upscale | info | methods` end to end, and every bad input: one line, an exit code, nothing written."""

import os
import random
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from stvsr.cli import main
from stvsr.data.synthetic import translating_clip
from stvsr.io import FrameFolderWriter, audio_duration, probe
from stvsr.data.synthetic_video import write_synthetic_video

from helpers import digest, leftovers


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_failure(capsys, code_expected, src, dst, *extra):
    before = digest(src) if src.is_file() else None
    code, out, err = run_cli(capsys, "upscale", src, dst, *extra)
    assert code == code_expected, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stvsr: error:"), err
    assert "Traceback" not in err
    assert not dst.exists()
    assert leftovers(dst.parent) == []
    if before is not None:
        assert digest(src) == before
    return lines[0]


# The main job ---------------------------------------------------------------------------------------------------

def test_upscale_doubles_rate_and_size_keeping_audio(capsys, tmp_path, ntsc_clip):
    before = digest(ntsc_clip)
    dst = tmp_path / "out.mp4"
    code, out, err = run_cli(capsys, "upscale", ntsc_clip, dst, "--scale", 2, "--time-factor", 2)
    assert code == 0, err
    info = probe(dst)
    assert info.fps == Fraction(60000, 1001)
    assert info.frame_count == 40  # 2N: 2N - 1 interpolated frames, then the last one held
    assert (info.width, info.height) == (128, 96)
    assert info.duration == pytest.approx(probe(ntsc_clip).duration, abs=1e-6)
    assert audio_duration(dst) == pytest.approx(audio_duration(ntsc_clip), abs=1 / 60)
    assert digest(ntsc_clip) == before
    assert "20 -> 40" in out and "60000/1001" in out


def test_upscale_to_and_from_frame_folders(capsys, tmp_path, ntsc_clip):
    frames = tmp_path / "frames"
    code, out, err = run_cli(capsys, "upscale", ntsc_clip, frames, "--scale", 1, "--time-factor", 2,
                             "--method", "blend")
    assert code == 0, err
    assert len(list(frames.glob("*.png"))) == 40 and "audio not kept" in out
    code, _, err = run_cli(capsys, "upscale", frames, tmp_path / "back.mkv", "--scale", 2, "--input-fps", "60")
    assert code == 0, err
    assert probe(tmp_path / "back.mkv").fps == 60


def test_info_and_methods(capsys, ntsc_clip):
    code, out, _ = run_cli(capsys, "info", ntsc_clip)
    assert code == 0 and "30000/1001 (29.970 fps)" in out and "frames      20" in out and "aac" in out
    code, out, _ = run_cli(capsys, "info", ntsc_clip, "--json")
    assert code == 0 and '"fps": "30000/1001"' in out
    code, out, _ = run_cli(capsys, "methods")
    assert code == 0 and "dis" in out and "bicubic" in out


# Bad input ------------------------------------------------------------------------------------------------------

def test_missing_input(capsys, tmp_path):
    line = assert_clean_failure(capsys, 3, tmp_path / "nope.mp4", tmp_path / "out.mp4")
    assert "not found" in line


def test_not_a_video(capsys, tmp_path):
    src = tmp_path / "notes.mp4"
    src.write_text("this is not a video\n")
    assert "not a video" in assert_clean_failure(capsys, 3, src, tmp_path / "out.mp4")


def test_no_video_stream(capsys, tmp_path):
    src = tmp_path / "song.m4a"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        stream.layout = "mono"
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt", layout="mono")
            frame.sample_rate, frame.pts = 48000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert "no video stream" in assert_clean_failure(capsys, 3, src, tmp_path / "out.mp4")


def test_zero_frames(capsys, tmp_path):
    src = tmp_path / "empty.avi"  # AVI keeps a video track with no frames (MP4/MKV drop or refuse it)
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()  # a header with a video track, and no frame after it
    assert "no video frames" in assert_clean_failure(capsys, 3, src, tmp_path / "out.mp4")


def test_one_frame_cannot_be_interpolated(capsys, tmp_path, video_factory):
    src = video_factory("single.mp4", frames=1)
    line = assert_clean_failure(capsys, 3, src, tmp_path / "out.mp4", "--time-factor", 2)
    assert "at least 2 frames" in line


@pytest.mark.parametrize("container", ["mp4", "mkv"])
def test_truncated_file(capsys, tmp_path, video_factory, container):
    options = {"movflags": "faststart"} if container == "mp4" else None  # index first, so the cut file opens
    src = video_factory(f"whole.{container}", frames=30, container_options=options)
    cut = tmp_path / f"cut.{container}"
    data = src.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    assert "truncated" in assert_clean_failure(capsys, 3, cut, tmp_path / "out.mp4")


def test_corrupted_mid_stream(capsys, tmp_path, video_factory):
    src = video_factory("tocorrupt.mp4", frames=30, tone_hz=440)
    data = bytearray(src.read_bytes())
    rng = random.Random(0)
    for i in range(len(data) // 3, len(data) // 3 + 400):  # the middle of the media data, before the index
        data[i] = rng.randrange(256)
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(bytes(data))
    assert "corrupt" in assert_clean_failure(capsys, 3, bad, tmp_path / "out.mp4")


@pytest.mark.parametrize("height,width", [(1, 1), (3, 5)])
def test_tiny_frames(capsys, tmp_path, height, width):
    src = tmp_path / f"tiny{height}x{width}"
    with FrameFolderWriter(src) as writer:
        for _ in range(3):
            writer.write(torch.rand(3, height, width))
    assert "too small" in assert_clean_failure(capsys, 3, src, tmp_path / "out.mp4")


def test_output_folder_missing(capsys, tmp_path, ntsc_clip):
    dst = tmp_path / "no" / "such" / "out.mp4"
    code, _, err = run_cli(capsys, "upscale", ntsc_clip, dst)
    assert code == 4 and "does not exist" in err and not dst.exists()


def test_unwritable_destination(capsys, tmp_path, ntsc_clip):
    # /proc refuses new files even to root, so this holds wherever the tests run.
    code, _, err = run_cli(capsys, "upscale", ntsc_clip, "/proc/stvsr-out.mp4")
    assert code == 4 and err.startswith("stvsr: error: cannot write") and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder(capsys, tmp_path, ntsc_clip):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert "not writable" in assert_clean_failure(capsys, 4, ntsc_clip, folder / "out.mp4")
    finally:
        folder.chmod(0o700)


def test_disk_full(capsys, tmp_path, ntsc_clip, monkeypatch):
    import stvsr.io.writer as writer_module

    def to_dev_full(path, suffix):  # a real ENOSPC from the kernel
        link = path.parent / f".full{suffix}"
        link.symlink_to("/dev/full")
        return link

    monkeypatch.setattr(writer_module, "_partial_path", to_dev_full)
    assert "disk full" in assert_clean_failure(capsys, 4, ntsc_clip, tmp_path / "out.mp4", "--scale", 4)


def test_existing_output_and_input_as_output(capsys, tmp_path, ntsc_clip):
    dst = tmp_path / "taken.mp4"
    dst.write_bytes(b"precious")
    code, _, err = run_cli(capsys, "upscale", ntsc_clip, dst)
    assert code == 4 and "--overwrite" in err and dst.read_bytes() == b"precious"
    before = digest(ntsc_clip)
    code, _, err = run_cli(capsys, "upscale", ntsc_clip, ntsc_clip, "--overwrite")
    assert code == 4 and "over the input" in err and digest(ntsc_clip) == before


def test_bad_arguments(capsys, tmp_path, ntsc_clip):
    with pytest.raises(SystemExit) as exit_info:
        main(["upscale", str(ntsc_clip), str(tmp_path / "o.mp4"), "--scale", "5"])
    assert exit_info.value.code == 2
    code, _, err = run_cli(capsys, "upscale", ntsc_clip, tmp_path / "o.mp4", "--time-factor", 2,
                           "--method", "bicubic")
    assert code == 2 and "dis+bicubic" in err
    code, _, err = run_cli(capsys, "upscale", ntsc_clip, tmp_path / "o.xyz")
    assert code == 2 and "unknown video extension" in err
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("sig,code,word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_or_kill_leaves_nothing(tmp_path, sig, code, word):
    src = tmp_path / "long.mp4"
    write_synthetic_video(src, (translating_clip(1, 240, 320, seed=i)[0] for i in range(150)), tone_hz=440)
    before = digest(src)
    dst = tmp_path / "out.mp4"
    process = subprocess.Popen([sys.executable, "-m", "stvsr", "upscale", str(src), str(dst), "--scale", "4",
                                "--time-factor", "2"], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not leftovers(tmp_path):  # wait until it is writing
        time.sleep(0.05)
    assert leftovers(tmp_path), "never started writing"
    time.sleep(0.5)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code
    assert err.strip().splitlines() == [f"stvsr: {word}; nothing was written"]
    assert not dst.exists() and leftovers(tmp_path) == []
    assert digest(src) == before


def test_small_mistakes_get_the_right_one_line(capsys, tmp_path, ntsc_clip):
    # Issue 38, item 15: each message said something else (unknown method, `stvsr methods`, '.preview').
    code, _, err = run_cli(capsys, "upscale", ntsc_clip, tmp_path / "o.mp4", "--weights", tmp_path / "model.pt")
    assert code == 2 and "--weights must be a .safetensors file" in err
    code, _, err = run_cli(capsys, "models", "--details", "nosuch")
    assert code == 2 and "`stvsr models` lists them" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "upscale", ntsc_clip, tmp_path / "frames", "--preview")
    assert code == 2 and "--preview writes a video" in err
    with pytest.raises(SystemExit) as exit_:
        main(["upscale", str(ntsc_clip), str(tmp_path / "o.mp4"), "--no-scene-detect", "--scene-threshold", "20"])
    assert exit_.value.code == 2 and "not allowed with" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_models_lists_tiny_test_variants_only_when_asked(capsys):
    assert main(["models"]) == 0
    plain = capsys.readouterr().out
    assert "imdn " in plain and "imdn_tiny" not in plain and "stvsr models --all" in plain
    assert main(["models", "--all"]) == 0
    assert "imdn_tiny" in capsys.readouterr().out
    assert main(["models", "imdn*tiny"]) == 0
    assert "imdn_tiny" in capsys.readouterr().out


def test_the_tile_help_states_the_sizes_the_code_uses(capsys):
    """The --tile help quoted 1024 while the code used 1536: the help's numbers are checked against auto_tile."""
    from stvsr.models.build import auto_tile

    with pytest.raises(SystemExit):
        main(["upscale", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    per_frame, multi_frame = auto_tile(1, 1), auto_tile(1, 5)
    assert f"{per_frame}x{per_frame} output pixels, {multi_frame}x{multi_frame} for multi-frame" in text


@pytest.mark.parametrize("script", sorted(p.name for p in (Path(__file__).parents[1] / "benchmarks").glob("[!_]*.py")))
def test_every_benchmark_script_answers_help(script):
    """A benchmark that no longer starts (a renamed import, a moved module) fails here, not on the day it is needed."""
    import subprocess

    root = Path(__file__).parents[1]
    done = subprocess.run([sys.executable, str(root / "benchmarks" / script), "--help"], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
