"""--resume: a job interrupted on purpose (kill -9, SIGTERM) continues from its last finished segment, and the
result equals one uninterrupted pass."""

import signal
import socket
import subprocess
import sys
import time

import torch

from stvsr.cli import main
from stvsr.data.synthetic import translating_clip
from stvsr.io import VideoReader, probe
from stvsr.data.synthetic_video import write_synthetic_video
from stvsr.jobs.segments import work_dir

from helpers import leftovers

LOSSLESS = ["--codec", "ffv1", "--pix-fmt", "bgr0"]


def frames_of(path):
    with VideoReader(path) as reader:
        return torch.stack(list(reader))


def make_source(tmp_path, frames=60):
    src = tmp_path / "src.mp4"
    write_synthetic_video(src, translating_clip(frames, 96, 128, seed=3), tone_hz=440)
    return src


def start(src, dst, *extra):
    return subprocess.Popen([sys.executable, "-m", "stvsr", "upscale", str(src), str(dst), "--scale", "2",
                             "--time-factor", "2", "--resume", "--segment-seconds", "0.2", *LOSSLESS, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and not predicate():
        time.sleep(0.02)
    assert predicate(), "timed out"


def test_killed_twice_then_resumed_equals_one_pass(tmp_path, capsys):
    # Bit-exact with the classical cascade (`--quality fast` at x2): a recurrent model's windows start elsewhere in a
    # segment read with its context than in one pass, so its frames differ slightly however the run was interrupted.
    fast = ("--quality", "fast")
    src = make_source(tmp_path)
    dst = tmp_path / "out.mkv"
    work = work_dir(dst)
    for finished in (1, 3):  # kill -9 after the first segment, then again after the third
        process = start(src, dst, *fast)
        wait_for(lambda: len(list(work.glob("segment_*"))) >= finished)
        process.kill()
        process.wait()
        assert not dst.exists()
    kept = len(list(work.glob("segment_*")))
    assert main(["upscale", str(src), str(dst), "--scale", "2", "--time-factor", "2", "--resume",
                 "--segment-seconds", "0.2", *fast, *LOSSLESS]) == 0
    out = capsys.readouterr().out
    assert f"resumed: {kept} finished segments kept" in out and "self-check  120 frames" in out and "- OK" in out
    assert not work.exists() and leftovers(tmp_path) == []
    single = tmp_path / "single.mkv"
    assert main(["upscale", str(src), str(single), "--scale", "2", "--time-factor", "2", *fast, *LOSSLESS]) == 0
    assert torch.equal(frames_of(dst), frames_of(single))
    assert probe(dst).fps == probe(single).fps and probe(dst).frame_count == 120


def test_sigterm_keeps_segments_and_says_how_to_continue(tmp_path):
    # Long enough not to finish before the signal, even if a loaded machine starves this test process for seconds
    # (with 240 frames it failed once in a full suite run beside a training run, and never alone).
    src = make_source(tmp_path, frames=720)
    dst = tmp_path / "out.mkv"
    process = start(src, dst)
    wait_for(lambda: len(list(work_dir(dst).glob("segment_*"))) >= 1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143
    assert err.strip().splitlines() == ["stvsr: terminated; finished segments are kept: the same command (with "
                                        "--resume) continues"]
    assert not dst.exists() and list(work_dir(dst).glob("segment_*"))


def test_other_options_start_afresh(tmp_path, capsys):
    src = make_source(tmp_path, frames=20)
    dst = tmp_path / "out.mp4"
    work = work_dir(dst)
    work.mkdir()
    (work / "job.json").write_text('{"method": "something else"}')
    (work / "segment_00000.mp4").write_bytes(b"not this job's")
    assert main(["upscale", str(src), str(dst), "--resume"]) == 0
    assert "started afresh" in capsys.readouterr().out
    assert probe(dst).frame_count == 20 and not work.exists()


def test_a_plain_run_removes_obsolete_work(tmp_path, capsys):
    src = make_source(tmp_path, frames=20)
    dst = tmp_path / "out.mp4"
    work_dir(dst).mkdir()
    assert main(["upscale", str(src), str(dst)]) == 0
    assert "unfinished work of an earlier --resume run" in capsys.readouterr().out and not work_dir(dst).exists()


def test_a_second_resume_to_the_same_output_is_refused_while_the_first_runs(tmp_path):
    # Both used to do the work, and the loser failed on a raw "No such file or directory" (issue 38, item 7).
    src = make_source(tmp_path, frames=720)
    dst = tmp_path / "out.mkv"
    first = start(src, dst)
    wait_for(lambda: len(list(work_dir(dst).glob("segment_*"))) >= 1)
    second = start(src, dst)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 4
    assert err.strip().splitlines() == [f"stvsr: error: another stvsr (pid {first.pid} on {socket.gethostname()}) "
                                        f"is writing {dst}"]
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=60)
    assert first.returncode == 143 and not dst.exists()
