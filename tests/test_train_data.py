"""Training samples: sources found and cached, crops and augmentation, determinism in (seed, index)."""

import os

import pytest
import torch

from stvsr.data.synthetic import translating_clip, texture
from stvsr.degrade import bicubic_down
from stvsr.errors import InputError
from stvsr.io import FrameFolderWriter
from stvsr.io.testing import write_test_video
from stvsr.train.config import DataConfig
from stvsr.train.data import FrameStore, TrainSamples, collate, find_sources, load_photos


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    write_test_video(root / "a.mp4", translating_clip(12, 96, 128, seed=1))
    with FrameFolderWriter(root / "seq") as writer:
        for frame in translating_clip(10, 80, 96, seed=2):
            writer.write(frame)
    photos = root / "photos"
    with FrameFolderWriter(photos) as writer:
        writer.write(texture(160, 200, seed=3))
    return root


def make(sources, tmp_path, **overrides):
    settings = {"patch": 8, "frames": 7, **overrides}
    config = DataConfig(videos=[str(sources)], photos=[str(sources / "photos")], cache=str(tmp_path / "cache"),
                        **settings)
    store = FrameStore(find_sources(config.videos, exclude=config.photos), downscale=config.hr_downscale,
                       cache=config.cache)
    return store, TrainSamples(store, load_photos(config.photos, config.hr_downscale), config, scale=4, seed=7)


def test_sources_store_and_cache(sources, tmp_path):
    found = find_sources([str(sources)], exclude=[str(sources / "photos")])
    assert [p.name for p in found] == ["a.mp4", "seq"]
    relative = os.path.relpath(sources)  # configs give paths relative to the working folder
    assert [p.name for p in find_sources([relative], exclude=[os.path.join(relative, "photos")])] == ["a.mp4", "seq"]
    store, _ = make(sources, tmp_path)
    assert [tuple(c.shape) for c in store.clips] == [(12, 3, 48, 64), (10, 3, 40, 48)]  # x0.5
    assert store.clips[0].dtype == torch.uint8
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 2
    again = FrameStore(found, downscale=0.5, cache=tmp_path / "cache")  # from the cache
    assert all(torch.equal(a, b) for a, b in zip(store.clips, again.clips))


def test_samples_are_deterministic_and_consistent(sources, tmp_path):
    _, samples = make(sources, tmp_path)
    first, again, other = samples[5], samples[5], samples[6]
    assert torch.equal(first.hr, again.hr) and not torch.equal(first.hr, other.hr)
    assert first.hr.shape == (7, 3, 32, 32) and first.lr.shape == (7, 3, 8, 8)
    assert torch.equal(first.lr, bicubic_down(first.hr, 4))
    batch = collate([samples[i] for i in range(4)])
    assert batch.hr.shape == (4, 7, 3, 32, 32)


def test_photo_motion_moves_the_crop(sources, tmp_path):
    _, samples = make(sources, tmp_path, photo_share=1.0)
    moving = [samples[i].hr for i in range(8)]
    assert any(not torch.equal(clip[0], clip[-1]) for clip in moving)


def test_too_small_sources_are_refused(sources, tmp_path):
    with pytest.raises(InputError, match="no training clip"):
        make(sources, tmp_path, patch=64)
    with pytest.raises(InputError, match="not found"):
        find_sources([str(tmp_path / "nowhere")])


def test_frame_step_takes_every_other_frame_of_the_same_span(sources, tmp_path):
    # The space half of an x2 cascade sees the 4 input frames of a septuplet: frames 4 at step 2 are the even
    # frames of the 7-frame sample drawn from the same (seed, index).
    _, dense = make(sources, tmp_path, photo_share=0.0)
    _, stepped = make(sources, tmp_path, photo_share=0.0, frames=4, frame_step=2)
    for i in range(6):
        assert torch.equal(stepped[i].hr, dense[i].hr[::2])
    _, photos = make(sources, tmp_path, photo_share=1.0, frames=4, frame_step=2)
    assert photos[0].hr.shape == (4, 3, 32, 32)
