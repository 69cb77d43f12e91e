"""Clip loaders on generated miniatures of each layout, well-formed and malformed."""

import pytest
import torch

from stvsr.data.clips import FolderClips, VideoClips, VimeoClips, open_clips
from stvsr.data.synthetic import translating_clip
from stvsr.errors import InputError, UsageError
from stvsr.io import FrameFolderWriter
from stvsr.data.synthetic_video import write_synthetic_video


def write_frames(folder, frames, names=None):
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        name = names[i] if names else f"im{i + 1}.png"
        array = frame.mul(255).round().byte().permute(1, 2, 0).numpy()[:, :, ::-1]
        cv2.imwrite(str(folder / name), array)


def make_vimeo(root, keys=("00001/0001", "00001/0002"), frames=7, list_text=None, height=32, width=48):
    for i, key in enumerate(keys):
        write_frames(root / "sequences" / key, translating_clip(frames, height, width, seed=i))
    name = "sep_testlist.txt" if frames == 7 else "tri_testlist.txt"
    (root / name).write_text(list_text if list_text is not None else "\n".join(keys) + "\n")
    return root


def test_vimeo_septuplet_bare_keys(tmp_path):
    clips = VimeoClips(make_vimeo(tmp_path))
    assert clips.keys == ["00001/0001", "00001/0002"] and clips.frames_per_clip == 7
    first = next(iter(clips))
    assert first.name == "00001/0001" and first.frames.shape == (7, 3, 32, 48) and first.frames.dtype == torch.uint8
    expected = translating_clip(7, 32, 48, seed=0).mul(255).round().byte()
    assert torch.equal(first.frames, expected)


def test_vimeo_meta_form_and_stray_lines(tmp_path):
    text = "00001/0001 7 (32,48,3)\n\n   00001/0002 7 (32,48,3)   \n"  # BasicSR meta form, blank line, spaces
    clips = VimeoClips(make_vimeo(tmp_path, list_text=text))
    assert len(clips) == 2


def test_vimeo_triplet(tmp_path):
    clips = VimeoClips(make_vimeo(tmp_path, frames=3))
    assert clips.frames_per_clip == 3 and next(iter(clips)).frames.shape[0] == 3


def test_vimeo_malformed(tmp_path):
    with pytest.raises(InputError, match="no clip keys"):
        VimeoClips(make_vimeo(tmp_path / "a", list_text=""))
    root = make_vimeo(tmp_path / "b")
    (root / "sequences/00001/0002/im5.png").unlink()
    with pytest.raises(InputError, match="missing im5.png"):
        list(VimeoClips(root))
    root = make_vimeo(tmp_path / "c", list_text="00001/0001\n00009/0009\n")
    with pytest.raises(InputError, match="00009/0009 .* is missing"):
        list(VimeoClips(root))
    root = make_vimeo(tmp_path / "d")
    write_frames(root / "sequences/00001/0001", [torch.rand(3, 16, 16)], names=["im3.png"])
    with pytest.raises(InputError, match="differ in size"):
        list(VimeoClips(root))
    with pytest.raises(InputError, match="not found"):
        VimeoClips(tmp_path / "nowhere")
    (tmp_path / "e").mkdir()
    with pytest.raises(InputError, match="no list file"):
        VimeoClips(tmp_path / "e")


def test_folders_with_and_without_lr(tmp_path):
    for name in ("calendar", "city"):
        write_frames(tmp_path / "GT" / name, translating_clip(5, 32, 32), names=[f"{i:03d}.png" for i in range(5)])
        write_frames(tmp_path / "BIx4" / name, translating_clip(5, 8, 8), names=[f"{i:03d}.png" for i in range(5)])
    clips = list(FolderClips(tmp_path, lr_dir="BIx4"))
    assert [c.name for c in clips] == ["calendar", "city"] and clips[0].lr.shape == (5, 3, 8, 8)
    assert all(c.lr is None for c in FolderClips(tmp_path))
    (tmp_path / "BIx4/city/004.png").unlink()
    with pytest.raises(InputError, match="4 LR frames for 5"):
        list(FolderClips(tmp_path, lr_dir="BIx4"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no clip folders"):
        FolderClips(tmp_path / "empty")


def test_video_files_and_frame_folders(tmp_path):
    write_synthetic_video(tmp_path / "a.mp4", translating_clip(6, 32, 32))
    with FrameFolderWriter(tmp_path / "b") as writer:
        for frame in translating_clip(4, 32, 32):
            writer.write(frame)
    (tmp_path / "notes.txt").write_text("ignored")
    clips = list(VideoClips(tmp_path))
    assert [(c.name, len(c.frames)) for c in clips] == [("a", 6), ("b", 4)]
    assert len(next(iter(VideoClips(tmp_path / "a.mp4", max_frames=3))).frames) == 3
    with pytest.raises(UsageError):
        open_clips(tmp_path, "hdf5")
