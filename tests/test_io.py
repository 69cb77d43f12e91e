"""Video I/O: exact frame rates, frame counts, audio, bit depth, rotation, variable rate, folders, atomic writes."""

from fractions import Fraction

import numpy as np
import pytest
import torch

from stvsr.data.synthetic import translating_clip
from stvsr.errors import InputError, OutputError, UsageError
from stvsr.io import FrameFolderWriter, VideoReader, VideoWriter, audio_duration, probe
from stvsr.io.probe import natural_key, rate_from_intervals
from stvsr.data.synthetic_video import write_synthetic_video

from helpers import leftovers


@pytest.mark.parametrize("fps", [Fraction(30000, 1001), Fraction(24000, 1001), Fraction(25), Fraction(60)])
def test_exact_rational_rate_survives_a_round_trip(tmp_path, fps):
    clip = translating_clip(10, 48, 64)
    src = tmp_path / "in.mp4"
    write_synthetic_video(src, clip, fps=fps)
    info = probe(src)
    assert info.fps == fps and isinstance(info.fps, Fraction)
    assert info.frame_count == 10 and not info.vfr
    assert info.duration == pytest.approx(10 / float(fps), abs=1e-3)


def test_lossless_round_trip_is_exact(tmp_path):
    clip = translating_clip(6, 40, 56)
    dst = tmp_path / "out.mkv"
    with VideoWriter(dst, fps=Fraction(25), codec="ffv1", pix_fmt="bgr0") as writer:
        for frame in clip:
            writer.write(frame)
    frames = torch.stack(list(VideoReader(dst)))
    assert frames.shape == clip.shape
    assert torch.equal(frames.mul(255).round(), clip.mul(255).round())


def test_lossy_round_trip_is_close(ntsc_clip):
    reader = VideoReader(ntsc_clip)
    frames = torch.stack(list(reader))
    assert frames.shape == (20, 3, 48, 64) and len(reader) == 20
    expected = translating_clip(20, 48, 64)
    psnr = -10 * torch.log10(((frames - expected) ** 2).mean())
    assert psnr > 30


def test_audio_copied_with_the_same_duration(tmp_path, ntsc_clip):
    dst = tmp_path / "copy.mp4"
    with VideoReader(ntsc_clip) as reader, VideoWriter(dst, fps=reader.fps * 2, audio_from=ntsc_clip) as writer:
        for frame in reader:
            writer.write(frame)
            writer.write(frame)
    assert probe(dst).fps == Fraction(60000, 1001)
    assert audio_duration(dst) == pytest.approx(audio_duration(ntsc_clip), abs=1 / 60)
    assert any("copied" in note for note in writer.notes)


def test_audio_reencoded_when_the_container_refuses_it(tmp_path, ntsc_clip):
    dst = tmp_path / "out.webm"  # WebM takes Opus/Vorbis, not AAC
    with VideoReader(ntsc_clip) as reader, VideoWriter(dst, fps=reader.fps, audio_from=ntsc_clip) as writer:
        for frame in reader:
            writer.write(frame)
    info = probe(dst)
    assert info.codec == "vp9" and [s.codec for s in info.audio_streams] == ["opus"]
    assert audio_duration(dst) == pytest.approx(audio_duration(ntsc_clip), abs=0.05)


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_ten_bit_kept(tmp_path, codec):
    clip = translating_clip(4, 64, 64)
    dst = tmp_path / "deep.mkv"
    with VideoWriter(dst, fps=Fraction(24), codec=codec, pix_fmt="yuv420p10le") as writer:
        for frame in clip:
            writer.write(frame)
    info = probe(dst)
    assert info.bit_depth == 10 and info.pix_fmt == "yuv420p10le"
    frames = torch.stack(list(VideoReader(dst)))
    # Read at 16 bits: values fall between the 8-bit levels.
    off_grid = (frames * 255 - (frames * 255).round()).abs()
    assert off_grid.max() > 0.05


def test_av1_output_is_written_without_the_encoders_banner(tmp_path):
    """SVT-AV1 prints about 20 lines to stdout (C stdio, flushed at exit: a child process shows them) unless told not
    to; a user's `--codec libsvtav1` run must print only the summary."""
    import os
    import subprocess
    import sys

    dst = tmp_path / "out.mkv"
    script = ("import sys, torch; from fractions import Fraction; from stvsr.io import VideoWriter\n"
              "with VideoWriter(sys.argv[1], fps=Fraction(24), codec='libsvtav1') as w:\n"
              "    [w.write(torch.rand(3, 64, 64)) for _ in range(4)]\n")
    env = {k: v for k, v in os.environ.items() if k != "SVT_LOG"}
    run = subprocess.run([sys.executable, "-c", script, str(dst)], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert probe(dst).codec == "av1" and probe(dst).frame_count == 4
    assert "Svt[" not in run.stdout + run.stderr


def test_tiny_frames_refused_by_libx265(tmp_path):
    dst = tmp_path / "tiny.mkv"
    with pytest.raises(UsageError, match="at least 64x64"):
        with VideoWriter(dst, fps=Fraction(24), codec="libx265") as writer:
            writer.write(torch.rand(3, 32, 48))
    assert not dst.exists() and leftovers(tmp_path) == []


def test_odd_sizes_padded_for_yuv420(tmp_path):
    dst = tmp_path / "odd.mp4"
    with VideoWriter(dst, fps=Fraction(25)) as writer:
        for frame in translating_clip(3, 33, 45):
            writer.write(frame)
    info = probe(dst)
    assert (info.width, info.height) == (46, 34)
    assert any("padded 45x33 to 46x34" in note for note in writer.notes)


def test_rotation_metadata_applied(video_factory):
    path = video_factory("rotated.mp4", frames=3, height=32, width=48, rotation=90)
    info = probe(path)
    assert info.rotation == 90 and (info.width, info.height) == (32, 48)
    frame = next(iter(VideoReader(path)))
    assert frame.shape == (3, 48, 32)
    # The frame is the source rotated 90 degrees counter-clockwise, not clockwise (checked once against the ffmpeg
    # command line's autorotation: identical pixels).
    source = translating_clip(3, 32, 48)[0]
    ccw = (frame - torch.rot90(source, 1, dims=(1, 2))).square().mean()
    cw = (frame - torch.rot90(source, -1, dims=(1, 2))).square().mean()
    assert ccw < 0.005 and 10 * ccw < cw


def test_variable_frame_rate_detected_and_made_constant(tmp_path):
    # Frames at irregular times (ms): a phone clip that stuttered. Mean interval 40 ms -> 25 fps.
    times = [0, 40, 50, 60, 160, 200, 240, 250, 320, 360]
    src = tmp_path / "vfr.mkv"
    write_synthetic_video(src, translating_clip(10, 32, 48), fps=Fraction(25), pts=times, time_base=Fraction(1, 1000))
    info = probe(src)
    assert info.vfr and info.fps == 25
    reader = VideoReader(src)
    frames = list(reader)
    assert len(frames) == len(reader) == 10  # 0 .. 360 ms at 40 ms steps
    # Each 40 ms slot takes the nearest frame: 50 ms is dropped, 160 ms is shown twice (at 120 and 160 ms).
    source = translating_clip(10, 32, 48)
    nearest = [int(((source - f).square().mean(dim=(1, 2, 3))).argmin()) for f in frames]
    assert nearest == [0, 1, 3, 4, 4, 5, 6, 7, 8, 9]


def test_rate_from_intervals():
    tb = Fraction(1, 1000)
    ntsc = [round(i * 1001 / 30) for i in range(100)]  # 29.97 fps stored in milliseconds: 33 and 34 ms steps
    assert rate_from_intervals([b - a for a, b in zip(ntsc, ntsc[1:])], tb, None) == (Fraction(30000, 1001), False)
    assert rate_from_intervals([40] * 5, tb, Fraction(25)) == (Fraction(25), False)
    assert rate_from_intervals([30, 40, 50, 40], tb, None)[1] is True


def test_frame_folders_natural_order_and_atomic_write(tmp_path):
    clip = translating_clip(12, 20, 24)
    out = tmp_path / "frames"
    with FrameFolderWriter(out) as writer:
        for frame in clip:
            writer.write(frame)
    names = sorted(p.name for p in out.iterdir())
    assert names[0] == "000001.png" and len(names) == 12
    # Rename to unpadded numbers: natural sort must still give frame 2 before frame 10.
    for p in out.iterdir():
        p.rename(out / f"f{int(p.stem)}.png")
    frames = torch.stack(list(VideoReader(out, folder_fps=Fraction(24000, 1001))))
    assert torch.equal(frames.mul(255).round(), clip.mul(255).round())
    assert probe(out, folder_fps=Fraction(24000, 1001)).fps == Fraction(24000, 1001)
    assert natural_key("f2.png") < natural_key("f10.png")


def test_frame_folder_mixed_sizes_is_an_input_error(tmp_path):
    folder = tmp_path / "mixed"
    with FrameFolderWriter(folder) as writer:
        writer.write(torch.rand(3, 16, 16))
    import cv2
    cv2.imwrite(str(folder / "000002.png"), np.zeros((8, 16, 3), np.uint8))
    with pytest.raises(InputError, match="differ in size"):
        list(VideoReader(folder))


def test_writer_leaves_nothing_on_error(tmp_path):
    dst = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(dst, fps=Fraction(25)) as writer:
            writer.write(torch.rand(3, 16, 16))
            raise RuntimeError("boom")
    assert not dst.exists() and leftovers(tmp_path) == []


def test_writer_refuses_existing_output(tmp_path):
    dst = tmp_path / "exists.mp4"
    dst.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="exists"):
        VideoWriter(dst, fps=Fraction(25))
    assert dst.read_bytes() == b"keep me"


def test_disk_full_is_one_clear_error(tmp_path, monkeypatch):
    # A real ENOSPC from the kernel: the temporary file is a link to /dev/full.
    import stvsr.io.writer as writer_module

    def to_dev_full(path, suffix):
        link = path.parent / f".full{suffix}"
        link.symlink_to("/dev/full")
        return link

    monkeypatch.setattr(writer_module, "_partial_path", to_dev_full)
    dst = tmp_path / "full.mp4"
    with pytest.raises(OutputError, match="disk full"):
        with VideoWriter(dst, fps=Fraction(25)) as writer:
            for frame in translating_clip(30, 64, 64):
                writer.write(frame)
    assert not dst.exists() and not (tmp_path / ".full.mp4").exists()


def test_atomic_path_renames_on_success_and_cleans_up_on_failure(tmp_path):
    from stvsr.atomic import atomic_path, atomic_write_text

    target = tmp_path / "out.json"
    atomic_write_text(target, "one")
    assert target.read_text() == "one"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as partial:
            partial.write_text("half")
            assert partial.parent == tmp_path and partial.name.startswith(".out.json.")
            raise RuntimeError("disk full")
    assert target.read_text() == "one"  # the old file stands, no temporary is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_consumer_handles_in_order_finishes_and_reraises():
    from stvsr.io.threads import Consumer

    seen, finished = [], []
    sink = Consumer(seen.append, lambda: finished.append(True), maxsize=2)
    for i in range(20):
        sink.put(i)
    sink.close()
    assert seen == list(range(20)) and finished == [True]

    def fail(item):
        raise OSError(28, "No space left on device")

    broken = Consumer(fail, maxsize=1)
    with pytest.raises(OSError):
        for i in range(10):  # the thread's error surfaces at a later put (or at close), never a hang
            broken.put(i)
        broken.close()
    stopped = Consumer(lambda item: None, lambda: finished.append("no"), maxsize=1)
    stopped.put(1)
    stopped.cancel()
    assert finished == [True]  # cancel does not finish


def test_videos_open_with_a_pyav_that_has_no_metadata_errors_option(tmp_path, monkeypatch):
    # PyAV 19 (what pip installs for Python 3.12 and later) dropped av.open's metadata_errors: every input failed.
    import av

    real_open = av.open

    def open_without_option(*args, **kwargs):
        if "metadata_errors" in kwargs:
            raise TypeError("open() got an unexpected keyword argument 'metadata_errors'")
        return real_open(*args, **kwargs)

    src = tmp_path / "in.mp4"
    write_synthetic_video(src, translating_clip(4, 32, 48), fps=Fraction(25))
    monkeypatch.setattr(av, "open", open_without_option)
    with VideoReader(src) as reader:
        assert len(list(reader)) == 4
