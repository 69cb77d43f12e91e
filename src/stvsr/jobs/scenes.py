"""Shot boundaries of edited footage, found while the frames stream by, so that nothing is interpolated or
aggregated across a cut (a frame made between two shots is a ghost of both).

Detection is PySceneDetect's content detector (Castellano, BSD-3): the change in hue, saturation and luma between
consecutive frames against a threshold (27 by default, the library's). Fades and dissolves change a little per
frame and stay below it: they are not cuts, and interpolating through them is right. Its "suppress" mode decides
at the frame itself, which a streaming pipeline needs (the default "merge" mode may report a cut frames later).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

DEFAULT_THRESHOLD = 27.0
# Frames of context a segment reads before its first frame, so that the detector can report a cut there.
MIN_SHOT_FRAMES = 8
# The detector looks at frames at most this wide (as PySceneDetect's own scene manager does): the same cuts for a
# small fraction of the work at 1080p.
DETECT_WIDTH = 256


def _detector_frame(frame: Tensor) -> np.ndarray:
    """(3, H, W) float RGB in [0, 1] -> BGR uint8 (h, w, 3) at most DETECT_WIDTH wide, as OpenCV-based code expects."""
    array = frame.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()[:, :, ::-1]
    height, width = array.shape[:2]
    if width > DETECT_WIDTH:
        size = (DETECT_WIDTH, max(1, round(height * DETECT_WIDTH / width)))
        array = cv2.resize(array, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(array)


class CutDetector:
    """Call it on each frame in order; it answers whether that frame starts a new shot. `cuts` lists them.

    A shot is the run of frames between two changes over the threshold, however short: every such change is a cut
    (`min_shot` 1). PySceneDetect's usual 8-frame minimum suppressed the cuts beside a short shot (a short first
    shot included), and the frame made there was a ghost of both shots (9-11 dB to each). A flash is then a shot of
    its own: nothing is interpolated into or out of it, which is right for a frame unlike its neighbours."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, min_shot: int = 1):
        from scenedetect.detectors import ContentDetector
        from scenedetect.scene_detector import FlashFilter

        self._detector = ContentDetector(threshold=threshold, min_scene_len=min_shot,
                                         filter_mode=FlashFilter.Mode.SUPPRESS)
        self.index = 0
        self.cuts: list[int] = []

    def __call__(self, frame: Tensor) -> bool:
        index, self.index = self.index, self.index + 1
        found = self._detector.process_frame(index, _detector_frame(frame))
        if index > 0 and index in found:
            self.cuts.append(index)
            return True
        return False


def find_cuts(frames: Iterable[Tensor], threshold: float = DEFAULT_THRESHOLD) -> list[int]:
    """Indices of the frames that start a new shot (0 is never one)."""
    detector = CutDetector(threshold)
    for frame in frames:
        detector(frame)
    return detector.cuts
