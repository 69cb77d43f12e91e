"""Evaluation clips: Vimeo-90K septuplets/triplets, Vid4/REDS-style folders, and video files.

A `Clip` holds its ground-truth frames as uint8 (T, 3, H, W) (a quarter of the memory of float) and, for folder
layouts that ship them, the dataset's own low-resolution frames.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError, UsageError
from ..io.probe import VIDEO_EXTENSIONS, list_frame_files, read_image

LAYOUTS = ("vimeo", "folders", "video")
_VIMEO_KEY = re.compile(r"^\d{5}/\d{4}$")


@dataclass
class Clip:
    name: str
    frames: Tensor  # uint8 (T, 3, H, W) ground truth
    lr: Tensor | None = None  # uint8 (T, 3, h, w) when the dataset provides its own LR frames

    def float_frames(self) -> Tensor:
        return self.frames.float().div_(255)


def load_frames(files: Sequence[Path], what: str) -> Tensor:
    """8-bit image files of one clip as uint8 (T, 3, H, W); `InputError` naming `what` if sizes differ."""
    arrays = []
    for file in files:
        array = read_image(file)
        if arrays and array.shape != arrays[0].shape:
            raise InputError(f"{what}: frames differ in size: {file.name} is {array.shape[1]}x{array.shape[0]}, "
                             f"{files[0].name} is {arrays[0].shape[1]}x{arrays[0].shape[0]}")
        arrays.append(array)
    if not arrays:
        raise InputError(f"{what}: no frames")
    if any(a.dtype != np.uint8 for a in arrays):
        raise InputError(f"{what}: 16-bit frames are not supported for evaluation (protocols are 8-bit)")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


class VimeoClips:
    """Vimeo-90K in its own layout: `sequences/<5 digits>/<4 digits>/im1.png …` and a list file of keys.

    The list file may hold bare keys (`00001/0001`) or BasicSR's meta form (`00001/0001 7 (256,448,3)`): keys are
    the tokens of the form 5 digits / 4 digits, wherever they stand. Septuplet (7 frames) or triplet (3) is told
    by the list file's name (sep_/tri_) or else by the first clip's files.
    """

    def __init__(self, root: str | Path, *, list_file: str | Path | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"Vimeo-90K folder not found: {self.root}")
        self.sequences = self.root / "sequences" if (self.root / "sequences").is_dir() else self.root
        self.list_file = Path(list_file) if list_file else self._find_list()
        if not self.list_file.is_file():
            raise InputError(f"Vimeo-90K list file not found: {self.list_file}")
        tokens = self.list_file.read_text(errors="replace").split()
        self.keys = [t for t in tokens if _VIMEO_KEY.match(t)]
        if not self.keys:
            raise InputError(f"no clip keys (like 00001/0001) in {self.list_file}")
        name = self.list_file.name
        self.frames_per_clip = 7 if name.startswith("sep") else 3 if name.startswith("tri") else self._count_frames()

    def _find_list(self) -> Path:
        for name in ("sep_testlist.txt", "tri_testlist.txt", "sep_trainlist.txt", "tri_trainlist.txt"):
            if (self.root / name).is_file():
                return self.root / name
        found = sorted(self.root.glob("*list*.txt"))
        if not found:
            raise InputError(f"no list file (sep_testlist.txt, tri_testlist.txt) in {self.root}")
        return found[0]

    def _count_frames(self) -> int:
        folder = self.sequences / self.keys[0]
        return 7 if (folder / "im7.png").exists() else 3

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[Clip]:
        for key in self.keys:
            yield self.load(key)

    def load(self, key: str) -> Clip:
        folder = self.sequences / key
        if not folder.is_dir():
            raise InputError(f"clip {key} listed in {self.list_file.name} is missing: {folder}")
        files = [folder / f"im{i}.png" for i in range(1, self.frames_per_clip + 1)]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise InputError(f"clip {key} is missing {', '.join(missing)}")
        return Clip(name=key, frames=load_frames(files, f"clip {key}"))


class FolderClips:
    """Vid4/REDS-style: `GT/<clip>/*.png` (or `<clip>/*.png` directly under root), with optional LR frames in
    `BIx4/<clip>/` (any folder given as `lr_dir`); without them the evaluation makes LR with its degradation."""

    def __init__(self, root: str | Path, *, lr_dir: str | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"folder not found: {self.root}")
        self.gt_root = self.root / "GT" if (self.root / "GT").is_dir() else self.root
        self.names = sorted(p.name for p in self.gt_root.iterdir() if p.is_dir() and list_frame_files(p))
        if not self.names:
            raise InputError(f"no clip folders with frames in {self.gt_root}")
        self.lr_root = self.root / lr_dir if lr_dir else None
        if self.lr_root is not None and not self.lr_root.is_dir():
            raise InputError(f"LR folder not found: {self.lr_root}")

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[Clip]:
        for name in self.names:
            frames = load_frames(list_frame_files(self.gt_root / name), f"clip {name}")
            lr = None
            if self.lr_root is not None:
                lr_files = list_frame_files(self.lr_root / name) if (self.lr_root / name).is_dir() else []
                if len(lr_files) != len(frames):
                    raise InputError(f"clip {name}: {len(lr_files)} LR frames for {len(frames)} ground-truth frames")
                lr = load_frames(lr_files, f"LR clip {name}")
            yield Clip(name=name, frames=frames, lr=lr)


class VideoClips:
    """A video file, or a folder of video files and frame folders: each one clip (up to `max_frames` frames)."""

    def __init__(self, path: str | Path, *, max_frames: int | None = None):
        self.path = Path(path)
        self.max_frames = max_frames
        if self.path.is_file():
            self.items = [self.path]
        elif self.path.is_dir():
            if list_frame_files(self.path):
                self.items = [self.path]
            else:
                self.items = sorted(p for p in self.path.iterdir()
                                    if (p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
                                    or (p.is_dir() and list_frame_files(p)))
        else:
            raise InputError(f"input not found: {self.path}")
        if not self.items:
            raise InputError(f"no videos or frame folders in {self.path}")

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Clip]:
        from ..io import VideoReader

        for item in self.items:
            frames = []
            with VideoReader(item) as reader:
                for frame in reader:
                    frames.append(frame.mul(255).round().to(torch.uint8))
                    if self.max_frames and len(frames) >= self.max_frames:
                        break
            yield Clip(name=item.stem if item.is_file() else item.name, frames=torch.stack(frames))


def open_clips(path: str | Path, layout: str, **options) -> VimeoClips | FolderClips | VideoClips:
    if layout == "vimeo":
        return VimeoClips(path, list_file=options.get("list_file"))
    if layout == "folders":
        return FolderClips(path, lr_dir=options.get("lr_dir"))
    if layout == "video":
        return VideoClips(path, max_frames=options.get("max_frames"))
    raise UsageError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
