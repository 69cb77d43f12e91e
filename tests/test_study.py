"""The trade-off study, the β sweep, the recognition axis and the HTML report, on tiny synthetic data."""

import json
import math
import shutil
import subprocess

import pytest
import torch

from stvsr.cli import main
from stvsr.data.actions import APPEARANCES, FRAMES, MOTIONS, SIZE, action_clip, action_set
from stvsr.studies.plots import pareto_front, tradeoff_plot
from stvsr.studies.recognition import load_classifier, shipped_classifier_path
from stvsr.data.synthetic_video import write_synthetic_video
from stvsr.data.synthetic import translating_clip

from test_datasets import make_vimeo


def test_pareto_front_on_known_points():
    points = {"a": (1.0, 5.0), "b": (2.0, 2.0), "c": (3.0, 3.0), "d": (4.0, 1.0), "e": (2.0, 4.0),
              "f": (float("nan"), 0.0), "g": (4.0, 1.0)}
    # c is beaten by b on both axes, e by b on one and tied on the other; d and g tie and both stay.
    assert pareto_front(points) == ["a", "b", "d", "g"]
    assert pareto_front({"only": (1.0, 1.0)}) == ["only"]


def test_tradeoff_plot_marks_the_front(tmp_path):
    front = tradeoff_plot({"bicubic": (3.0, 0.5), "gan": (1.0, 2.0), "bad": (3.5, 2.5)}, tmp_path / "p.png",
                          xlabel="MSE", ylabel="warping error")
    assert front == ["gan", "bicubic"]
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_action_set_is_deterministic_and_balanced():
    a, b = action_clip(3, 5), action_clip(3, 5)
    assert torch.equal(a.frames, b.frames) and a.frames.shape == (FRAMES, 3, SIZE, SIZE)
    clips = action_set(16)
    assert {(c.appearance, c.motion) for c in clips} == {(i, j) for i in range(len(APPEARANCES))
                                                          for j in range(len(MOTIONS))}


@pytest.fixture(scope="module")
def classifiers():
    return [load_classifier("frame"), load_classifier("flow")]


def _accuracy(classifier, clips, transform=lambda f: f):
    right = 0
    for clip in clips:
        scores = classifier.scores(transform(clip.frames)[None])
        right += int(scores.argmax(1)) == (clip.appearance if classifier.stream == "frame" else clip.motion)
    return right / len(clips)


def test_shipped_classifiers_recognise_clean_clips(classifiers):
    clips = action_set(32, seed=11)
    for classifier in classifiers:
        assert _accuracy(classifier, clips) >= 0.9, classifier.stream


def test_frozen_noise_lowers_the_flow_stream_accuracy(classifiers):
    # Noise that stays put while the object moves pulls the flow towards zero: the motion class is lost.
    clips = action_set(32, seed=12)
    noise = torch.rand(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0)) - 0.5
    frozen = lambda frames: (frames + noise).clamp(0, 1)  # noqa: E731
    flow = classifiers[1]
    clean, noisy = _accuracy(flow, clips), _accuracy(flow, clips, frozen)
    assert noisy <= clean - 0.2, (clean, noisy)  # measured: 0.97 -> 0.69


def test_bad_classifier_files(tmp_path, capsys):
    from stvsr.errors import WeightsError

    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(shipped_classifier_path("flow").read_bytes()[:100])
    with pytest.raises(WeightsError):
        load_classifier("flow", broken)
    with pytest.raises(WeightsError, match="not a frame-stream"):
        load_classifier("frame", shipped_classifier_path("flow"))


@pytest.fixture(scope="module")
def tradeoff_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    data = make_vimeo(root / "vimeo", height=96, width=128)
    out = root / "run"
    code = main(["study", "tradeoff", "--data", str(data), "--layout", "vimeo", "--task", "stvsr",
                 "--methods", "bicubic+dis,blend+bicubic,repeat+bicubic", "--action-clips", "8", "--out", str(out),
                 "--quiet"])
    assert code == 0
    return out


def test_tradeoff_study_writes_every_file(tradeoff_run):
    study = json.loads((tradeoff_run / "study.json").read_text())
    # NIQE needs 96x96 blocks with variety: on these miniatures it is undefined and its axis is left out.
    assert set(study["axes"]["spatial"]) == {"mse_rgb", "1-ssim_y", "frame_err"}
    assert set(study["axes"]["temporal"]) == {"warp_err@dis", "tof", "flow_err"}
    assert len(study["plots"]) == 9
    for plot in study["plots"]:
        assert (tradeoff_run / plot["file"]).is_file() and plot["front"]
    points = study["points"]
    # Repeating frames is the worst temporal method on translating content; flow interpolation the best.
    assert points["bicubic+dis"]["warp_err@dis"] < points["repeat+bicubic"]["warp_err@dis"]
    front = next(p for p in study["plots"] if p["x"] == "mse_rgb" and p["y"] == "warp_err@dis")["front"]
    assert "bicubic+dis" in front and "repeat+bicubic" not in front
    assert study["recognition"]["clips"] == 8
    assert all(0 <= points[m][k] <= 1 for m in points for k in ("frame_err", "flow_err"))
    for name in ("results.json", "per_clip.csv", "table.md", "study.md"):
        assert (tradeoff_run / name).is_file()
    assert (tradeoff_run / "visuals").is_dir()


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_report_page_from_a_study(tradeoff_run, tmp_path):
    assert main(["report", str(tradeoff_run)]) == 0
    page = tradeoff_run / "report/index.html"
    text = page.read_text()
    assert "<table class='sortable'>" in text and "Pareto" in text and "Scanlines" in text
    assert "http://" not in text and "https://" not in text  # works offline: nothing from the network
    images = list((tradeoff_run / "report/img").iterdir())
    assert len(images) == text.count("<img ")
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium on this machine (.ci/run installs it)")
    base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(base + ["--virtual-time-budget=5000", "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    body = dom[dom.index("<body"):dom.index(">", dom.index("<body"))]
    count = text.count("<img ")
    assert f'data-images="{count}/{count}"' in body, body  # every image loaded
    assert 'data-errors="0"' in body and 'data-loaded="1"' in body, body  # no script errors
    shot = tradeoff_run / "report/screenshot.png"
    subprocess.run(base + ["--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()], capture_output=True,
                   timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000
    artifacts = tmp_path.parent.parent / "artifacts"  # kept beside pytest's temp runs for CI to collect
    artifacts.mkdir(exist_ok=True)
    shutil.copyfile(shot, artifacts / "report-screenshot.png")


def test_report_from_an_evaluation(tmp_path, capsys):
    data = make_vimeo(tmp_path / "vimeo", height=64, width=96)
    out = tmp_path / "eval"
    assert main(["evaluate", "--data", str(data), "--layout", "vimeo", "--task", "vsr", "--methods",
                 "bicubic,lanczos", "--metrics", "psnr_y,ssim_y", "--visuals", "1", "--out", str(out),
                 "--quiet"]) == 0
    assert main(["report", str(out)]) == 0
    text = (out / "report/index.html").read_text()
    assert text.count("<h3>00001/0001") == 1 and "00001/0002 —" not in text  # visuals of the first clip only
    assert "lanczos" in text and "ground truth" in text and "Protocol" in text
    for image in (out / "report/img").iterdir():
        assert image.read_bytes()[:4] == b"\x89PNG"
    assert not (out / ".report.partial").exists()


def test_report_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert main(["report", str(tmp_path)]) == 3
    assert "no results.json or study.json" in capsys.readouterr().err
    (tmp_path / "results.json").write_text('{"protocol": {')  # a run cut short
    assert main(["report", str(tmp_path)]) == 3
    assert "not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


def test_study_bad_arguments(tmp_path, capsys):
    missing = ["study", "tradeoff", "--data", str(tmp_path / "none"), "--layout", "vimeo", "--out", str(tmp_path / "o")]
    assert main(missing) == 3
    data = make_vimeo(tmp_path / "vimeo")
    assert main(["study", "tradeoff", "--data", str(data), "--layout", "vimeo", "--classifier", "audio=x.pt"]) == 2
    assert main(["study", "beta", "--betas=-1,1"]) == 2
    assert main(["study", "beta", "--betas", "one"]) == 2
    err = capsys.readouterr().err
    assert "--classifier takes frame=FILE or flow=FILE" in err and "zero or positive" in err


def test_beta_study_trains_resumes_and_plots(tmp_path):
    data = tmp_path / "train"
    data.mkdir()
    write_synthetic_video(data / "a.mp4", translating_clip(8, 96, 96, seed=1))
    dev = make_vimeo(tmp_path / "vimeo", height=64, width=64)
    from stvsr.studies.beta import BetaConfig, beta_study

    config = BetaConfig(betas=[0.0, 1.0], out=tmp_path / "beta", steps=3, max_steps=2, videos=[str(data)],
                        cache=str(tmp_path / "cache"), data=dev, model_kwargs={"features": 4, "blocks": 1},
                        batch=2, patch=8, workers=0)
    study = beta_study(config, log=lambda *_: None)
    assert [r["complete"] for r in study["rows"]] == [False, False]  # 2 of 3 steps: partial points
    assert (tmp_path / "beta/beta.png").is_file()
    config.betas, config.max_steps = [0.0, 1.0, 5.0], 0  # plot what exists; β = 5 has not started
    study = beta_study(config, log=lambda *_: None)
    assert [r["beta"] for r in study["rows"]] == [0.0, 1.0] and study["not_started"] == [5.0]
    config.betas, config.max_steps = [0.0, 1.0], None
    study = beta_study(config, log=lambda *_: None)  # resumes each run for its last step
    assert [(r["steps"], r["complete"]) for r in study["rows"]] == [(3, True), (3, True)]
    assert all(math.isfinite(r["warp_err@dis"]) for r in study["rows"])
    assert "| 1 | 3 |" in (tmp_path / "beta/study.md").read_text()


def test_default_study_methods_are_the_shipped_models_of_the_studied_scale():
    """A x2 model in a x4 study would be scored against the wrong target size; each scale gets its own."""
    from stvsr.models.shipped import SHIPPED
    from stvsr.studies.tradeoff import default_study_methods

    for scale in (2, 4):
        for task in ("vsr", "stvsr"):
            methods = default_study_methods(task, scale)
            shipped_names = [m.removesuffix("+dis") for m in methods if m.removesuffix("+dis") in SHIPPED]
            assert all(SHIPPED[n].scale == scale for n in shipped_names), (scale, task, methods)
    assert "imdn.x4" in default_study_methods("vsr", 4) and "imdn.x4+dis" in default_study_methods("stvsr", 4)
    assert "propstvsr.x4_l+dis" in default_study_methods("stvsr", 4)  # the default, a multi-frame model + DIS
    assert "imdn.x4" not in default_study_methods("vsr", 2)
