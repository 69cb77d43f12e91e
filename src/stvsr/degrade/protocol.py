"""Degradation protocols: named, composable, seeded chains written as one string, used by training and evaluation.

    BI                                  MATLAB bicubic ×1/s (the standard protocol)
    BI+h264:crf=26                      ... then the clip through libx264 at CRF 26 (preset medium)
    BD+noise:5                          blur-downscale, then Gaussian noise σ = 5 levels
    blur:sigma=0.2..1.5,sigma2=0.2..1.5,theta=0..180+resize:mode=bicubic|bilinear|area+noise:sigma=0..4,p=0.5
        +h264:crf=18..34,preset=veryfast|medium|slow       a randomised chain, for training
    BI+mpeg4:q=8                        ... old footage: MPEG-4 Part 2 at quantiser 8, 8x8 blocks and no deblocking
    second_order+jpeg:q=30..95          Real-ESRGAN's two-round chain, then its final JPEG (training only: it draws)

A protocol is stages joined by `+`, applied in order: optional `blur` on the ground truth, exactly one downscale
(`BI`, `BD`, `blur3_bicubic`, `resize`, or `second_order`: Real-ESRGAN's blur, resize, noise and JPEG twice over,
`degrade.stages.second_order`), then any of `noise`, `jpeg` and the video codecs `h264`, `h265`, `vp9`,
`av1` (`crf`) and `mpeg4` (MPEG-4 Part 2, quantiser `q`) on the low-resolution clip. Chains joined by `||` are
alternatives, one drawn per clip with equal chance: a training mixture of codecs such as `BI+h264:crf=18..34 ||
BI+mpeg4:q=2..12`. A stage takes `key=value` parameters, or its first parameter bare (`h264:26`). A value is a
number, a range `a..b` (drawn uniformly, whole numbers for integer parameters) or alternatives `a|b|c` (one drawn).
`p=` gives a stage's probability of being applied. Draws come from the caller's `numpy.random.Generator`, once per
clip, so a training sample stays a pure function of its seed; a protocol with no draws is deterministic
(evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from typing import TYPE_CHECKING

import numpy as np

from ..errors import UsageError

if TYPE_CHECKING:
    from torch import Tensor

# Parsing stays free of torch: a training config names its protocol, and a wrong one must fail before torch loads.
DOWNSCALE_NAMES = ("BI", "BD", "blur3_bicubic")  # resample.DOWNSCALERS

Value = float | int | str | tuple  # a tuple is a draw: ("range", lo, hi) or ("choice", a, b, ...)


@dataclass(frozen=True)
class Param:
    kind: type  # float, int or str
    default: object
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()


_P = {"p": Param(float, 1.0, 0.0, 1.0)}
PLACES = ("before", "down", "after")
STAGES: dict[str, tuple[str, dict[str, Param]]] = {  # name: (place in the chain, parameters; the first is positional)
    "blur": ("before", {"sigma": Param(float, 1.0, 0.0, 10.0), "sigma2": Param(float, None, 0.0, 10.0),
                        "theta": Param(float, 0.0, -180.0, 180.0), **_P}),
    "BI": ("down", {}),
    "BD": ("down", {}),
    "blur3_bicubic": ("down", {}),
    "resize": ("down", {"mode": Param(str, "bicubic", choices=("bicubic", "bilinear", "area"))}),
    "second_order": ("down", {}),  # Real-ESRGAN's two rounds (stages.second_order): its draws are its own
    "noise": ("after", {"sigma": Param(float, 5.0, 0.0, 50.0),
                        "kind": Param(str, "gauss", choices=("gauss", "poisson")),
                        "grey": Param(float, 0.0, 0.0, 1.0), **_P}),  # grey: the chance of luminance-only noise
    "jpeg": ("after", {"q": Param(int, 75, 1, 100), **_P}),
    "h264": ("after", {"crf": Param(int, 23, 0, 51), "preset": Param(str, "medium", choices=(
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")), **_P}),
}
STAGES["h265"] = ("after", {**STAGES["h264"][1], "crf": Param(int, 28, 0, 51)})
STAGES["vp9"] = ("after", {"crf": Param(int, 32, 0, 63), **_P})
STAGES["av1"] = ("after", {"crf": Param(int, 35, 1, 63), **_P})  # SVT-AV1's CRF starts at 1
STAGES["mpeg4"] = ("after", {"q": Param(int, 5, 2, 31), **_P})  # MPEG-4 Part 2's constant quantiser
# each clip through the codec as one stream (io.compress.video_roundtrip)
VIDEO_STAGES = ("h264", "h265", "vp9", "av1", "mpeg4")
DRAWING_STAGES = ("second_order",)  # stages that draw their values themselves: never an evaluation protocol


@dataclass(frozen=True)
class Stage:
    name: str
    values: tuple[tuple[str, Value], ...]  # every parameter, defaults filled in

    @property
    def random(self) -> bool:
        return (self.name in DRAWING_STAGES or any(isinstance(v, tuple) for _, v in self.values)
                or dict(self.values).get("p", 1.0) < 1.0)

    def draw(self, rng: np.random.Generator) -> dict[str, object]:
        """Concrete parameter values for one clip."""
        params = STAGES[self.name][1]
        out = {}
        for key, value in self.values:
            if isinstance(value, tuple) and value[0] == "range":
                lo, hi = value[1:]
                value = int(rng.integers(lo, hi + 1)) if params[key].kind is int else float(rng.uniform(lo, hi))
            elif isinstance(value, tuple):
                value = value[1:][int(rng.integers(len(value) - 1))]
            out[key] = value
        return out


@dataclass(frozen=True)
class Protocol:
    text: str
    stages: tuple[Stage, ...]  # with alternatives: every alternative's stages, for the questions below
    alternatives: tuple[Protocol, ...] = ()  # chains joined by `||`: one drawn per clip

    @property
    def random(self) -> bool:
        """True when applying it draws anything (training chains); evaluation protocols are fixed."""
        return len(self.alternatives) > 1 or any(stage.random for stage in self.stages)

    @property
    def video_coded(self) -> bool:
        """True when a stage runs a video codec (PyAV): a clip-level round trip, not a per-frame one."""
        return any(stage.name in VIDEO_STAGES for stage in self.stages)

    @property
    def compressed(self) -> bool:
        return any(stage.name in ("jpeg", *VIDEO_STAGES) for stage in self.stages)

    def apply(self, images: Tensor, scale: int, rng: np.random.Generator | None = None) -> Tensor:
        """Degrade ground truth (..., T, 3, H, W) or (3, H, W) in [0, 1] to ×1/scale on the 8-bit grid. A video
        codec stage encodes each clip (the T axis) as one stream. Draws come from `rng` (default: seed 0)."""
        from ..ops.color import quantize as to_8bit

        return to_8bit(self._run(images, scale, rng, stop_at_codec=False)[0])

    def apply_before_codec(self, images: Tensor, scale: int, rng: np.random.Generator | None = None
                           ) -> tuple[Tensor, tuple[str, dict] | None]:
        """`apply` up to its video codec stage, with the same draws: the images (float, not yet on the 8-bit grid)
        and the codec stage as drawn, (name, values), or None where the chain has none or its draw skipped it. The
        training pack encodes that stage to a file instead (`train.pack`), so it must be the chain's last."""
        for chain in self.alternatives or (self,):
            codecs = [i for i, stage in enumerate(chain.stages) if stage.name in VIDEO_STAGES]
            if codecs and codecs != [len(chain.stages) - 1]:
                raise UsageError(f"degradation {chain.text!r}: a pack encodes one video codec stage, the chain's last")
        return self._run(images, scale, rng, stop_at_codec=True)

    def _run(self, images: Tensor, scale: int, rng: np.random.Generator | None, stop_at_codec: bool
             ) -> tuple[Tensor, tuple[str, dict] | None]:
        rng = np.random.default_rng(0) if rng is None else rng
        if self.alternatives:
            chain = self.alternatives[int(rng.integers(len(self.alternatives)))]
            return chain._run(images, scale, rng, stop_at_codec)
        x = images.float()
        for stage in self.stages:
            values = stage.draw(rng)
            if rng.random() >= values.pop("p", 1.0):
                continue
            if stop_at_codec and stage.name in VIDEO_STAGES:
                return x, (stage.name, values)
            x = _apply_stage(stage.name, values, x, scale, rng)
        return x, None


def _apply_stage(name: str, values: dict, x: Tensor, scale: int, rng: np.random.Generator) -> Tensor:
    import torch

    from .resample import DOWNSCALERS
    from .stages import add_noise, blur, resize_down, second_order

    if name == "blur":
        return blur(x, values["sigma"], values["sigma2"], values["theta"])
    if name in DOWNSCALERS:
        return DOWNSCALERS[name](x, scale, quantize=False)
    if name == "resize":
        return resize_down(x, scale, values["mode"])
    if name == "second_order":
        return second_order(x, scale, rng)
    if name == "noise":
        generator = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
        grey = rng.random() < values["grey"]
        return add_noise(x, values["sigma"], kind=values["kind"], grey=grey, generator=generator)
    from ..io.compress import jpeg_roundtrip, video_roundtrip  # PyAV and OpenCV: only protocols that compress
    if name == "jpeg":
        return jpeg_roundtrip(x, quality=values["q"])
    clips = x.reshape(-1, *x.shape[-4:]) if x.dim() >= 4 else x[None, None]
    out = torch.stack([video_roundtrip(clip, name, **values) for clip in clips])
    return out.reshape(x.shape)


def _value(stage: str, key: str, raw: str, param: Param, text: str) -> Value:
    def bad(why: str) -> UsageError:
        return UsageError(f"degradation {text!r}: {stage}:{key}={raw} {why}")

    def number(item: str) -> float | int:
        try:
            value = param.kind(item) if param.kind is int else float(item)
        except ValueError:
            raise bad(f"is not {'a whole number' if param.kind is int else 'a number'}") from None
        if not param.low <= value <= param.high:
            raise bad(f"is outside {param.low:g}..{param.high:g}")
        return value

    if param.kind is str:
        options = raw.split("|")
        unknown = [o for o in options if o not in param.choices]
        if unknown:
            raise bad(f"is not one of {', '.join(param.choices)}")
        return options[0] if len(options) == 1 else ("choice", *options)
    if ".." in raw:
        lo, _, hi = raw.partition("..")
        lo, hi = number(lo), number(hi)
        if lo > hi:
            raise bad("is an empty range")
        return ("range", lo, hi)
    if "|" in raw:
        return ("choice", *(number(item) for item in raw.split("|")))
    return number(raw)


@lru_cache(maxsize=64)
def parse_protocol(text: str) -> Protocol:
    """The protocol written as `text` (see the module docstring); UsageError naming the part that is wrong."""
    if "||" in text:
        chains = tuple(_parse_chain(part) for part in text.split("||"))
        return Protocol(text.strip(), tuple(stage for chain in chains for stage in chain.stages), chains)
    return _parse_chain(text)


def _parse_chain(text: str) -> Protocol:
    if not text.strip():
        raise UsageError("degradation: an empty chain (nothing on one side of `||`)")
    stages, places = [], []
    for part in text.strip().split("+"):
        name, _, args = part.strip().partition(":")
        if name not in STAGES:
            raise UsageError(f"degradation {text!r}: unknown stage {name!r}; stages are {', '.join(STAGES)}")
        place, params = STAGES[name]
        given: dict[str, Value] = {}
        for index, item in enumerate(a for a in args.split(",") if a.strip()) if args else ():
            key, eq, raw = item.strip().partition("=")
            if not eq:  # bare: the first parameter
                if not params:
                    raise UsageError(f"degradation {text!r}: {name} takes no parameters, got {item!r}")
                if index:
                    raise UsageError(f"degradation {text!r}: {name} takes key=value parameters after its first, "
                                     f"got {item!r}")
                key, raw = next(iter(params)), item.strip()
            if key not in params:
                raise UsageError(f"degradation {text!r}: {name} has no parameter {key!r}"
                                 + (f"; it takes {', '.join(params)}" if params else ""))
            given[key] = _value(name, key, raw.strip(), params[key], text)
        stages.append(Stage(name, tuple((k, given.get(k, p.default)) for k, p in params.items())))
        places.append(place)
    if places.count("down") != 1:
        raise UsageError(f"degradation {text!r}: needs exactly one downscale ({', '.join(DOWNSCALE_NAMES)}, "
                         f"resize or second_order)")
    if places != sorted(places, key=PLACES.index):
        raise UsageError(f"degradation {text!r}: blur comes before the downscale; noise, jpeg and codecs after it")
    return Protocol(text.strip(), tuple(stages))
