"""Scene cuts: found while streaming, never interpolated or aggregated across; a fade is not a cut."""

import json

import pytest
import torch

from stvsr.cli import main
from stvsr.data.synthetic import translating_clip
from stvsr.io import VideoReader
from stvsr.data.synthetic_video import write_synthetic_video
from stvsr.metrics.fidelity import psnr
from stvsr.models import build_method
from stvsr.inference import Shots, run_shots, run_windows
from stvsr.jobs.scenes import CutDetector, find_cuts

CPU = torch.device("cpu")


def shot_a(frames=12):
    return translating_clip(frames, 96, 128, velocity=(2, 1), seed=1)


def shot_b(frames=12):
    return translating_clip(frames, 96, 128, velocity=(1, 2), seed=2)


def hard_cut():
    return torch.cat([shot_a(), shot_b()])


def cross_fade():
    """Shot A dissolving into shot B over 10 frames, both moving: an edit, but not a cut."""
    a, b = shot_a(22), shot_b(22)
    weight = torch.cat([torch.zeros(6), torch.linspace(0, 1, 10), torch.ones(6)]).view(-1, 1, 1, 1)
    return (1 - weight) * a + weight * b


@pytest.fixture(scope="module")
def cut_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenes") / "cut.mp4"
    write_synthetic_video(path, hard_cut(), tone_hz=440)
    return path


@pytest.fixture(scope="module")
def fade_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenes") / "fade.mp4"
    write_synthetic_video(path, cross_fade())
    return path


def test_cut_found_and_fade_is_not_one():
    assert find_cuts(hard_cut()) == [12]
    assert find_cuts(cross_fade()) == []
    assert find_cuts(hard_cut(), threshold=200) == []  # --scene-threshold tunes it


def test_cuts_beside_short_shots_are_found():
    # A 3-frame first shot and a 4-frame shot: their cuts were suppressed (issue 38, item 8).
    clip = torch.cat([shot_a(3), shot_b(12), translating_clip(4, 96, 128, seed=3), shot_a(10)])
    assert find_cuts(clip) == [3, 15, 19]


def test_no_frame_between_short_shots_is_a_ghost(tmp_path, capsys):
    src = tmp_path / "short.mp4"
    write_synthetic_video(src, torch.cat([shot_a(3), shot_b(12), translating_clip(4, 96, 128, seed=3), shot_a(10)]))
    out = tmp_path / "out.mkv"
    assert main(["upscale", str(src), str(out), "--scale", "1", "--time-factor", "2", "--codec", "ffv1",
                 "--pix-fmt", "bgr0"]) == 0
    frames = frames_of(out)
    for cut in (3, 15, 19):  # the frame inserted before input `cut` repeats the earlier shot's last frame
        assert torch.equal(frames[2 * cut - 1], frames[2 * cut - 2])


def test_shots_split_lazily():
    pulled = []

    def source():
        for index, frame in enumerate(hard_cut()):
            pulled.append(index)
            yield frame

    shots = Shots(source(), CutDetector())
    lengths = []
    while (shot := shots.next_shot()) is not None:
        count = 0
        for _ in shot:
            count += 1
            assert len(pulled) == sum(lengths) + count  # each frame read only when the shot yields it
        lengths.append(count)
    assert lengths == [12, 12] and pulled == list(range(24))


def frames_of(path):
    with VideoReader(path) as reader:
        return torch.stack(list(reader))


def test_no_frame_is_a_blend_of_two_shots(tmp_path, cut_video, capsys):
    aware, unaware = tmp_path / "aware.mp4", tmp_path / "unaware.mp4"
    assert main(["upscale", str(cut_video), str(aware), "--scale", "1", "--time-factor", "2", "--codec", "ffv1",
                 "--pix-fmt", "bgr0", "--no-audio"]) == 0
    assert "1 scene cut (before input frames 12)" in capsys.readouterr().out
    assert main(["upscale", str(cut_video), str(unaware), "--scale", "1", "--time-factor", "2", "--codec", "ffv1",
                 "--pix-fmt", "bgr0", "--no-audio", "--no-scene-detect"]) == 0
    capsys.readouterr()
    out, ghost = frames_of(aware), frames_of(unaware)
    assert len(out) == len(ghost) == 48
    # Output 23 is the frame inserted between input 11 (output 22, shot A) and input 12 (output 24, shot B).
    assert torch.equal(out[23], out[22])  # it repeats the nearer (earlier) shot's frame
    assert psnr(ghost[23], ghost[22]) < 25 and psnr(ghost[23], ghost[24]) < 25  # a blend of both shots
    # Every other inserted frame lies within one shot, close to both its neighbours.
    for i in range(1, 47, 2):
        if i != 23:
            assert psnr(out[i], out[i - 1]) > 20 and psnr(out[i], out[i + 1]) > 20


def test_windows_restart_at_a_cut():
    # A multi-frame model's windows must not mix shots: shot A's outputs equal a run on shot A alone.
    torch.manual_seed(0)
    model = build_method("flowvsr.x4", scale=4, time_factor=1).eval()
    clip = hard_cut()[:, :, :48, :64]
    split = torch.stack(list(run_shots(model, clip, device=CPU, is_cut=CutDetector())))
    alone = torch.stack(list(run_windows(model, clip[:12], device=CPU)))
    mixed = torch.stack(list(run_windows(model, clip, device=CPU)))
    assert torch.equal(split[:12], alone)
    assert not torch.equal(mixed[11], alone[11])  # without the cut, its last frame saw shot B


def test_info_lists_the_cuts(capsys, cut_video, fade_video):
    assert main(["info", str(cut_video), "--json"]) == 0
    cuts = json.loads(capsys.readouterr().out)["scene_cuts"]
    assert [c["frame"] for c in cuts] == [12] and cuts[0]["time"] == pytest.approx(12 * 1001 / 30000, abs=1e-3)
    assert main(["info", str(fade_video)]) == 0
    assert "scene cuts  0" in capsys.readouterr().out
    assert main(["info", str(cut_video), "--no-scene-detect", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scene_cuts"] is None
