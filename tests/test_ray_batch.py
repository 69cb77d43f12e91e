"""stvsr batch --engine ray (issue 40) on a real two-node Ray cluster started by the tests: 2 CPU workers, one per
node, each a process of its own. The outputs must equal the local engine's; a worker killed with kill -9 mid-segment is retried;
a corrupt file fails alone; a file claimed by another driver is left to it."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from stvsr.jobs.batch import run_batch  # noqa: E402
from stvsr.data.synthetic import translating_frames  # noqa: E402
from stvsr.io import VideoReader, probe  # noqa: E402
from stvsr.io.claims import try_claim  # noqa: E402
from stvsr.data.synthetic_video import write_synthetic_video  # noqa: E402
from stvsr.metrics import psnr  # noqa: E402
from stvsr.jobs.ray_batch import run_ray_batch  # noqa: E402
from stvsr.jobs.segments import work_dir  # noqa: E402
from stvsr.jobs.options import MethodOptions, Resume, UpscaleJob  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """A head node and one more worker node, 1 CPU and an 80 MB object store each (ray.cluster_utils.Cluster, on
    this machine's own address: the utility cannot bind 127.0.0.1). Token authentication is off for this throwaway
    test cluster only: the nodes it starts here would need the token passed between them by hand."""
    from ray.cluster_utils import Cluster

    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 80 * 1024 ** 2,
                                                          "include_dashboard": False})
    nodes.add_node(num_cpus=1, object_store_memory=80 * 1024 ** 2)
    ray.init(address=nodes.address, log_to_driver=False, logging_level="warning", configure_logging=False)
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    yield
    ray.shutdown()
    nodes.shutdown()
    if saved is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = saved


def folder_of_clips(root: Path, long_frames: int = 60) -> Path:
    root.mkdir(parents=True)
    for i in range(2):
        write_synthetic_video(root / f"short{i}.mp4", translating_frames(10, 48, 64, seed=i), tone_hz=440)
    write_synthetic_video(root / "long.mp4", translating_frames(long_frames, 48, 64, seed=7), tone_hz=330)
    return root


def frames_of(path: Path):
    import torch

    with VideoReader(path) as reader:
        return torch.stack(list(reader))


def template(**method) -> UpscaleJob:
    options = dict(scale=2, time_factor=2, method="bicubic+dis", device="cpu") | method
    return UpscaleJob(input=Path(), output=Path(), method=MethodOptions(**options), resume=Resume(0.5))


def test_ray_output_equals_a_local_run_and_a_corrupt_file_fails_alone(cluster, tmp_path):
    clips = folder_of_clips(tmp_path / "in")
    (clips / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000))
    local = run_batch(clips, tmp_path / "local", template())
    result, report = run_ray_batch(clips, tmp_path / "ray", template())
    by_name = {r.name: r for r in result.results}
    assert by_name["broken.mp4"].status == "failed" and by_name["broken.mp4"].exit_code == 3
    assert "\n" not in by_name["broken.mp4"].detail
    assert [r.status for r in result.results] == [r.status for r in local.results]
    assert report["engine"] == "ray" and report["workers"] == 2
    assert len(report["files"]["long.mp4"]["workers"]) >= 1
    for name in ("short0.mp4", "short1.mp4", "long.mp4"):
        a, b = frames_of(tmp_path / "local" / name), frames_of(tmp_path / "ray" / name)
        assert a.shape == b.shape
        assert psnr(b, a, channel="rgb").min() >= 50, name
        assert probe(tmp_path / "ray" / name).audio_streams  # the audio muxed once, at the end
    assert not work_dir(tmp_path / "ray" / "long.mp4").exists()
    # the same command again: everything finished is kept
    again, _ = run_ray_batch(clips, tmp_path / "ray", template())
    assert {r.name: r.status for r in again.results if r.name != "broken.mp4"} == \
        {"short0.mp4": "skipped", "short1.mp4": "skipped", "long.mp4": "skipped"}


def test_a_worker_killed_mid_segment_is_retried(cluster, tmp_path):
    clips = tmp_path / "in"
    clips.mkdir()
    write_synthetic_video(clips / "film.mp4", translating_frames(90, 48, 64, seed=3), tone_hz=440)
    out = tmp_path / "out"
    slow = template(scale=4, method=None, quality="best")  # propstvsr.x4+dis: long enough to kill mid-segment
    answer = {}

    def drive():
        answer["result"], answer["report"] = run_ray_batch(clips, out, slow, max_retries=3)

    thread = threading.Thread(target=drive)
    thread.start()
    killed = None
    end = time.time() + 240
    while killed is None and time.time() < end:
        for attempts in work_dir(out / "film.mp4").glob(".attempts_*") if work_dir(out / "film.mp4").is_dir() else []:
            lines = attempts.read_text().split()
            if len(lines) >= 2:
                killed = int(lines[1])
                os.kill(killed, signal.SIGKILL)
                break
        time.sleep(0.02)
    thread.join(600)
    assert killed is not None and not thread.is_alive()
    result, report = answer["result"], answer["report"]
    assert [r.status for r in result.results] == ["done"], result.table()
    assert report["files"]["film.mp4"]["retries"] >= 1
    info = probe(out / "film.mp4")
    assert info.frame_count == 180 and info.audio_streams


def test_a_file_claimed_by_another_driver_is_left_to_it(cluster, tmp_path):
    clips = folder_of_clips(tmp_path / "in", long_frames=12)
    out = tmp_path / "out"
    out.mkdir()
    claim, _ = try_claim(out / "long.mp4")
    try:
        result, _ = run_ray_batch(clips, out, template())
    finally:
        claim.release()
    statuses = {r.name: r.status for r in result.results}
    assert statuses == {"long.mp4": "elsewhere", "short0.mp4": "done", "short1.mp4": "done"}
    assert not (out / "long.mp4").exists()


def test_ray_is_not_imported_by_the_rest(tmp_path):
    import subprocess
    import sys

    code = "import sys; from stvsr.cli import main; main(['models']); assert 'ray' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_ray_options_without_the_ray_engine_are_refused(tmp_path, capsys):
    from stvsr.cli import main

    (tmp_path / "in").mkdir()
    code = main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--address", "auto"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["stvsr: error: --address, --workers and --gpus-per-worker go with --engine ray"]
