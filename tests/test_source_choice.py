"""--source (issue 39): how compressed an input is, and the model the default takes for it."""

import json

import pytest

from stvsr import inference
from stvsr.cli import main
from stvsr.io import probe
from stvsr.io.compression import assess_source

from test_datasets import write_frames, translating_clip


def test_lossless_and_image_folders_are_clean(tmp_path, video_factory):
    folder = tmp_path / "frames"
    write_frames(folder, translating_clip(4, 32, 48))
    assert not assess_source(probe(folder)).compressed
    ffv1 = video_factory("lossless.mkv", codec="ffv1", pix_fmt="yuv444p")
    found = assess_source(probe(ffv1))
    assert not found.compressed and "lossless" in found.reason


def test_bits_per_pixel_decides_a_lossy_stream(video_factory):
    low = assess_source(probe(video_factory("low.mp4", frames=12, options={"crf": "34"})))
    high = assess_source(probe(video_factory("high.mp4", frames=12, options={"crf": "0"})))
    assert low.compressed and "bits per pixel" in low.reason and low.bits_per_pixel < 0.5
    assert not high.compressed and high.bits_per_pixel >= 0.5


@pytest.mark.parametrize("codec, bits_per_pixel, compressed", [
    ("hevc", 0.55, True),  # HEVC CRF 22 on dev's inputs is 0.65 and the compressed model is 0.14 dB ahead there
    ("hevc", 0.7, False),
    ("mpeg4", 0.7, True),  # MPEG-4 Part 2 q 3 (0.69): the compressed model 0.19 dB ahead, its blocks removed
    ("mpeg4", 1.1, False),  # q 2 (1.10): the clean model 0.24 dB ahead
    ("h264", 0.47, True),  # x264 CRF 18 on dev's inputs: the compressed model 0.18 dB ahead
    ("h264", 0.66, False),  # CRF 14: the clean model 0.15 dB ahead
    ("av1", 0.32, True),  # AV1 CRF 28 (0.35): a tie, the compressed model's blocks the weaker
    ("av1", 0.6, False),  # CRF 12 (0.63): the clean model 0.36 dB ahead
])
def test_each_codec_turns_clean_where_the_clean_model_overtook_on_dev(tmp_path, codec, bits_per_pixel, compressed):
    from fractions import Fraction

    from stvsr.io.probe import VideoInfo

    frames, width, height = 10, 112, 64
    info = VideoInfo(tmp_path / "clip.mkv", "matroska", codec, width, height, Fraction(30), frames, 1 / 3, False,
                     (1 / 30, 1 / 30), video_bytes=round(bits_per_pixel * frames * width * height / 8))
    found = assess_source(info)
    assert found.compressed == compressed and f"{bits_per_pixel:.2f} bits per pixel" in found.reason


@pytest.mark.parametrize("bits_per_pixel, compressed", [
    (0.67, True),  # x264 CRF 10 on dev's x2 inputs: propstvsr.x2_real 0.38 dB ahead of propstvsr.x2
    (1.10, True),  # CRF 6: still 0.08 dB ahead
    (1.82, False),  # CRF 2: the clean model 0.11 dB ahead
])
def test_x2_counts_a_stream_clean_only_at_a_higher_rate(tmp_path, bits_per_pixel, compressed):
    # At x2 the output holds finer detail of the input: a light codec costs what the clean model cannot recover
    from fractions import Fraction

    from stvsr.io.probe import VideoInfo

    frames, width, height = 10, 224, 128
    info = VideoInfo(tmp_path / "clip.mkv", "matroska", "h264", width, height, Fraction(30), frames, 1 / 3, False,
                     (1 / 30, 1 / 30), video_bytes=round(bits_per_pixel * frames * width * height / 8))
    assert assess_source(info, scale=2).compressed == compressed
    assert not assess_source(info, scale=4).compressed  # all above x4's 0.5
    assert "compressed below 1.4" in assess_source(info, scale=2).reason or not compressed


@pytest.mark.parametrize("width, height, file_bits_per_pixel, compressed", [
    (112, 64, 2.29, True),  # JPEG quality 80 on dev's inputs: the compressed model 0.67 dB ahead
    (112, 64, 3.05, False),  # quality 90: the clean model 0.15 dB ahead (0.7 of those bits are headers)
    (960, 540, 2.44, False),  # quality 95 on the 960x540 aspen clip; on dev the clean model is 1.05 dB ahead there
])
def test_jpeg_frames_are_judged_by_their_coded_bits_less_the_headers(tmp_path, width, height, file_bits_per_pixel,
                                                                     compressed):
    from fractions import Fraction

    from stvsr.io.probe import VideoInfo

    frames = 10
    info = VideoInfo(tmp_path, "frames", "jpg", width, height, Fraction(30), frames, 1 / 3, False, (1 / 30, 1 / 30),
                     video_bytes=round(file_bits_per_pixel * frames * width * height / 8))
    found = assess_source(info)
    assert found.compressed == compressed and "(less their headers)" in found.reason


def test_an_av1_stream_is_judged_as_av1_not_by_its_decoders_name(video_factory, monkeypatch):
    """FFmpeg decodes AV1 with libdav1d; the probe once reported that name, which no threshold knew (1.0 applied)."""
    monkeypatch.setenv("SVT_LOG", "1")  # SVT-AV1's banner
    info = probe(video_factory("av1.mkv", frames=8, height=64, width=64, codec="libsvtav1", options={"crf": "20"}))
    found = assess_source(info)
    assert info.codec == "av1" and found.reason.startswith("av1 at") and found.reason.endswith(" 0.35")


def test_for_source_swaps_installed_variants_only(monkeypatch):
    monkeypatch.setattr(inference, "COMPRESSED_VARIANTS", {"imdn.x4": "flowvsr.x4", "propstvsr.x4": "nosuch.x4"})
    assert inference.for_source("imdn.x4+dis_fast", True) == "flowvsr.x4+dis_fast"
    assert inference.for_source("imdn.x4+dis_fast", False) == "imdn.x4+dis_fast"
    assert inference.for_source("propstvsr.x4+dis", True) == "propstvsr.x4+dis"  # variant not installed


@pytest.mark.parametrize("source, expected", [("auto", "flowvsr.x4"), ("compressed", "flowvsr.x4"),
                                              ("clean", "imdn.x4")])
def test_the_run_says_which_model_and_why(tmp_path, capsys, monkeypatch, video_factory, source, expected):
    # a stand-in pair of installed models: imdn.x4 as the clean default, flowvsr.x4 as its compressed variant
    monkeypatch.setattr(inference, "QUALITY_MODELS", {(4, 1): {"fast": ("imdn.x4", "imdn.x4"),
                                                               "best": ("imdn.x4", "imdn.x4")}})
    monkeypatch.setattr(inference, "COMPRESSED_VARIANTS", {"imdn.x4": "flowvsr.x4"})
    clip = video_factory("web.mp4", frames=6, options={"crf": "34"})
    report = tmp_path / f"{source}.json"
    code = main(["upscale", str(clip), str(tmp_path / f"{source}.mp4"), "--scale", "4", "--source", source,
                 "--report", str(report), "--quiet"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads(report.read_text())
    assert summary["method"] == expected
    note = next(n for n in summary["notes"] if n.startswith("model "))
    assert ("bits per pixel" in note) == (source == "auto")


def test_a_named_method_is_never_swapped(tmp_path, capsys, monkeypatch, video_factory):
    monkeypatch.setattr(inference, "COMPRESSED_VARIANTS", {"bicubic": "espcn.x4"})
    clip = video_factory("web.mp4", frames=6, options={"crf": "34"})
    report = tmp_path / "r.json"
    assert main(["upscale", str(clip), str(tmp_path / "o.mp4"), "--scale", "4", "--method", "bicubic",
                 "--source", "compressed", "--report", str(report), "--quiet"]) == 0
    summary = json.loads(report.read_text())
    assert summary["method"] == "bicubic" and not any(n.startswith("model ") for n in summary["notes"])


def test_info_explains_the_choice(capsys, video_factory):
    clip = video_factory("web.mp4", frames=6, options={"crf": "34"})
    assert main(["info", str(clip)]) == 0
    out = capsys.readouterr().out
    assert "coding      compressed (h264 at" in out
    assert "--scale 4 --time-factor 2 runs propstvsr.x4_real+dis (made for compressed input" in out
    assert "--scale 2 --time-factor 2 runs propstvsr.x2_real+dis (made for compressed input" in out
    assert main(["info", "--json", str(clip)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"]["kind"] == "compressed"
    assert (data["model_x4x2"], data["model_x2x2"]) == ("propstvsr.x4_real+dis", "propstvsr.x2_real+dis")
