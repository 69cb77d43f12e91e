"""A procedurally generated action set for the recognition axis of the trade-off study (no download needed).

Each clip is a textured object moving over a smooth background. Its class has two parts, read by two streams:
- appearance (the frame stream sees it in any single frame): the object's texture — fine stripes, a checkerboard,
  dots, or plain. The textures are fine (periods of 7-12 pixels at full resolution, 2-3 pixels after ×4
  downscaling), so blurry upscaling erases the difference and detail-restoring SR can bring it back;
- motion (the flow stream sees it in the optical flow between frames): translation, rotation, scaling, or
  back-and-forth oscillation. Flicker between frames corrupts the flow and with it this class.
Every clip is a pure function of (seed, index), so the set is the same everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .synthetic import texture

APPEARANCES = ("stripes", "checker", "dots", "plain")
MOTIONS = ("translate", "rotate", "scale", "oscillate")
SIZE, FRAMES = 96, 7  # high-resolution frame size and clip length (odd: the STVSR protocol keeps frames 0, 2, 4, 6)


@dataclass
class ActionClip:
    frames: Tensor  # (T, 3, SIZE, SIZE) float RGB in [0, 1]
    appearance: int  # index into APPEARANCES
    motion: int  # index into MOTIONS


def _pattern(kind: str, u: Tensor, v: Tensor, period: float) -> Tensor:
    """Texture value in [0, 1] at object coordinates (u, v) in pixels."""
    k = 2 * math.pi / period
    if kind == "stripes":
        return 0.5 + 0.5 * torch.sin(k * u)
    if kind == "checker":
        return 0.5 + 0.5 * torch.tanh(4 * torch.sin(k * u) * torch.sin(k * v))
    if kind == "dots":
        return 0.5 + 0.5 * torch.tanh(4 * (torch.cos(k * u) * torch.cos(k * v) - 0.3))
    return torch.full_like(u, 0.5)


def _motion(kind: str, t: int, rng: np.random.Generator, params: dict) -> tuple[float, float, float, float]:
    """(dx, dy, angle, zoom) of the object at frame t."""
    if kind == "translate":
        return params["vx"] * t, params["vy"] * t, 0.0, 1.0
    if kind == "rotate":
        return 0.0, 0.0, params["spin"] * t, 1.0
    if kind == "scale":
        return 0.0, 0.0, 0.0, params["grow"] ** t
    phase = [0, 1, 2, 1][t % 4]  # there and back: 0, 1, 2, 1, 0, ...
    return params["vx"] * 1.5 * phase, params["vy"] * 1.5 * phase, 0.0, 1.0


def action_clip(seed: int, index: int, *, appearance: int | None = None, motion: int | None = None) -> ActionClip:
    """Clip `index` of the set with `seed`: classes drawn uniformly unless given."""
    rng = np.random.default_rng([seed, index])
    appearance = int(rng.integers(len(APPEARANCES))) if appearance is None else appearance
    motion = int(rng.integers(len(MOTIONS))) if motion is None else motion
    speed, direction = rng.uniform(1.5, 3.0), rng.uniform(0, 2 * math.pi)
    params = {"vx": speed * math.cos(direction), "vy": speed * math.sin(direction),
              "spin": rng.choice([-1, 1]) * rng.uniform(0.08, 0.14),
              "grow": rng.choice([1 / 1.06, 1.06])}
    a, b = rng.uniform(20, 30), rng.uniform(14, 22)  # ellipse semi-axes: rotation shows at its edges
    base_angle, period = rng.uniform(0, math.pi), rng.uniform(7, 12)
    colour_a, colour_b = torch.tensor(rng.uniform(0.05, 0.45, 3)), torch.tensor(rng.uniform(0.55, 0.95, 3))
    background = texture(SIZE, SIZE, seed=int(rng.integers(2 ** 31)), octaves=3) * 0.6 + 0.2
    cx, cy = SIZE / 2 + rng.uniform(-6, 6), SIZE / 2 + rng.uniform(-6, 6)

    supersample = 2  # render at 2x and average down: edges and fine textures without aliasing
    n = SIZE * supersample
    ys, xs = torch.meshgrid(torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32),
                            indexing="ij")
    xs, ys = (xs + 0.5) / supersample, (ys + 0.5) / supersample
    frames = []
    for t in range(FRAMES):
        dx, dy, angle, zoom = _motion(MOTIONS[motion], t, rng, params)
        # Object coordinates of every pixel: undo the translation, rotation and zoom.
        px, py = xs - cx - dx, ys - cy - dy
        c, s = math.cos(base_angle + angle), math.sin(base_angle + angle)
        u, v = (c * px + s * py) / zoom, (-s * px + c * py) / zoom
        inside = torch.sigmoid((1 - torch.sqrt((u / a) ** 2 + (v / b) ** 2)) * 40)
        value = _pattern(APPEARANCES[appearance], u, v, period)
        obj = colour_a.view(3, 1, 1) + (colour_b - colour_a).view(3, 1, 1) * value
        frame = inside * obj
        frame = F.avg_pool2d(frame[None].float(), supersample)[0]
        alpha = F.avg_pool2d(inside[None, None].float(), supersample)[0]
        frames.append(frame + (1 - alpha) * background)
    return ActionClip(torch.stack(frames).clamp(0, 1), appearance, motion)


def action_set(count: int, *, seed: int = 0) -> list[ActionClip]:
    """`count` clips with classes balanced: clip i has appearance i mod 4 and motion (i // 4) mod 4."""
    return [action_clip(seed, i, appearance=i % len(APPEARANCES), motion=(i // len(APPEARANCES)) % len(MOTIONS))
            for i in range(count)]
