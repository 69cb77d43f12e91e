"""Training samples: sources found and cached, crops and augmentation, determinism in (seed, index)."""

import os

import pytest
import torch

from stvsr.data.synthetic import translating_clip, texture
from stvsr.degrade import bicubic_down
from stvsr.errors import InputError
from stvsr.io import FrameFolderWriter
from stvsr.data.synthetic_video import write_synthetic_video
from stvsr.train.config import DataConfig
from stvsr.train.data import FrameStore, TrainSamples, collate, find_sources, load_photos


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    write_synthetic_video(root / "a.mp4", translating_clip(12, 96, 128, seed=1))
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


def _steady_shift(clip: torch.Tensor, reach: int = 8) -> tuple[int, int] | None:
    """The one (dy, dx) with clip[t + 1] == clip[t] moved by it, on their overlap, for every t; None if none."""
    size = clip.shape[-1]
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            ys, xs = slice(max(dy, 0), size + min(dy, 0)), slice(max(dx, 0), size + min(dx, 0))
            ys0, xs0 = slice(max(-dy, 0), size + min(-dy, 0)), slice(max(-dx, 0), size + min(-dx, 0))
            if all(torch.equal(clip[t + 1][:, ys0, xs0], clip[t][:, ys, xs]) for t in range(len(clip) - 1)):
                return dy, dx
    return None


def test_photo_motion_is_a_steady_camera_pan(sources, tmp_path):
    """A still photo becomes a clip by a camera moving at a constant speed: every frame is the previous one moved
    by the same whole-pixel step (within the +-4 px a frame the loader allows), and most samples do move."""
    _, samples = make(sources, tmp_path, photo_share=1.0)
    shifts = [_steady_shift(samples[i].hr, reach=4) for i in range(12)]
    assert all(shift is not None for shift in shifts), shifts
    assert sum(shift != (0, 0) for shift in shifts) >= 8
    noisy = samples[0].hr.clone()
    noisy[1] += 1e-3 * torch.randn_like(noisy[1])  # per-frame change that is not a pan: the check must catch it
    assert _steady_shift(noisy, reach=4) is None


def test_photo_scales_add_each_photo_at_each_factor(sources, tmp_path):
    from stvsr.train.loop import training_sources

    config = DataConfig(videos=[str(sources)], photos=[str(sources / "photos")], cache=str(tmp_path / "cache"),
                        photo_share=0.5, photo_scales=[0.25, 0.5])  # 0.5 is hr_downscale: not added twice
    _, photos = training_sources(config, 4)
    assert [tuple(p.shape) for p in photos] == [(3, 80, 100), (3, 40, 50)]
    assert torch.equal(photos[0], load_photos(config.photos, 0.5)[0])


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


def _source_of(sample: torch.Tensor, store: FrameStore) -> set[int]:
    """The frame spacings at which `sample` (un-augmented HR) is a crop of a source clip's frames."""
    t, size = sample.shape[0], sample.shape[-1]
    found = set()
    for clip in store.clips:
        for step in (1, 2, 3):
            for start in range(len(clip) - (t - 1) * step):
                frames = clip[start:start + (t - 1) * step + 1:step].float().div(255)
                for y in range(clip.shape[-2] - size + 1):
                    for x in range(clip.shape[-1] - size + 1):
                        if torch.equal(frames[..., y:y + size, x:x + size], sample):
                            found.add(step)
    return found


def test_random_frame_spacing_draws_each_sample_s_spacing(sources, tmp_path):
    """`frame_steps: [1, 2]`: every sample is source frames at spacing 1 or 2, and both occur."""
    store, samples = make(sources, tmp_path, photo_share=0.0, frames=3, frame_steps=[1, 2], augment=[])
    spacings = [_source_of(samples[i].hr, store) for i in range(10)]
    assert all(spacings), spacings
    assert {1, 2} <= set().union(*spacings) and not any(s == {3} for s in spacings)
    _, photos = make(sources, tmp_path, photo_share=1.0, frames=3, frame_steps=[1, 3])
    assert photos[0].hr.shape == (3, 3, 32, 32)


def test_an_augmentation_left_out_changes_only_what_it_did(sources, tmp_path):
    """Without `reverse`, each sample is the full set's sample or its time reversal, and the rest of the stream is
    the same; with none, a sample is a plain crop of the footage."""
    _, every = make(sources, tmp_path, photo_share=0.0)
    _, forward = make(sources, tmp_path, photo_share=0.0, augment=["hflip", "vflip", "transpose"])
    same = [torch.equal(every[i].hr, forward[i].hr) for i in range(12)]
    assert all(s or torch.equal(every[i].hr.flip(0), forward[i].hr) for i, s in enumerate(same))
    assert 0 < sum(same) < 12
    store, plain = make(sources, tmp_path, photo_share=0.0, augment=[])
    assert _source_of(plain[3].hr, store) == {1}


@pytest.mark.parametrize("setting", [{"frame_steps": [0, 2]}, {"augment": ["rotate"]}])
def test_bad_augmentation_settings_are_one_line(setting, tmp_path):
    from stvsr.errors import UsageError
    from stvsr.train.config import load_config

    path = tmp_path / "bad.yaml"
    key, value = next(iter(setting.items()))
    path.write_text(f"model: imdn\ndata: {{{key}: {value}}}\n")
    with pytest.raises(UsageError, match=f"data.{key}"):
        load_config(path)
