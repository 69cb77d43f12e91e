"""--preview: a short split-screen excerpt (input by bicubic | output) to OUT.preview.EXT, in seconds."""

import torch

from stvsr.cli import main
from stvsr.io import VideoReader, probe
from stvsr.ops.resize import imresize

LOSSLESS = ["--codec", "ffv1", "--pix-fmt", "bgr0"]


def frames_of(path):
    with VideoReader(path) as reader:
        return torch.stack(list(reader))


def test_preview_is_a_split_screen_excerpt(capsys, tmp_path, ntsc_clip):
    out = tmp_path / "out.mkv"
    assert main(["upscale", str(ntsc_clip), str(out), "--scale", "2", "--time-factor", "2", "--preview",
                 "--preview-start", "0.2", "--preview-seconds", "0.2", *LOSSLESS]) == 0
    assert "preview of input frames 6-11" in capsys.readouterr().out
    preview = tmp_path / "out.preview.mkv"
    assert preview.exists() and not out.exists()  # the real output's name stays free
    assert probe(preview).frame_count == 12 and probe(preview).fps == probe(ntsc_clip).fps * 2
    assert main(["upscale", str(ntsc_clip), str(out), "--scale", "2", "--time-factor", "2", *LOSSLESS]) == 0
    shown, whole, source = frames_of(preview), frames_of(out), frames_of(ntsc_clip)
    half = shown.shape[-1] // 2
    # right half: the output of the same frames as the whole run makes them (input 6 is output 12), the default's
    # recurrent x2 model given the frames around the excerpt as context; left half: bicubic input
    assert torch.allclose(shown[:, :, :, half + 1:], whole[12:24, :, :, half + 1:], atol=1 / 255)
    left = imresize(source[6:12], 2).clamp(0, 1).repeat_interleave(2, dim=0)[:, :, :, :half - 1]
    assert torch.allclose(shown[:, :, :, :half - 1], left, atol=1 / 255)


def test_preview_arguments_are_checked(capsys, tmp_path, ntsc_clip):
    out = tmp_path / "out.mp4"
    assert main(["upscale", str(ntsc_clip), str(out), "--preview", "--preview-start", "99"]) == 2
    assert "past the end" in capsys.readouterr().err
    assert main(["upscale", str(ntsc_clip), str(out), "--preview-seconds", "1"]) == 2
    assert "go with --preview" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "out.preview.mp4").exists()
