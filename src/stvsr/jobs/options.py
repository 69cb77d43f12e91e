"""The upscale job as data: what to compute (`MethodOptions`), how to encode it (`EncoderOptions`), and the optional
`Preview` and `Resume` modes, gathered in `UpscaleJob`. `UpscaleJob.from_args` reads them from the command line once
(`upscale` and `batch` share it) and `UpscaleJob.validate` checks them once, before torch loads; the planner and the
writers downstream trust what it passed. Importing this module imports neither torch nor the models.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from ..errors import UsageError
from ..io.outputs import check_destination, check_encoder_options, is_folder_output
from ..io.probe import DEFAULT_MAX_PIXELS, VideoInfo, check_pixel_budget
from ..runtime import DEFAULT_SOURCE, PRECISIONS, QUALITY_LEVELS, SOURCES
from .scenes import DEFAULT_THRESHOLD
from .segments import DEFAULT_SEGMENT_SECONDS


def _given(args: argparse.Namespace, names: tuple[str, ...], prefix: str = "") -> dict:
    """The options among `names` given on the command line. The parser's defaults are None, so that every default
    is written once, here, on the dataclasses."""
    return {name: getattr(args, prefix + name) for name in names if getattr(args, prefix + name, None) is not None}


@dataclass(frozen=True)
class MethodOptions:
    """What is computed: the factors, the method (named, a weights file, or the default of a quality level for the
    input's source), and how the network runs."""
    scale: int = 2
    time_factor: int = 1
    method: str | None = None
    quality: str | None = None  # a level of runtime.QUALITY_LEVELS when no method is named; None: the default
    source: str = DEFAULT_SOURCE  # runtime.SOURCES: which model the default takes for this input's coding
    order: str | None = None
    model: str | None = None
    weights: Path | None = None
    tile: str | int = "auto"
    precision: str = "auto"  # learned models: bf16 where the device computes it natively, else fp32
    tta: bool = False  # learned models: average over the eight flips and transposes (8x the network's time)
    device: str = "auto"
    scene_detect: bool = True  # restart windows and never interpolate at shot cuts
    scene_threshold: float = DEFAULT_THRESHOLD

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> MethodOptions:
        given = _given(args, ("scale", "time_factor", "method", "quality", "source", "order", "model", "tile",
                              "precision", "device", "scene_threshold"))
        return cls(**given, weights=Path(args.weights) if args.weights else None,
                   tta=bool(getattr(args, "tta", False)), scene_detect=not args.no_scene_detect)

    def validate(self) -> None:
        if self.scale < 1 or self.time_factor < 1:
            raise UsageError("--scale and --time-factor must be positive integers")
        if self.quality is not None and self.quality not in QUALITY_LEVELS:
            raise UsageError(f"--quality must be one of {', '.join(QUALITY_LEVELS)}, not {self.quality!r}")
        if self.source not in SOURCES:
            raise UsageError(f"--source must be one of {', '.join(SOURCES)}, not {self.source!r}")
        if self.precision not in PRECISIONS:
            raise UsageError(f"--precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.quality is not None and (self.method or self.weights is not None):
            raise UsageError("--quality picks the method: give --quality or --method/--weights, not both")
        if self.weights is not None:
            if self.method:
                raise UsageError("give --method or --weights, not both")
            if self.weights.suffix != ".safetensors":
                raise UsageError(f"--weights must be a .safetensors file (stvsr's weights format), not {self.weights}")
        elif self.model:
            raise UsageError(_model_without_weights(self.model))
        if self.precision == "fp16" and self.device == "cpu":
            raise UsageError("--precision fp16 needs a CUDA device; on cpu use bf16 (where native) or fp32")

    @property
    def named(self) -> bool:
        """The user named the method (or its weights): the default's choices (quality, source) do not apply."""
        return bool(self.method) or self.weights is not None


def _model_without_weights(model: str) -> str:
    """--model names an architecture for --weights; users often give it a shipped model's name instead."""
    from .. import catalogue

    if any(row["name"] == model for row in catalogue.shipped_weights()):
        return f"--model takes an architecture for --weights FILE; to run the shipped {model}, use --method {model}"
    if not catalogue.models(model):
        return f"unknown architecture for --model: {model!r} (`stvsr models` lists them)"
    return (f"--model {model} needs --weights FILE "
            f"(`stvsr models --init {model} --out FILE` writes freshly initialised ones)")


@dataclass(frozen=True)
class EncoderOptions:
    """How the output video is encoded (None: the codec's default for the container), and whether the input's
    audio and subtitles are copied."""
    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    audio: bool = True

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> EncoderOptions:
        return cls(**_given(args, ("codec", "crf", "preset", "pix_fmt")), audio=not args.no_audio)

    def validate(self, output: Path) -> None:
        check_encoder_options(output, codec=self.codec, crf=self.crf, preset=self.preset, pix_fmt=self.pix_fmt)

    @property
    def video(self) -> dict:
        """The video encoder's keyword arguments (io.open_writer, segments.write_segment)."""
        return {"codec": self.codec, "crf": self.crf, "preset": self.preset, "pix_fmt": self.pix_fmt}


@dataclass(frozen=True)
class Preview:
    """A short split-screen excerpt (left: the input by bicubic, right: the output) instead of the whole video."""
    start: float | None = None  # seconds; None: centred
    seconds: float = 3.0


@dataclass(frozen=True)
class Resume:
    """Write in segments kept in a work folder beside the output, and continue an interrupted run."""
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS


@dataclass
class UpscaleJob:
    """One video to upscale: the input, the output and the options, checked by `validate`."""
    input: Path
    output: Path
    method: MethodOptions = field(default_factory=MethodOptions)
    encoder: EncoderOptions = field(default_factory=EncoderOptions)
    preview: Preview | None = None
    resume: Resume | None = None
    overwrite: bool = False
    quiet: bool = False
    input_fps: Fraction | None = None  # for frame folders, which carry no rate
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger input frames are refused (decompression bombs)
    info: VideoInfo | None = None  # the input's probe, when the caller has made it already
    progress: Callable[[int], None] | None = None  # told each n output frames written (e.g. a batch's bar)

    @classmethod
    def from_args(cls, args: argparse.Namespace, *, input: Path | None = None, output: Path | None = None
                  ) -> UpscaleJob:
        """The job of `stvsr upscale` or (a template, without input and output) of `stvsr batch`."""
        upscale = hasattr(args, "preview")  # batch always resumes and has no preview
        preview = Preview(**_given(args, ("start", "seconds"), prefix="preview_")) \
            if upscale and args.preview else None
        resume = Resume(**_given(args, ("segment_seconds",))) if not upscale or args.resume else None
        return cls(input=input if input is not None else Path(args.input),
                   output=output if output is not None else Path(args.output),
                   method=MethodOptions.from_args(args), encoder=EncoderOptions.from_args(args), preview=preview,
                   resume=resume, overwrite=args.overwrite, quiet=args.quiet, input_fps=args.input_fps,
                   max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS)

    @property
    def destination(self) -> Path:
        """The file written: the output, or its `.preview` sibling (out.mp4 -> out.preview.mp4)."""
        out = self.output
        return out.with_name(f"{out.stem}.preview{out.suffix}") if self.preview is not None else out

    def for_file(self, input: Path, output: Path, **changes) -> UpscaleJob:
        """This job's options on another file (a batch's template applied to one of its videos)."""
        return replace(self, input=input, output=output, info=None, **changes)

    def validate(self, info: VideoInfo | None = None) -> None:
        """Every check that needs no model: the options, their combinations, the input's frame budget (given its
        probe) and the destination. Raises a one-line UsageError/InputError/OutputError."""
        self.method.validate()
        if self.preview is not None and self.resume is not None:
            raise UsageError("--preview and --resume do not go together")
        if self.preview is not None and is_folder_output(self.output):
            raise UsageError("--preview writes a video: give OUT a video extension (.mp4, .mkv, ...)")
        if self.resume is not None and is_folder_output(self.output):
            raise UsageError("--resume writes a video file: give OUT a video extension (.mp4, .mkv, ...)")
        self.encoder.validate(self.output)
        info = info if info is not None else self.info
        if info is not None:
            check_pixel_budget(info, self.max_pixels)
        check_destination(self.destination, inputs=(self.input,), overwrite=self.overwrite)

    def record(self) -> dict:
        """The options that change what is written (not how fast, or what is printed), by their command-line names:
        a batch's job record and a resumed run's manifest compare them."""
        options = asdict(self.method) | self.encoder.video | {"audio": self.encoder.audio, "input_fps": self.input_fps}
        del options["device"]
        if not options["tta"]:
            del options["tta"]  # records made before the option existed stay valid
        return {k: str(v) if isinstance(v, (Path, Fraction)) else v for k, v in options.items()}
