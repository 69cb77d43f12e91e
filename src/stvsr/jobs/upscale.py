"""`stvsr upscale`: stream a video through a method, window by window, into a new video.

Frame-count convention for a time factor k: N input frames give (N - 1)·k + 1 frames spanning first to last input
frame, then the last frame is held k - 1 more times, so the output has exactly N·k frames and the same duration
as the input at k times the rate; audio stays in sync.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import torch
from torch import Tensor
from tqdm import tqdm

from ..errors import InputError, UsageError, WeightsError
from ..io import VideoInfo, VideoReader, is_folder_output, open_writer
from ..io.claims import exclusive
from ..io.compression import assess_source
from ..io.outputs import check_destination, check_encoder_options, codec_for
from ..io.probe import DEFAULT_MAX_PIXELS, check_pixel_budget
from ..io.verify import OutputCheck, verify_output
from ..models import VideoModel
from ..inference import (COMPRESSED_VARIANTS, DEFAULT_SOURCE, SOURCES, default_method, for_source, output_frames,
                        prepare)
from ..models.build import Prepared
from ..models.checkpoint import read_metadata
from ..ops.resize import imresize
from ..runtime import pick_device, resolve_precision
from .scenes import DEFAULT_THRESHOLD, MIN_SHOT_FRAMES, CutDetector
from .segments import (DEFAULT_SEGMENT_SECONDS, SegmentPlan, finish, fingerprint, open_work, segment_path, work_dir,
                       write_segment)


@dataclass
class UpscaleConfig:
    input: Path
    output: Path
    scale: int = 2
    time_factor: int = 1
    method: str | None = None
    quality: str | None = None  # a level of inference.QUALITY_LEVELS when no method is named; None: the default
    source: str = DEFAULT_SOURCE  # inference.SOURCES: which model the default takes for this input's coding
    order: str | None = None
    model: str | None = None
    weights: Path | None = None
    tile: str | int = "auto"
    precision: str = "auto"  # learned models: bf16 where the device computes it natively, else fp32
    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    audio: bool = True
    overwrite: bool = False
    device: str = "auto"
    quiet: bool = False
    input_fps: Fraction | None = None  # for frame folders, which carry no rate
    scene_detect: bool = True  # restart windows and never interpolate at shot cuts
    scene_threshold: float = DEFAULT_THRESHOLD
    preview: bool = False  # a short split-screen excerpt to OUT.preview.EXT instead of the whole video
    preview_start: float | None = None  # seconds; None: centred
    preview_seconds: float = 3.0
    resume: bool = False  # write in segments kept in a work folder, and continue an interrupted run
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS
    progress: Callable[[int], None] | None = None  # told each n output frames written (e.g. a batch's bar)
    info: VideoInfo | None = None  # the input's probe, when the caller has made it already
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger input frames are refused (decompression bombs)


@dataclass
class UpscaleSummary:
    method: str
    device: str
    frames_in: int
    frames_out: int
    fps_in: Fraction
    fps_out: Fraction
    size_in: tuple[int, int]
    size_out: tuple[int, int]
    seconds: float
    output: Path
    output_bytes: int
    notes: list[str] = field(default_factory=list)
    check: OutputCheck | None = None  # the self-check of the written output (io.verify)
    scene_cuts: list[int] | None = None  # input frames that start a new shot (None: not looked for)

    def as_dict(self) -> dict:
        return {"output": str(self.output), "method": self.method, "device": self.device,
                "frames": [self.frames_in, self.frames_out], "fps": [str(self.fps_in), str(self.fps_out)],
                "size": [list(self.size_in), list(self.size_out)], "seconds": round(self.seconds, 3),
                "output_bytes": self.output_bytes, "scene_cuts": self.scene_cuts, "notes": self.notes,
                "self_check": self.check.as_dict() if self.check is not None else None}


def _cut_notes(cuts: list[int] | None) -> list[str]:
    if not cuts:
        return []
    shown = ", ".join(str(c) for c in cuts[:8]) + (", ..." if len(cuts) > 8 else "")
    return [f"{len(cuts)} scene cut{'s' if len(cuts) > 1 else ''} (before input frames {shown}): no frame "
            f"interpolated and no window shared across them"]


@dataclass
class SegmentedJob:
    """One video as segments kept in a work folder beside its output (see `segments`): what `--resume` runs in one
    process and the Ray engine spreads over workers. Picklable: paths, numbers and options; no model, no open file."""
    input: Path
    output: Path
    method: str
    scale: int
    time_factor: int
    order: str | None
    tile: str | int
    precision: str
    input_fps: Fraction | None
    scene_threshold: float | None  # None: no cut detection (a per-frame method, or --no-scene-detect)
    plan: SegmentPlan
    fps_out: Fraction
    encoder: dict
    audio_from: Path | None
    manifest: dict  # what the work folder was made for (segments.open_work)

    def prepare_model(self, device: torch.device) -> VideoModel:
        return prepare(self.method, scale=self.scale, time_factor=self.time_factor, device=device, order=self.order,
                       tile=self.tile, precision=self.precision)

    def compute(self, index: int, model: VideoModel, device: torch.device, progress: Callable[[int], None],
                reader: VideoReader | None = None) -> list[int]:
        """Write segment `index` unless it exists; returns the cuts found in its frames (input frame indices)."""
        own = reader is None
        reader = VideoReader(self.input, folder_fps=self.input_fps) if own else reader
        cuts: list[int] = []

        def outputs_of(first: int, last: int) -> Iterator[Tensor]:
            detector = CutDetector(self.scene_threshold) if self.scene_threshold is not None else None
            yield from output_frames(model, reader.frames(first, last), device=device, is_cut=detector)
            if detector is not None:
                cuts.extend(first + c for c in detector.cuts)

        try:
            write_segment(self.plan, work_dir(self.output), index, suffix=self.output.suffix, fps=self.fps_out,
                          outputs_of=outputs_of, encoder=self.encoder, progress=progress)
        finally:
            if own:
                reader.__exit__(None, None, None)
        return cuts

    def finish(self, overwrite: bool) -> tuple[OutputCheck, list[str]]:
        """Join the segments (all written), add the audio, self-check, move into place, drop the work folder."""
        files = [segment_path(work_dir(self.output), i, self.output.suffix) for i in range(self.plan.count)]
        return finish(files, self.output, fps=self.fps_out, frames=self.plan.frames_in * self.time_factor,
                      audio_from=self.audio_from, overwrite=overwrite)


def segmented_job(config: UpscaleConfig, plan: UpscalePlan) -> SegmentedJob:
    """The segments of `plan` (a video file output): their size, context, and the work folder's manifest."""
    if is_folder_output(plan.output):
        raise UsageError("--resume writes a video file: give OUT a video extension (.mp4, .mkv, ...)")
    model, k = plan.model, plan.model.time_factor
    # Per-frame methods neither share windows nor make frames between shots: cuts do not matter to them.
    temporal = model.window > 1 or model.time_factor > 1
    segment = max(1, round(config.segment_seconds * plan.info.fps))
    # Context: a temporal model's whole window on each side, and enough frames for the cut detector to
    # report a cut at a segment's first frame.
    segments = SegmentPlan(plan.frames_in, segment, k, max(model.window, MIN_SHOT_FRAMES) if temporal else 0)
    manifest = {"input": fingerprint(config.input), "frames_in": plan.frames_in, "method": plan.method,
                "scale": config.scale, "time_factor": k, "codec": codec_for(plan.output, config.codec),
                "crf": config.crf, "preset": config.preset, "pix_fmt": config.pix_fmt,
                "audio": plan.audio_from is not None, "tile": str(config.tile), "precision": config.precision,
                "scene_detect": config.scene_detect, "scene_threshold": config.scene_threshold,
                "segment_frames": segment, "context": segments.context}
    return SegmentedJob(input=config.input, output=plan.output, method=plan.method, scale=config.scale,
                        time_factor=k, order=config.order, tile=config.tile, precision=config.precision,
                        input_fps=config.input_fps,
                        scene_threshold=config.scene_threshold if config.scene_detect and temporal else None,
                        plan=segments, fps_out=plan.fps_out,
                        encoder={"codec": config.codec, "crf": config.crf, "preset": config.preset,
                                 "pix_fmt": config.pix_fmt},
                        audio_from=plan.audio_from, manifest=manifest)


def _resumable(config: UpscaleConfig, plan: UpscalePlan, progress) -> tuple[OutputCheck, list[int] | None, list[str]]:
    """Upscale in segments kept in a work folder beside the output (see `segments`); returns the self-check,
    the scene cuts found in the segments computed by this run, and notes."""
    job = segmented_job(config, plan)
    _, notes = open_work(job.output, job.manifest)
    cuts: list[int] | None = [] if job.scene_threshold is not None else None
    for index in range(job.plan.count):
        found = job.compute(index, plan.model, plan.device, progress, reader=plan.reader)
        if cuts is not None:
            cuts.extend(c for c in found if c not in cuts)
    check, joined = job.finish(config.overwrite)
    notes.append(f"written in {job.plan.count} segment{'s' if job.plan.count != 1 else ''} of up to "
                 f"{config.segment_seconds:g} s, joined without re-encoding")
    return check, (sorted(cuts) if cuts is not None else None), notes + joined


def preview_span(config: UpscaleConfig, frames: int, fps: Fraction) -> tuple[int, int]:
    """Input frames [start, stop) of the preview: `preview_seconds` from `preview_start` (default: centred)."""
    length = max(2, round(config.preview_seconds * fps))
    if config.preview_start is None:
        start = max(0, (frames - length) // 2)
    else:
        start = round(config.preview_start * fps)
        if start >= frames:
            raise UsageError(f"--preview-start {config.preview_start} s is past the end of the video "
                             f"({float(frames / fps):.2f} s)")
    return start, min(frames, start + length)


def preview_path(output: Path) -> Path:
    """out.mp4 -> out.preview.mp4 (a folder: out.preview): the real output's name stays free."""
    return output.with_name(f"{output.stem}.preview{output.suffix}")


def side_by_side(inputs: Iterable[Tensor], outputs: Iterable[Tensor], scale: int, time_factor: int
                 ) -> Iterator[Tensor]:
    """Split-screen comparison: the left half of each frame from the input resized by bicubic, the right half from
    the output, a light line between them. Each input frame stands for the k output frames it starts."""
    outputs = iter(outputs)
    for frame in inputs:
        resized = imresize(frame[None], scale)[0].clamp(0, 1) if scale != 1 else frame
        for _ in range(time_factor):
            out = next(outputs).clone()
            resized = resized.to(out.device)  # the model's output may still be on its device
            half = out.shape[-1] // 2
            out[:, :, :half] = resized[:, :, :half]
            out[:, :, max(half - 1, 0):half + 1] = 0.9
            yield out


def choose_method(config: UpscaleConfig, output_pixels: int = 0) -> str:
    """The method spec for `config`: --weights (checked against --model), --method, or the default."""
    if config.quality is not None and (config.method or config.weights is not None):
        raise UsageError("--quality picks the method: give --quality or --method/--weights, not both")
    if config.weights is not None:
        if config.method:
            raise UsageError("give --method or --weights, not both")
        if config.model:
            found = read_metadata(config.weights).get("model")
            if found != config.model:
                raise WeightsError(f"{config.weights} holds weights for {found}, not {config.model}")
        return str(config.weights)
    if config.model:
        raise UsageError(f"--model {config.model} needs --weights FILE "
                         f"(`stvsr models --init {config.model} --out FILE` writes freshly initialised ones)")
    return config.method or default_method(config.scale, config.time_factor, output_pixels, config.quality)


def source_choice(config: UpscaleConfig, info: VideoInfo, method: str) -> tuple[str, str | None]:
    """The default `method` adapted to how the input was coded (--source), and a note saying what was chosen and
    why; a method the user named is kept as it is (None: no note)."""
    if config.source not in SOURCES:
        raise UsageError(f"--source must be one of {', '.join(SOURCES)}, not {config.source!r}")
    if config.method or config.weights is not None:
        return method, None
    if config.source == "auto":
        assessment = assess_source(info)
        compressed, why = assessment.compressed, f"input {assessment.kind}: {assessment.reason}"
    else:
        compressed, why = config.source == "compressed", f"--source {config.source}"
    chosen = for_source(method, compressed)
    if chosen != method:
        return chosen, f"model {chosen}, made for compressed input ({why}; --source clean keeps {method})"
    missing = [COMPRESSED_VARIANTS[part] for part in method.split("+") if part in COMPRESSED_VARIANTS]
    if compressed and missing:
        return chosen, f"model {chosen} ({why}; its compressed-input variant {missing[0]} is not installed)"
    return chosen, f"model {chosen} ({why})"


def precision_notes(model: VideoModel, precision: str, device: torch.device) -> list[str]:
    """One rule for --precision (see `runtime.resolve_precision`): it applies to learned models; 'auto' takes bf16
    where the device computes it natively; fp16 needs CUDA and bf16 native support, for every method."""
    resolved = resolve_precision(precision, device)
    learned = any(isinstance(m, Prepared) for m in model.modules())
    if not learned:
        return [] if precision in ("auto", "fp32") else \
            [f"--precision {precision} applies to learned models; this method is classical and ran in fp32"]
    if resolved != "fp32" and precision == "auto":
        return [f"learned model ran in {resolved} (native on this {device.type}; --precision fp32 gives the "
                f"reference output)"]
    return []


@dataclass
class UpscalePlan:
    """What `upscale_video` settled before computing a frame: the open reader, the method and its model, the frames
    to write, and notes for the summary."""
    reader: VideoReader
    info: VideoInfo
    method: str
    model: VideoModel
    device: torch.device
    notes: list[str]
    output: Path
    start: int
    stop: int
    fps_out: Fraction
    audio_from: Path | None

    @property
    def frames_in(self) -> int:
        return self.stop - self.start


def plan_upscale(config: UpscaleConfig, device: torch.device | None = None) -> UpscalePlan:
    """Probe the input, check every option against it, choose the method and build its model (on `device`,
    default `config.device`); the reader is left open for the caller. Raises before any output is touched."""
    reader = VideoReader(config.input, folder_fps=config.input_fps, info=config.info)
    info = reader.info
    check_pixel_budget(info, config.max_pixels)
    check_encoder_options(config.output, codec=config.codec, crf=config.crf, preset=config.preset,
                          pix_fmt=config.pix_fmt)
    method = choose_method(config, info.width * info.height * config.scale ** 2)
    method, source_note = source_choice(config, info, method)
    device = device if device is not None else pick_device(config.device)
    model = prepare(method, scale=config.scale, time_factor=config.time_factor, device=device, order=config.order,
                    tile=config.tile, precision=config.precision)
    notes = ([source_note] if source_note else []) + precision_notes(model, config.precision, device)
    output = preview_path(config.output) if config.preview else config.output
    check_destination(output, inputs=(config.input,), overwrite=config.overwrite)
    if min(info.width, info.height) < model.min_size:
        raise InputError(f"frames of {info.width}x{info.height} are too small for {method}: it needs at least "
                         f"{model.min_size}x{model.min_size}")
    if config.time_factor > 1 and info.frame_count < 2:
        raise InputError(f"a {info.frame_count}-frame video has nothing to interpolate between: "
                         f"--time-factor {config.time_factor} needs at least 2 frames")
    videos = [s for s in info.streams if s.kind == "video"]
    if len(videos) > 1:
        notes.append(f"input has {len(videos)} video streams: only the first (#{videos[0].index}) is upscaled; "
                     f"{', '.join(f'#{s.index}' for s in videos[1:])} not copied")
    if info.vfr:
        notes.append(f"input has a variable frame rate ({1 / info.frame_interval[1]:.2f} to "
                     f"{1 / info.frame_interval[0]:.2f} fps); converted to a constant {info.fps} fps "
                     f"by repeating or dropping frames (nearest in time)")
    if info.rotation:
        notes.append(f"input rotation metadata applied ({info.rotation} degrees): output frames are upright")
    start, stop = preview_span(config, len(reader), info.fps) if config.preview else (0, len(reader))
    if config.preview:
        notes.append(f"preview of input frames {start}-{stop - 1} ({float(start / info.fps):.2f}-"
                     f"{float(stop / info.fps):.2f} s): left half the input (bicubic), right half the output; "
                     f"no audio")
    fps_out = info.fps * config.time_factor
    folder = is_folder_output(output)
    if folder and not info.is_folder and info.audio_streams and config.audio and not config.preview:
        notes.append("audio not kept: a frame folder holds no audio")
    audio_from = config.input if (config.audio and not info.is_folder and not folder and not config.preview) \
        else None
    return UpscalePlan(reader=reader, info=info, method=method, model=model, device=device, notes=notes,
                       output=output, start=start, stop=stop, fps_out=fps_out, audio_from=audio_from)


def upscale_video(config: UpscaleConfig) -> UpscaleSummary:
    """Read `config.input`, upscale it with the chosen method, and write `config.output` atomically."""
    if config.scale < 1 or config.time_factor < 1:
        raise UsageError("--scale and --time-factor must be positive integers")
    started = time.perf_counter()
    plan = plan_upscale(config)
    reader, info, method, model, device, notes, output = (plan.reader, plan.info, plan.method, plan.model,
                                                          plan.device, plan.notes, plan.output)
    start, stop, frames_in, fps_out, audio_from = plan.start, plan.stop, plan.frames_in, plan.fps_out, plan.audio_from
    folder = is_folder_output(output)
    size_out = (info.width * config.scale, info.height * config.scale)

    total = frames_in * config.time_factor
    show = not config.quiet and sys.stderr.isatty()

    def self_check(written: Path) -> OutputCheck:  # run on the finished temporary, before it is moved into place
        return verify_output(written, frames=total, fps=fps_out, audio_from=audio_from, shown_as=output)

    # Per-frame methods neither share windows nor make frames between shots: cuts do not matter to them.
    temporal = model.window > 1 or model.time_factor > 1
    detector = CutDetector(config.scene_threshold) if config.scene_detect and temporal else None
    if config.resume:
        with reader, exclusive(output), tqdm(total=total, unit="frame", disable=not show, dynamic_ncols=True, leave=False) as bar:
            def advance(n: int) -> None:
                bar.update(n)
                if config.progress is not None:
                    config.progress(n)

            check, cuts, more = _resumable(config, plan, advance)
        notes.extend(more)
        notes.extend(_cut_notes(cuts))
        return UpscaleSummary(method=method, device=str(device), frames_in=frames_in, frames_out=total,
                              fps_in=info.fps, fps_out=fps_out, size_in=(info.width, info.height), size_out=size_out,
                              seconds=time.perf_counter() - started, output=output,
                              output_bytes=output.stat().st_size, notes=notes, check=check, scene_cuts=cuts)
    with reader, open_writer(output, fps=fps_out, codec=config.codec, crf=config.crf, preset=config.preset,
                             pix_fmt=config.pix_fmt, audio_from=audio_from, overwrite=config.overwrite,
                             inputs=(config.input,), check=self_check) as writer, \
            tqdm(total=total, unit="frame", disable=not show, dynamic_ncols=True, leave=False) as bar:
        frames = output_frames(model, reader.frames(start, stop), device=device, is_cut=detector)
        if config.preview:
            frames = side_by_side(reader.frames(start, stop), frames, config.scale, config.time_factor)
        for frame in frames:
            writer.write(frame)
            bar.update(1)
            if config.progress is not None:
                config.progress(1)
        frames_out = writer.frames_written
    notes.extend(writer.notes)
    notes.extend(_cut_notes(detector.cuts if detector is not None else None))
    stale = work_dir(output)
    if stale.is_dir():  # an interrupted --resume run of this output: its work is obsolete now
        shutil.rmtree(stale, ignore_errors=True)
        notes.append(f"removed {stale.name}, the unfinished work of an earlier --resume run")
    output_bytes = sum(p.stat().st_size for p in output.iterdir()) if folder else output.stat().st_size
    return UpscaleSummary(method=method, device=str(device), frames_in=frames_in, frames_out=frames_out,
                          fps_in=info.fps, fps_out=fps_out, size_in=(info.width, info.height), size_out=size_out,
                          seconds=time.perf_counter() - started, output=output, output_bytes=output_bytes,
                          notes=notes, check=writer.check_result,
                          scene_cuts=list(detector.cuts) if detector is not None else None)
