"""The evaluation runner: tasks, windows, prediction folders, outputs, and the CLI."""

import json
import math

import torch

from stvsr.cli import main
from stvsr.data.clips import Clip
from stvsr.evaluate import EvalConfig, Task, evaluate
from stvsr.evaluate.tasks import run_task, target_of, windows_of
from stvsr.models import build_method
from stvsr.models.shipped import SHIPPED

from test_datasets import make_vimeo, write_frames


def test_windows_like_zooming_slow_mo():
    task = Task("stvsr", 4)
    assert windows_of(7, task) == [(0, 7)]
    assert windows_of(13, task) == [(0, 7), (6, 7)]
    assert windows_of(15, task) == [(0, 7), (6, 7), (8, 7)]  # the last aligned to the end
    assert windows_of(15, Task("stvsr", 4, window_mode="whole")) == [(0, 15)]


def test_targets_and_scored_frames():
    clip = Clip("c", torch.randint(0, 255, (8, 3, 34, 50), dtype=torch.uint8))
    gt, scored = target_of(clip, Task("stvsr", 4))
    assert gt.shape == (7, 3, 32, 48) and scored == list(range(7))  # even length drops its last frame
    gt, scored = target_of(clip, Task("vfi", 4))
    assert gt.shape == (7, 3, 34, 50) and scored == [1, 3, 5]
    gt, scored = target_of(clip, Task("vsr", 2))
    assert gt.shape == (8, 3, 34, 50) and scored == list(range(8))


def test_window_mode_reassembles_the_clip():
    # blend+bicubic looks at one frame pair at a time, so 7-frame windows (stride 6, the last aligned to the end)
    # must put together exactly what one pass over the whole clip makes: a misplaced window would show here.
    frames = torch.randint(0, 255, (15, 3, 64, 64), dtype=torch.uint8)
    model = build_method("blend+bicubic", scale=4, time_factor=2)
    windowed = run_task(model, Clip("c", frames), Task("stvsr", 4), torch.device("cpu"))
    whole = run_task(model, Clip("c", frames), Task("stvsr", 4, window_mode="whole"), torch.device("cpu"))
    assert windowed.prediction.shape == windowed.target.shape == (15, 3, 64, 64)
    assert torch.allclose(windowed.prediction, whole.prediction, atol=1e-6)
    assert not torch.allclose(windowed.prediction[1:], windowed.prediction[:-1])  # not one frame repeated


def test_evaluate_stvsr_on_a_vimeo_miniature(tmp_path):
    root = make_vimeo(tmp_path / "vimeo", height=64, width=96)
    result = evaluate(EvalConfig(data=root, layout="vimeo", task="stvsr", out=tmp_path / "run",
                                 metrics=["psnr_y", "ssim_y", "warp_err@dis", "tof", "niqe"]))
    shipped = {s.name for s in SHIPPED.values() if s.available and s.task == "stvsr"}
    assert set(result.means) == {"repeat+bicubic", "blend+bicubic", "dis+bicubic", "bicubic+dis"} | shipped
    assert len(result.rows) == 2 * len(result.means)
    # Motion-compensated interpolation (at full resolution: at 16x24 flow has too little to work with) beats
    # blending on translating content, which beats repeating.
    psnr = {m: v["psnr_y"] for m, v in result.means.items()}
    assert psnr["bicubic+dis"] > psnr["blend+bicubic"] > psnr["repeat+bicubic"]
    assert math.isnan(result.means["dis+bicubic"]["niqe"])  # 64x96 frames hold no 96x96 block
    assert any("niqe" in note for note in result.protocol["notes"])
    saved = json.loads((tmp_path / "run/results.json").read_text())
    assert saved["protocol"]["task"]["task"] == "stvsr" and len(saved["rows"]) == 2 * len(result.means)
    assert (tmp_path / "run/per_clip.csv").read_text().startswith("clip,method,psnr_y")
    assert "| dis+bicubic |" in (tmp_path / "run/table.md").read_text()


def test_scoring_predictions_made_elsewhere(tmp_path):
    root = make_vimeo(tmp_path / "vimeo")
    perfect = tmp_path / "perfect"
    for key in ("00001/0001", "00001/0002"):
        frames = [torch.from_numpy(__import__("cv2").imread(str(root / "sequences" / key / f"im{i}.png"))[:, :, ::-1]
                                   .copy()).permute(2, 0, 1).float() / 255 for i in range(1, 8)]
        write_frames(perfect / key, frames)
    result = evaluate(EvalConfig(data=root, layout="vimeo", task="vfi", methods=["blend"],
                                 predictions={"oracle": perfect}, metrics=["psnr_y"]))
    assert math.isinf(result.means["oracle"]["psnr_y"]) and math.isfinite(result.means["blend"]["psnr_y"])


def test_evaluate_cli(tmp_path, capsys):
    root = make_vimeo(tmp_path / "vimeo", height=64, width=96)
    code = main(["evaluate", "--data", str(root), "--layout", "vimeo", "--task", "vfi", "--methods", "blend,dis",
                 "--metrics", "psnr_y,ssim_rgb", "--out", str(tmp_path / "run")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "| blend |" in out and "| dis |" in out and "Per clip" in out
    code = main(["evaluate", "--data", str(root), "--layout", "vimeo", "--methods", "bicubic", "--out",
                 str(tmp_path / "bad")])
    _, err = capsys.readouterr()
    assert code == 2 and "pair it with a frame interpolator" in err
    code = main(["evaluate", "--data", str(tmp_path / "missing"), "--layout", "vimeo", "--out", str(tmp_path / "x")])
    _, err = capsys.readouterr()
    assert code == 3 and err.startswith("stvsr: error:")
    code = main(["evaluate", "--data", str(root), "--layout", "vimeo", "--metrics", "lpips"])
    _, err = capsys.readouterr()
    assert code == 2 and "unknown metric" in err


def test_stvsr_scores_input_and_interpolated_frames_apart(tmp_path):
    root = make_vimeo(tmp_path / "vimeo", height=64, width=96)
    result = evaluate(EvalConfig(data=root, layout="vimeo", task="stvsr", out=tmp_path / "run",
                                 methods=["repeat+bicubic", "bicubic+dis"], metrics=["psnr_y", "ssim_y"]))
    for method, means in result.means.items():
        # the same frames either way: input positions are bicubic in both methods, so they score alike
        assert means["psnr_y@in"] == result.means["bicubic+dis"]["psnr_y@in"], method
    repeat = result.means["repeat+bicubic"]
    assert repeat["psnr_y@new"] < repeat["psnr_y@in"] - 3  # a repeated frame is far worse than an upscaled one
    assert repeat["psnr_y@new"] < result.means["bicubic+dis"]["psnr_y@new"]
    for row in result.rows:  # per clip, the mean of 7 frames is the frame-weighted mean of its 4 + 3
        assert math.isclose(row["psnr_y"], (4 * row["psnr_y@in"] + 3 * row["psnr_y@new"]) / 7, rel_tol=1e-9)
    table = (tmp_path / "run/table.md").read_text()
    assert "PSNR-Y in | PSNR-Y new" in table.splitlines()[0]
    assert "psnr_y@new" in (tmp_path / "run/per_clip.csv").read_text().splitlines()[0]
    assert main(["report", str(tmp_path / "run")]) == 0
    assert "<th>PSNR-Y new</th>" in (tmp_path / "run/report/index.html").read_text()


def test_vsr_has_no_split(tmp_path):
    root = make_vimeo(tmp_path / "vimeo", height=64, width=96)
    result = evaluate(EvalConfig(data=root, layout="vimeo", task="vsr", methods=["bicubic"], metrics=["psnr_y"]))
    assert set(result.means["bicubic"]) == {"psnr_y", "seconds_per_frame"}
