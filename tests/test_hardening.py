"""Faults a hostile but realistic user meets: a closed terminal, kill -9, bad encoder options, tiny clips, bad
training configs, resumed logs, and failures that must come before torch is even imported."""

import csv
import os
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest
import torch
import yaml

from stvsr.cli import main
from stvsr.data.synthetic import translating_clip
from stvsr.io import probe
from stvsr.io.outputs import partial_path, remove_stale_partials
from stvsr.data.synthetic_video import write_synthetic_video
from stvsr.train.loop import truncate_log

from helpers import leftovers
from test_cli import assert_clean_failure, run_cli
from test_datasets import make_vimeo


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """150 frames at 320x240 with sound: a x4 x2 run takes long enough to be interrupted."""
    src = tmp_path_factory.mktemp("long") / "long.mp4"
    write_synthetic_video(src, (translating_clip(1, 240, 320, seed=i)[0] for i in range(150)), tone_hz=440)
    return src


def start_upscale(src, dst):
    return subprocess.Popen([sys.executable, "-m", "stvsr", "upscale", str(src), str(dst), "--scale", "4",
                             "--time-factor", "2"], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def wait_for_partial(folder, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline and not leftovers(folder):
        time.sleep(0.05)
    assert leftovers(folder), "never started writing"


# Interruptions ------------------------------------------------------------------------------------------------

def test_closed_terminal_cleans_up_like_sigterm(tmp_path, long_clip):
    dst = tmp_path / "out.mp4"
    process = start_upscale(long_clip, dst)
    wait_for_partial(tmp_path)
    process.send_signal(signal.SIGHUP)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 129
    assert err.strip().splitlines() == ["stvsr: hung up (terminal closed); nothing was written"]
    assert not dst.exists() and leftovers(tmp_path) == []


def test_kill_9_debris_is_removed_by_the_next_run(tmp_path, long_clip, ntsc_clip):
    dst = tmp_path / "out.mp4"
    process = start_upscale(long_clip, dst)
    wait_for_partial(tmp_path)
    process.kill()
    process.wait()
    stale = leftovers(tmp_path)
    assert len(stale) == 1 and not dst.exists()  # no handler runs on SIGKILL: the temporary stays behind
    code, out, err = run_cli_capture(["upscale", ntsc_clip, dst, "--scale", 2])
    assert code == 0, err
    assert f"removed {stale[0]}" in out and "interrupted run" in out
    assert leftovers(tmp_path) == [] and probe(dst).frame_count == 20


def run_cli_capture(args):
    process = subprocess.run([sys.executable, "-m", "stvsr", *map(str, args)], capture_output=True, text=True,
                             timeout=120)
    return process.returncode, process.stdout, process.stderr


def test_a_live_writers_temporary_is_kept(tmp_path):
    dst = tmp_path / "clip.mp4"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ours = partial_path(dst, ".mp4").name
        alive = tmp_path / ours.replace(f"-{os.getpid()}-", f"-{sleeper.pid}-")
        dead = tmp_path / partial_path(dst, ".mp4").name.replace(f"-{os.getpid()}-", f"-{gone.pid}-")
        alive.write_bytes(b"being written")
        dead.write_bytes(b"left by kill -9")
        notes = remove_stale_partials(dst)
        assert alive.exists() and not dead.exists()
        assert len(notes) == 1 and dead.name in notes[0]
    finally:
        sleeper.kill()
        sleeper.wait()


# Encoder options, checked before anything is decoded -----------------------------------------------------------

@pytest.mark.parametrize("extra,message", [
    (["--crf", "-1"], "outside libx264's range 0-51"),
    (["--crf", "99"], "outside libx264's range 0-51"),
    (["--codec", "libvpx-vp9", "--crf", "64"], "outside libvpx-vp9's range 0-63"),
    (["--codec", "ffv1", "--crf", "10"], "--crf applies to"),
    (["--preset", "warpspeed"], "ultrafast, superfast"),
    (["--codec", "libvpx-vp9", "--preset", "fast"], "--preset applies to libx264/libx265"),
    (["--codec", "nonesuch"], "unknown encoder"),
    (["--pix-fmt", "rgb48le"], "does not take pixel format"),
])
def test_bad_encoder_options_fail_up_front(capsys, tmp_path, ntsc_clip, extra, message):
    line = assert_clean_failure(capsys, 2, ntsc_clip, tmp_path / "out.mp4", "--scale", 2, *extra)
    assert message in line


def test_encoder_options_on_a_frame_folder_are_refused(capsys, tmp_path, ntsc_clip):
    assert "frame folder" in assert_clean_failure(capsys, 2, ntsc_clip, tmp_path / "frames", "--crf", 20)


def test_valid_crf_and_preset_are_used(capsys, tmp_path, ntsc_clip):
    dst = tmp_path / "out.mp4"
    code, _, err = run_cli(capsys, "upscale", ntsc_clip, dst, "--crf", 0, "--preset", "ultrafast")
    assert code == 0, err
    with av.open(str(dst)) as container:  # x264 writes its settings into the stream
        sei = bytes(next(container.demux(video=0)))
    assert b"crf=0.0" in sei or b"qp=0" in sei
    assert b"ultrafast" in sei or b"subme=0" in sei


ERRORS_WITHOUT_TORCH = [
    (["upscale", "{missing}", "{out}"], 3),
    (["upscale", "{clip}", "{out}", "--crf", "99"], 2),
    (["upscale", "{clip}", "{out}", "--preset", "warpspeed"], 2),
    (["upscale", "{clip}", "{clip}"], 4),
    (["upscale", "{clip}", "{out}", "--precision", "fp16", "--device", "cpu"], 2),
    (["train", "--config", "{config}", "--set", "optim.lr=-1"], 2),
    (["train", "--config", "{config}", "--set", "data.videos=[{missing}]"], 3),
    (["evaluate", "--data", "{missing}", "--layout", "vimeo"], 3),
]


@pytest.mark.parametrize("argv,code", ERRORS_WITHOUT_TORCH)
def test_user_mistakes_fail_before_torch_loads(tmp_path, ntsc_clip, argv, code):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"model": "imdn_tiny", "task": "sr", "data": {"videos": [str(tmp_path)],
                                      "photos": []}, "val": {"every": 0}, "out": str(tmp_path / "run")}))
    names = {"missing": tmp_path / "missing.mp4", "out": tmp_path / "out.mp4", "clip": ntsc_clip, "config": config}
    args = [a.format(**names) for a in argv]
    script = ("import sys\nfrom stvsr.cli import main\ncode = main(sys.argv[1:])\n"
              "print('torch loaded' if 'torch' in sys.modules else 'torch not loaded')\nsys.exit(code)\n")
    process = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60)
    assert process.returncode == code, process.stderr
    assert process.stdout.strip().endswith("torch not loaded")
    assert len(process.stderr.strip().splitlines()) == 1 and "Traceback" not in process.stderr
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "run").exists()


# Evaluation on tiny clips ---------------------------------------------------------------------------------------

def test_evaluate_tiny_clips_skips_what_cannot_be_measured(capsys, tmp_path):
    root = make_vimeo(tmp_path / "vimeo", height=8, width=8)
    code, out, err = run_cli(capsys, "evaluate", "--data", root, "--layout", "vimeo", "--task", "vsr", "--scale", 1,
                             "--methods", "bicubic", "--out", tmp_path / "ok", "--quiet")
    assert code == 0, err
    assert "warp_err@dis: needs frames of at least 12x12" in out and "ssim_y: needs frames" in out
    code, out, err = run_cli(capsys, "evaluate", "--data", root, "--layout", "vimeo", "--task", "vsr",
                             "--out", tmp_path / "x4", "--quiet")
    assert code == 3 and len(err.strip().splitlines()) == 1 and "under 8 pixels" in err, err
    assert not (tmp_path / "x4").exists()  # no visuals/ of a run that has no results


# Training configs, run folders and logs -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def train_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("traindata")
    write_synthetic_video(root / "a.mp4", translating_clip(8, 64, 64, seed=1))
    return root


def sr_config(tmp_path, data, **changes):
    tree = {"model": "imdn_tiny", "task": "sr", "scale": 2, "batch": 2, "seed": 0,
            "stages": [{"name": "main", "steps": 6, "losses": {"l1": 1.0}}],
            "data": {"videos": [str(data)], "photos": [], "photo_share": 0.0, "patch": 8, "frames": 1,
                     "workers": 0, "cache": str(tmp_path / "cache")},
            "val": {"every": 0}, "log_every": 1, "checkpoint_every": 2, "out": str(tmp_path / "run")}
    tree.update(changes)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


@pytest.mark.parametrize("override,message", [
    ("optim.lr=-1", "optim.lr must be a positive number"),
    ("optim.lr=0", "optim.lr must be a positive number"),
    ("optim.ema=1.5", "optim.ema must be in [0, 1)"),
    ("batch=0", "batch must be at least 1"),
    ("precision=fp8", "precision must be one of auto, fp32, bf16, fp16"),
    ("stages=[{steps: 0}]", "stages[0].steps must be at least 1"),
    ("stages=[{losses: {l1: -1}}]", "stages[0].losses.l1 must be a weight of at least 0"),
    ("data.photo_share=2", "data.photo_share must be in [0, 1]"),
    ("task=superres", "task must be one of"),
])
def test_bad_config_values_exit_2_and_leave_no_run(capsys, tmp_path, train_data, override, message):
    config = sr_config(tmp_path, train_data)
    code, _, err = run_cli(capsys, "train", "--config", config, "--set", override)
    assert code == 2 and err.strip().splitlines() == [f"stvsr: error: config {message}" + err.split(message)[1]
                                                      .rstrip("\n")]
    assert not (tmp_path / "run").exists()


def test_bad_value_in_the_yaml_file_too(capsys, tmp_path, train_data):
    config = sr_config(tmp_path, train_data, optim={"lr": -1.0})
    code, _, err = run_cli(capsys, "train", "--config", config)
    assert code == 2 and "optim.lr must be a positive number" in err and "Traceback" not in err


@pytest.mark.parametrize("change", [{"data": {"videos": ["/nonexistent/footage"]}},
                                    {"val": {"every": 1, "data": "/nonexistent/dev"}},
                                    {"model": "nonesuch"}])
def test_failed_start_leaves_no_run_folder(capsys, tmp_path, train_data, change):
    tree = yaml.safe_load(sr_config(tmp_path, train_data).read_text())
    for key, value in change.items():
        tree[key] = {**tree[key], **value} if isinstance(value, dict) else value
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(tree))
    code, _, err = run_cli(capsys, "train", "--config", config)
    assert code in (2, 3) and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_resume_does_not_repeat_log_rows(tmp_path, train_data):
    config = sr_config(tmp_path, train_data)
    assert main(["train", "--config", str(config), "--max-steps", "3"]) == 0
    # A kill -9 between the checkpoint (step 2) and the next one leaves step 3 logged but not saved.
    assert main(["train", "--resume", str(tmp_path / "run")]) == 0
    with open(tmp_path / "run/log.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["key"] == "loss"]
    steps = [int(r["step"]) for r in rows]
    assert steps == sorted(set(steps)) == list(range(1, 7))


def test_truncate_log_keeps_rows_up_to_the_checkpoint(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("step,stage,key,value\n1,main,loss,0.5\n2,main,loss,0.4\n3,main,loss,0.3\n3,main,l1,0.3\n")
    truncate_log(log, 2)
    assert log.read_text().splitlines() == ["step,stage,key,value", "1,main,loss,0.5", "2,main,loss,0.4"]


# Behaviours that used to be silent --------------------------------------------------------------------------------

def test_info_on_an_audio_only_file_says_what_it_holds(capsys, tmp_path):
    src = tmp_path / "song.m4a"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        stream.layout = "stereo"
        for i in range(5):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 2048), np.float32), format="flt", layout="stereo")
            frame.sample_rate, frame.pts = 48000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    code, _, err = run_cli(capsys, "info", src)
    assert code == 3 and "no video stream" in err and "#0 audio aac 48000 Hz stereo" in err


def test_a_second_video_stream_is_noted(capsys, tmp_path):
    src = tmp_path / "two.mkv"
    with av.open(str(src), "w") as container:
        streams = [container.add_stream("libx264", rate=25) for _ in range(2)]
        for stream in streams:
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i, frame in enumerate(translating_clip(6, 48, 64)):
            array = frame.mul(255).round().byte().permute(1, 2, 0).numpy()
            for stream in streams:
                video = av.VideoFrame.from_ndarray(array, format="rgb24")
                video.pts = i
                container.mux(stream.encode(video))
        for stream in streams:
            container.mux(stream.encode(None))
    code, out, err = run_cli(capsys, "upscale", src, tmp_path / "out.mp4")
    assert code == 0, err
    assert "2 video streams: only the first (#0) is upscaled; #1 not copied" in out


def test_half_precision_on_cpu_is_one_rule(capsys, tmp_path, ntsc_clip):
    from stvsr.runtime import native_bf16

    for method in ("bicubic", "imdn.x4"):
        line = assert_clean_failure(capsys, 2, ntsc_clip, tmp_path / "out.mp4", "--scale", 4, "--method", method,
                                    "--precision", "fp16", "--device", "cpu")
        assert "--precision fp16 needs a CUDA device" in line
    if not native_bf16(torch.device("cpu")):  # bf16 would be emulated: refused, for every method
        line = assert_clean_failure(capsys, 2, ntsc_clip, tmp_path / "out.mp4", "--scale", 4, "--precision", "bf16",
                                    "--device", "cpu")
        assert "no native bfloat16" in line
        return
    dst = tmp_path / "out.mp4"  # native bf16: classical methods say they ran in fp32
    code, out, err = run_cli(capsys, "upscale", ntsc_clip, dst, "--scale", 2, "--method", "bicubic", "--precision",
                             "bf16", "--device", "cpu")
    assert code == 0 and "this method is classical and ran in fp32" in out


def test_full_disk_in_a_frame_folder_names_the_destination(capsys, tmp_path, ntsc_clip, monkeypatch):
    import stvsr.io.writer as writer_module

    class Made(type(tmp_path)):  # the writer's mkdir finds the folder already made, with its links
        def mkdir(self, *args, **kwargs):
            pass

    def to_dev_full(path, suffix):
        folder = path.parent / f".full{suffix}"
        folder.mkdir()
        for i in range(1, 100):  # every frame file is a link to /dev/full: a real ENOSPC on write
            (folder / f"{i:06d}.png").symlink_to("/dev/full")
        return Made(folder)

    monkeypatch.setattr(writer_module, "_partial_path", to_dev_full)
    dst = tmp_path / "frames"
    line = assert_clean_failure(capsys, 4, ntsc_clip, dst)
    assert line == f"stvsr: error: disk full while writing {dst}"
    assert not (tmp_path / ".full").exists()


# Hostile files (issue 38, items 9 and 11) ----------------------------------------------------------------------

def test_frames_above_the_pixel_budget_are_refused_up_front(tmp_path, capsys):
    # A 16000x16000 MJPEG made `info` and `upscale` allocate 3 GB a frame. Here a small file whose frames are
    # over a budget lowered with --max-pixels: the same path, without the gigabytes.
    src = tmp_path / "big.mp4"
    write_synthetic_video(src, translating_clip(4, 64, 96))
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(capsys, "upscale", src, out, "--max-pixels", "5000")
    assert code == 3 and "above the pixel budget of 0.005 megapixels" in err and "--max-pixels 6144" in err
    assert not out.exists() and leftovers(tmp_path) == []
    code, out_text, _ = run_cli(capsys, "info", src, "--max-pixels", "5000")
    assert code == 0 and "not looked for" in out_text  # info still describes the file
    assert run_cli(capsys, "upscale", src, out, "--max-pixels", "6144")[0] == 0


def test_a_fifo_is_refused_not_hung(tmp_path):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    for command in (["info", str(fifo)], ["upscale", str(fifo), str(tmp_path / "o.mp4")]):
        process = subprocess.run([sys.executable, "-m", "stvsr", *command], capture_output=True, text=True,
                                 timeout=60)
        assert process.returncode == 3, process.stderr
        assert "needs a regular file" in process.stderr and len(process.stderr.strip().splitlines()) == 1


def test_output_names_near_the_limit_work_and_over_it_are_one_line(tmp_path, capsys):
    # Names of 224-255 bytes crashed: the hidden temporary, work, claim and record names passed 255 (issue 38, 12).
    src = tmp_path / "in" / "clip.mp4"
    src.parent.mkdir()
    write_synthetic_video(src, translating_clip(6, 32, 48), tone_hz=440)
    long_name = "é" * 60 + "x" * (250 - 120) + ".mp4"  # 254 bytes, multi-byte characters at the cut
    assert len(long_name.encode()) == 254
    out = tmp_path / long_name
    assert run_cli(capsys, "upscale", src, out, "--time-factor", "2", "--resume", "--segment-seconds", "0.1")[0] == 0
    assert probe(out).frame_count == 12 and leftovers(tmp_path) == []
    assert run_cli(capsys, "upscale", src, out, "--overwrite")[0] == 0
    batch_out = tmp_path / "batch"
    (tmp_path / "in" / long_name).write_bytes(src.read_bytes())
    assert run_cli(capsys, "batch", src.parent, batch_out)[0] == 0
    assert probe(batch_out / long_name).frame_count == 6
    too_long = tmp_path / ("y" * 256 + ".mp4")
    code, _, err = run_cli(capsys, "upscale", src, too_long)
    assert code == 4 and "file names have at most 255" in err and len(err.strip().splitlines()) == 1
