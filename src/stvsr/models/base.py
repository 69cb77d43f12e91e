"""The contract every video model meets, so the streaming runner can drive any of them the same way.

A model maps a clip (N, T, C, H, W), float RGB in [0, 1], to (N, (T - 1)·k + 1, C, s·H, s·W): the output covers
the same span of time as the input at k times the frame rate (k = `time_factor`) and s times the size
(s = `scale`). With k = 1 this is T frames out for T in. `window` is how many input frames it wants per call
(1 for per-frame methods, 2 for interpolators, more for multi-frame models); `min_size` the smallest H and W.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import UsageError
from ..ops.batching import per_frame


class VideoModel(nn.Module):
    scale: int = 1
    time_factor: int = 1
    window: int = 1
    min_size: int = 8  # below 8×8 a frame holds no picture to speak of, and flow estimation has no room

    def output_length(self, frames: int) -> int:
        return (frames - 1) * self.time_factor + 1

    # Streaming hooks (inference.run_windows); None takes the default of `streaming_window` / `window_overlap_of`.
    device_window: int | None = None  # frames per window off the CPU (batching what a GPU would do in pieces)
    window_overlap: int | None = None  # input frames consecutive windows share

    # Training hooks. STAGES names the intermediate outputs `stages()` returns, in the order the model computes
    # them; a loss `name@stage` scores one of them (TP-net's staged schedule, the 2D+3D auxiliary loss).
    STAGES: tuple[str, ...] = ()
    upto: str | None = None  # a model built in stages: the stage its output stops at (None: not built so)

    def adapt_init(self, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
        """Another version's tensors made to fit this model before they initialise it (`train.loop.init_from`):
        e.g. SR-U-Net's transposed upsampler into its resize-convolution one. Neutral: as they are."""
        return tensors

    @staticmethod
    def check_clip(clip: Tensor) -> None:
        if clip.dim() != 5 or clip.shape[2] != 3:
            raise ValueError(f"expected a clip (N, T, 3, H, W), got {tuple(clip.shape)}")

    def stages(self, clip: Tensor, *, until: str | None = None) -> dict[str, Tensor]:
        """The outputs named in STAGES, computed up to `until` (default: all of them)."""
        raise UsageError(f"{type(self).__name__} has no training stages: use plain loss names, not name@stage")

    def streams(self, *frames: Tensor) -> dict[str, Tensor]:
        """Every intermediate a composite loss needs (the dual-stream terms)."""
        raise UsageError(f"{type(self).__name__} has no streams: the dual_stream loss needs the dual-stream model")


class SpatialModel(VideoModel):
    """A per-frame method: applies `upscale_frames` (M, 3, H, W) -> (M, 3, sH, sW) to every frame."""

    # Streaming windows off the CPU: 4 frames a call keep a GPU busier than one (`python benchmarks/gpu_profile.py`;
    # docs/experiments/gpu-speed.md).
    device_window = 4

    def forward(self, clip: Tensor) -> Tensor:
        self.check_clip(clip)
        n, t = clip.shape[:2]
        out = per_frame(self.upscale_frames, clip.flatten(0, 1))
        return out.view(n, t, *out.shape[1:])

    def upscale_frames(self, frames: Tensor) -> Tensor:
        raise NotImplementedError


class PairwiseInterpolator(VideoModel):
    """A frame interpolator: between each pair of neighbours, `interpolate(a, b, times)` makes k - 1 frames."""

    window = 2
    # Streaming windows off the CPU: 9 frames, whose 8 pairs go through `interpolate` as one batch. One pair at a
    # time would leave a GPU waiting on kernel launches (the torch DIS runs hundreds of small kernels per pair).
    device_window = 9

    def forward(self, clip: Tensor) -> Tensor:
        self.check_clip(clip)
        n, t = clip.shape[:2]
        k = self.time_factor
        times = [i / k for i in range(1, k)]
        made = []
        if t > 1:  # every pair of the clip at once: (N·(T−1), 3, H, W) for each time
            made = [m.view(n, t - 1, *m.shape[1:])
                    for m in self.interpolate(clip[:, :-1].flatten(0, 1), clip[:, 1:].flatten(0, 1), times)]
        out = [clip[:, 0]]
        for i in range(t - 1):
            out.extend(m[:, i] for m in made)
            out.append(clip[:, i + 1])
        return torch.stack(out, dim=1)

    def interpolate(self, a: Tensor, b: Tensor, times: list[float]) -> list[Tensor]:
        raise NotImplementedError


class CentreFrameVSR(VideoModel):
    """A multi-frame SR model that predicts each frame from its 2r + 1 neighbours (`predict_centre`).

    `forward` maps T frames to T: the clip is padded at both ends by mirroring, and every frame is predicted.
    Streaming windows hold 12 frames and overlap by 2r, so every frame the runner keeps saw all its neighbours.
    """

    radius = 2
    window = 12

    @property
    def window_overlap(self) -> int:
        return 2 * self.radius

    def forward(self, clip: Tensor) -> Tensor:
        self.check_clip(clip)
        n, t = clip.shape[:2]
        r = self.radius
        index = [min(max(i, -i), 2 * (t - 1) - i) if t > 1 else 0 for i in range(-r, t + r)]  # mirror
        padded = clip[:, index]
        stacks = torch.stack([padded[:, i:i + 2 * r + 1] for i in range(t)], dim=1)  # (N, T, 2r+1, C, H, W)
        out = per_frame(self.predict_centre, stacks.flatten(0, 1))
        return out.view(n, t, *out.shape[1:])

    def predict_centre(self, frames: Tensor) -> Tensor:
        """(M, 2r + 1, 3, H, W) -> (M, 3, sH, sW): the centre frame, super-resolved."""
        raise NotImplementedError


class Cascade(VideoModel):
    """Two models applied one after the other, e.g. frame interpolation then bicubic (order 'ts') or the reverse."""

    def __init__(self, first: VideoModel, second: VideoModel):
        super().__init__()
        self.first, self.second = first, second
        self.scale = first.scale * second.scale
        self.time_factor = first.time_factor * second.time_factor
        self.window = max(first.window, second.window)
        # The second model sees the first's output size.
        self.min_size = max(first.min_size, -(-second.min_size // first.scale))

    @property
    def window_overlap(self) -> int:
        """The larger of the two parts' overlaps, so that each part sees the context it asks for."""
        return min(self.window - 1, max(window_overlap_of(self.first), window_overlap_of(self.second)))

    def forward(self, clip: Tensor) -> Tensor:
        return self.second(self.first(clip))


def streaming_window(model: VideoModel, device: torch.device) -> int:
    """The frames per streaming window of `model` on `device`: its `device_window` off the CPU where it has one
    (batching work a GPU would otherwise do in small pieces), else its `window`. The overlap stays the window's."""
    own = model.device_window
    return own if own is not None and device.type != "cpu" else model.window


def window_overlap_of(model: VideoModel) -> int:
    """The input frames consecutive streaming windows of `model` share: its own `window_overlap`, else none for
    one frame, one for a pair (interpolators), half a window for other multi-frame models."""
    own = model.window_overlap
    if own is not None:
        return own
    return 0 if model.window <= 1 else 1 if model.window == 2 else model.window // 2
