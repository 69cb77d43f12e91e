"""`stvsr batch`: a folder of videos, one bad file, reruns that skip and resume, and two workers at once."""

import json
import os
import signal
import subprocess
import sys
import time

from stvsr.jobs.batch import JOB_TAG
from stvsr.io.claims import CLAIM_TAG, try_claim
from stvsr.cli import main
from stvsr.data.synthetic import translating_clip
from stvsr.io import probe
from stvsr.data.synthetic_video import write_synthetic_video

from helpers import leftovers


def make_folder(root, count=3, frames=30, bad=True):
    root.mkdir()
    for i in range(count):
        write_synthetic_video(root / f"clip{i}.mp4", translating_clip(frames, 64, 96, seed=i), tone_hz=440)
    if bad:
        (root / "broken.mp4").write_bytes(b"not a video at all")
    (root / "notes.txt").write_text("not a video, not listed")
    (root / "sub").mkdir()
    write_synthetic_video(root / "sub" / "nested.mp4", translating_clip(4, 32, 32))  # not directly in IN_DIR
    return root


def batch(*args):
    return subprocess.Popen([sys.executable, "-m", "stvsr", "batch", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def assert_complete(out_dir, names, frames):
    for name in names:
        info = probe(out_dir / name)
        assert info.frame_count == frames and info.audio_streams
    hidden = [p.name for p in out_dir.iterdir() if p.name.startswith(".") and not p.name.endswith(JOB_TAG)]
    assert hidden == [] and leftovers(out_dir) == []  # no work folders, claims or temporaries
    assert all((out_dir / f".{name}{JOB_TAG}").is_file() for name in names)  # what made each output


def test_batch_summary_skip_and_failure(tmp_path, capsys):
    src = make_folder(tmp_path / "in")
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    code = main(["batch", str(src), str(out), "--time-factor", "2", "--ext", "mkv", "--report", str(report)])
    table = capsys.readouterr().out
    assert code == 3  # the broken file's exit code: the others are still done
    assert "3 done, 0 skipped, 0 elsewhere, 1 failed" in table and "not a video FFmpeg can read" in table and "self" not in table.lower()
    assert_complete(out, [f"clip{i}.mkv" for i in range(3)], 60)
    files = {f["name"]: f for f in json.loads(report.read_text())["files"]}
    assert files["clip0.mp4"]["status"] == "done" and "audio drift" in files["clip0.mp4"]["detail"]
    assert "nested.mp4" not in files and "notes.txt" not in files
    assert main(["batch", str(src), str(out), "--time-factor", "2", "--ext", "mkv"]) == 3
    assert "0 done, 3 skipped, 0 elsewhere, 1 failed" in capsys.readouterr().out


def test_batch_interrupted_twice_then_rerun(tmp_path):
    src = make_folder(tmp_path / "in", frames=90, bad=False)
    out = tmp_path / "out"
    args = (src, out, "--scale", "2", "--time-factor", "2", "--segment-seconds", "0.5")
    def progress():
        return len(list(out.glob(".*stvsr-work/segment_*"))) + len(list(out.glob("clip*.mp4")))

    for sig in (signal.SIGKILL, signal.SIGTERM):
        before = progress()
        process = batch(*args)
        deadline = time.time() + 120
        while time.time() < deadline and progress() <= before:  # interrupted after it made some progress
            time.sleep(0.02)
        process.send_signal(sig)
        _, err = process.communicate(timeout=180)  # hang guards, not speed checks: a loaded 2-core CI is slow
        assert process.returncode in (-signal.SIGKILL, 143), err
    finished = {p.name for p in out.glob("clip*.mp4")}
    process = batch(*args)
    table, err = process.communicate(timeout=900)
    assert process.returncode == 0, err
    assert f"{3 - len(finished)} done, {len(finished)} skipped, 0 elsewhere, 0 failed" in table
    assert_complete(out, [f"clip{i}.mp4" for i in range(3)], 180)


def test_two_workers_split_the_files(tmp_path):
    src = make_folder(tmp_path / "in", count=4, bad=False)
    out = tmp_path / "out"
    out.mkdir()
    workers = [batch(src, out, "--scale", "2", "--report", tmp_path / f"w{i}.json") for i in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=900)
        assert worker.returncode == 0, err
    done = [{f["name"] for f in json.loads((tmp_path / f"w{i}.json").read_text())["files"] if f["status"] == "done"}
            for i in range(2)]
    assert done[0] | done[1] == {f"clip{i}.mp4" for i in range(4)}
    assert not done[0] & done[1]  # no file was upscaled twice
    assert_complete(out, [f"clip{i}.mp4" for i in range(4)], 30)


def test_a_dead_workers_claim_is_taken_over(tmp_path):
    output = tmp_path / "clip.mp4"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    claim_file = tmp_path / f".clip.mp4{CLAIM_TAG}"
    claim_file.write_text(json.dumps({"host": os.uname().nodename, "pid": gone.pid, "token": "dead"}))
    claim, note = try_claim(output)
    assert claim is not None and "took over" in note
    second, held = try_claim(output)  # a live claim (ours) is respected
    assert second is None and str(os.getpid()) in held
    claim.release()
    assert not claim_file.exists()


def test_a_rerun_with_other_options_or_another_input_does_not_keep_the_old_output(tmp_path, capsys):
    # Any existing output counted as done: --scale 4 after --scale 2, or a replaced input, changed nothing, and
    # --overwrite was refused (issue 38, item 3).
    src = make_folder(tmp_path / "in", count=1, frames=6, bad=False)
    out = tmp_path / "out"
    assert main(["batch", str(src), str(out), "--scale", "2"]) == 0
    assert probe(out / "clip0.mp4").width == 192
    assert main(["batch", str(src), str(out), "--scale", "2"]) == 0
    assert "0 done, 1 skipped" in capsys.readouterr().out
    assert main(["batch", str(src), str(out), "--scale", "4"]) == 4
    assert "made with other options or from another input (use --overwrite" in capsys.readouterr().out
    assert probe(out / "clip0.mp4").width == 192  # kept, not silently taken as the x4 result
    assert main(["batch", str(src), str(out), "--scale", "4", "--overwrite"]) == 0
    assert probe(out / "clip0.mp4").width == 384
    write_synthetic_video(src / "clip0.mp4", translating_clip(8, 64, 96, seed=9), tone_hz=440)  # another take
    assert main(["batch", str(src), str(out), "--scale", "4"]) == 4
    assert main(["batch", str(src), str(out), "--scale", "4", "--overwrite"]) == 0
    assert probe(out / "clip0.mp4").frame_count == 8
    assert_complete(out, ["clip0.mp4"], 8)


def test_two_inputs_that_map_to_one_output_name_are_refused_up_front(tmp_path, capsys):
    # take.mp4 and take.mov under --ext mkv: one was never processed, exit 0 (issue 38, item 4).
    src = tmp_path / "in"
    src.mkdir()
    for suffix in (".mp4", ".mov"):
        write_synthetic_video(src / f"take{suffix}", translating_clip(4, 32, 32))
    assert main(["batch", str(src), str(tmp_path / "out"), "--ext", "mkv"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "take.mov and take.mp4 would both be written to take.mkv" in err[0], err
    assert not (tmp_path / "out").exists()
