"""Shared fixtures: small synthetic videos made on the fly (the tests need no dataset)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from stvsr.data.synthetic import translating_frames
from stvsr.io.ffmpeg_log import silence_ffmpeg
from stvsr.data.synthetic_video import write_synthetic_video

silence_ffmpeg()  # native FFmpeg logging (PyAV's Python callback can deadlock threaded codecs)


@pytest.fixture(scope="session")
def load_script():
    """load(name, folder="scripts") -> the module of FOLDER/NAME.py: the scripts and benchmarks are not packages,
    and their tests call their functions directly."""
    import importlib.util

    def load(name: str, folder: str = "scripts"):
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def video_factory(tmp_path_factory):
    """make(name, frames=12, height=48, width=64, **write_synthetic_video kwargs) -> Path, cached by arguments."""
    root = tmp_path_factory.mktemp("videos")
    cache: dict = {}

    def make(name: str, *, frames: int = 12, height: int = 48, width: int = 64, velocity=(2, 1), seed: int = 0,
             **kwargs) -> Path:
        key = (name, frames, height, width, velocity, seed, repr(sorted(kwargs.items())))
        if key not in cache:
            path = root / f"{len(cache)}_{name}"
            write_synthetic_video(path, translating_frames(frames, height, width, velocity=velocity, seed=seed), **kwargs)
            cache[key] = path
        return cache[key]

    return make


@pytest.fixture(scope="session")
def ntsc_clip(video_factory) -> Path:
    """20 frames at 30000/1001 fps, H.264 + AAC sine tone: the typical phone clip in miniature."""
    return video_factory("ntsc.mp4", frames=20, fps=Fraction(30000, 1001), tone_hz=440)
