"""`stvsr upscale`: stream a video through a method, window by window, into a new video.

Frame-count convention for a time factor k: N input frames give (N - 1)·k + 1 frames spanning first to last input
frame, then the last frame is held k - 1 more times, so the output has exactly N·k frames and the same duration
as the input at k times the rate; audio stays in sync.
"""

from __future__ import annotations

import itertools
import shutil
import sys
import time
from contextlib import nullcontext
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
from ..io.outputs import codec_for
from ..io.verify import OutputCheck, verify_output
from ..models import VideoModel
from ..inference import COMPRESSED_VARIANTS, default_method, for_source, output_frames, prepare
from ..models.build import Prepared
from ..models.checkpoint import read_metadata
from ..ops.resize import imresize
from ..runtime import pick_device, resolve_precision
from .options import Resume, UpscaleJob
from .scenes import MIN_SHOT_FRAMES, CutDetector
from .segments import SegmentPlan, finish, fingerprint, open_work, segment_path, work_dir, write_segment


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
    tta: bool
    plan: SegmentPlan
    fps_out: Fraction
    encoder: dict
    audio_from: Path | None
    manifest: dict  # what the work folder was made for (segments.open_work)

    def prepare_model(self, device: torch.device) -> VideoModel:
        return prepare(self.method, scale=self.scale, time_factor=self.time_factor, device=device, order=self.order,
                       tile=self.tile, precision=self.precision, tta=self.tta)

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


def choose_method(job: UpscaleJob, output_pixels: int = 0) -> str:
    """The method spec of `job`: its weights (checked against --model), its named method, or the default of its
    quality level for this output size. The options were validated (UpscaleJob.validate)."""
    options = job.method
    if options.weights is not None:
        if options.model:
            found = read_metadata(options.weights).get("model")
            if found != options.model:
                raise WeightsError(f"{options.weights} holds weights for {found}, not {options.model}")
        return str(options.weights)
    return options.method or default_method(options.scale, options.time_factor, output_pixels, options.quality)


def source_choice(job: UpscaleJob, info: VideoInfo, method: str) -> tuple[str, str | None]:
    """The default `method` adapted to how the input was coded (--source), and a note saying what was chosen and
    why; a method the user named is kept as it is (None: no note)."""
    if job.method.named:
        return method, None
    if job.method.source == "auto":
        assessment = assess_source(info, job.method.scale)
        compressed, why = assessment.compressed, f"input {assessment.kind}: {assessment.reason}"
    else:
        compressed, why = job.method.source == "compressed", f"--source {job.method.source}"
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
    job: UpscaleJob
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

    @property
    def frames_out(self) -> int:
        return self.frames_in * self.job.method.time_factor

    @property
    def context(self) -> int:
        """Input frames read on each side of a part of the clip (a segment, a preview) so that it comes out as in
        one pass: a temporal model's whole window, and enough for the cut detector to see a cut at the part's
        first frame; none for per-frame methods."""
        return max(self.model.window, MIN_SHOT_FRAMES) if self.temporal else 0

    @property
    def temporal(self) -> bool:
        """The model shares windows or makes frames between shots; per-frame methods do neither, so cuts and
        context do not matter to them."""
        return self.model.window > 1 or self.model.time_factor > 1

    @property
    def detects_cuts(self) -> bool:
        return self.job.method.scene_detect and self.temporal


def _input_notes(info: VideoInfo) -> list[str]:
    """What the summary says about an input that is not one plain video stream at a constant rate."""
    notes = []
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
    return notes


def plan_upscale(job: UpscaleJob, device: torch.device | None = None) -> UpscalePlan:
    """Probe the input, validate the job against it, choose the method and build its model (on `device`, default
    the job's); the reader is left open for the caller. Raises before any output is touched."""
    reader = VideoReader(job.input, folder_fps=job.input_fps, info=job.info)
    info = reader.info
    job.validate(info)
    options = job.method
    method = choose_method(job, info.width * info.height * options.scale ** 2)
    method, source_note = source_choice(job, info, method)
    device = device if device is not None else pick_device(options.device)
    model = prepare(method, scale=options.scale, time_factor=options.time_factor, device=device, order=options.order,
                    tile=options.tile, precision=options.precision, tta=options.tta)
    if min(info.width, info.height) < model.min_size:
        raise InputError(f"frames of {info.width}x{info.height} are too small for {method}: it needs at least "
                         f"{model.min_size}x{model.min_size}")
    if options.time_factor > 1 and info.frame_count < 2:
        raise InputError(f"a {info.frame_count}-frame video has nothing to interpolate between: "
                         f"--time-factor {options.time_factor} needs at least 2 frames")
    notes = ([source_note] if source_note else []) + precision_notes(model, options.precision, device)
    notes += _input_notes(info)
    start, stop = preview_span(job, len(reader), info.fps) if job.preview else (0, len(reader))
    if job.preview:
        notes.append(f"preview of input frames {start}-{stop - 1} ({float(start / info.fps):.2f}-"
                     f"{float(stop / info.fps):.2f} s): left half the input (bicubic), right half the output; "
                     f"no audio")
    output = job.destination
    folder = is_folder_output(output)
    if folder and not info.is_folder and info.audio_streams and job.encoder.audio and not job.preview:
        notes.append("audio not kept: a frame folder holds no audio")
    keep_audio = job.encoder.audio and not info.is_folder and not folder and not job.preview
    return UpscalePlan(job=job, reader=reader, info=info, method=method, model=model, device=device, notes=notes,
                       output=output, start=start, stop=stop, fps_out=info.fps * options.time_factor,
                       audio_from=job.input if keep_audio else None)


def segmented_job(job: UpscaleJob, plan: UpscalePlan) -> SegmentedJob:
    """The segments of `plan` (a video file output): their size, context, and the work folder's manifest."""
    k = plan.model.time_factor
    seconds = job.resume.segment_seconds if job.resume is not None else Resume().segment_seconds
    segment = max(1, round(seconds * plan.info.fps))
    segments = SegmentPlan(plan.frames_in, segment, k, plan.context)
    options = job.method
    manifest = {"input": fingerprint(job.input), "frames_in": plan.frames_in, "method": plan.method,
                "scale": options.scale, "time_factor": k, "codec": codec_for(plan.output, job.encoder.codec),
                "crf": job.encoder.crf, "preset": job.encoder.preset, "pix_fmt": job.encoder.pix_fmt,
                "audio": plan.audio_from is not None, "tile": str(options.tile), "precision": options.precision,
                "scene_detect": options.scene_detect, "scene_threshold": options.scene_threshold,
                "segment_frames": segment, "context": segments.context} | ({"tta": True} if options.tta else {})
    return SegmentedJob(input=job.input, output=plan.output, method=plan.method, scale=options.scale,
                        time_factor=k, order=options.order, tile=options.tile, precision=options.precision,
                        input_fps=job.input_fps,
                        scene_threshold=options.scene_threshold if plan.detects_cuts else None, tta=options.tta,
                        plan=segments, fps_out=plan.fps_out, encoder=job.encoder.video,
                        audio_from=plan.audio_from, manifest=manifest)


def preview_span(job: UpscaleJob, frames: int, fps: Fraction) -> tuple[int, int]:
    """Input frames [start, stop) of the preview: its length from its start (default: centred)."""
    preview = job.preview
    length = max(2, round(preview.seconds * fps))
    if preview.start is None:
        start = max(0, (frames - length) // 2)
    else:
        start = round(preview.start * fps)
        if start >= frames:
            raise UsageError(f"--preview-start {preview.start} s is past the end of the video "
                             f"({float(frames / fps):.2f} s)")
    return start, min(frames, start + length)


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


@dataclass
class Outcome:
    """What running a plan produced: the frames written, the self-check, notes, and the cuts found (None: not
    looked for)."""
    frames_out: int
    check: OutputCheck | None
    notes: list[str]
    cuts: list[int] | None


def run_stream(plan: UpscalePlan, advance: Callable[[int], None]) -> Outcome:
    """Stream the frames through the model into the output in one pass (atomically: a temporary, self-checked,
    then renamed)."""
    job = plan.job
    detector = CutDetector(job.method.scene_threshold) if plan.detects_cuts else None

    def self_check(written: Path) -> OutputCheck:  # run on the finished temporary, before it is moved into place
        return verify_output(written, frames=plan.frames_out, fps=plan.fps_out, audio_from=plan.audio_from,
                             shown_as=plan.output)

    with open_writer(plan.output, fps=plan.fps_out, **job.encoder.video, audio_from=plan.audio_from,
                     overwrite=job.overwrite, inputs=(job.input,), check=self_check) as writer:
        first, last = plan.start, plan.stop
        if job.preview:  # the excerpt as the whole run makes it: with a segment's context around it
            first, last = max(0, first - plan.context), min(len(plan.reader), last + plan.context)
        frames = output_frames(plan.model, plan.reader.frames(first, last), device=plan.device, is_cut=detector)
        if (first, last) != (plan.start, plan.stop):
            k = job.method.time_factor
            frames = itertools.islice(frames, (plan.start - first) * k, (plan.stop - first) * k)
        if job.preview:
            frames = side_by_side(plan.reader.frames(plan.start, plan.stop), frames, job.method.scale,
                                  job.method.time_factor)
        for frame in frames:
            writer.write(frame)
            advance(1)
    notes = list(writer.notes)
    stale = work_dir(plan.output)
    if stale.is_dir():  # an interrupted --resume run of this output: its work is obsolete now
        shutil.rmtree(stale, ignore_errors=True)
        notes.append(f"removed {stale.name}, the unfinished work of an earlier --resume run")
    return Outcome(writer.frames_written, writer.check_result, notes,
                   [first + c for c in detector.cuts if plan.start <= first + c < plan.stop]  # input frames
                   if detector is not None else None)


def run_segments(plan: UpscalePlan, advance: Callable[[int], None]) -> Outcome:
    """Upscale in segments kept in a work folder beside the output (see `segments`), continuing an interrupted
    run's; the cuts are those found in the segments this run computed."""
    job = plan.job
    work = segmented_job(job, plan)
    _, notes = open_work(work.output, work.manifest)
    cuts: list[int] | None = [] if work.scene_threshold is not None else None
    for index in range(work.plan.count):
        found = work.compute(index, plan.model, plan.device, advance, reader=plan.reader)
        if cuts is not None:
            cuts.extend(c for c in found if c not in cuts)
    check, joined = work.finish(job.overwrite)
    count = work.plan.count
    notes.append(f"written in {count} segment{'s' if count != 1 else ''} of up to "
                 f"{job.resume.segment_seconds:g} s, joined without re-encoding")
    return Outcome(plan.frames_out, check, notes + joined, sorted(cuts) if cuts is not None else None)


def summarise(plan: UpscalePlan, outcome: Outcome, seconds: float) -> UpscaleSummary:
    info, scale = plan.info, plan.job.method.scale
    output = plan.output
    size = sum(p.stat().st_size for p in output.iterdir()) if output.is_dir() else output.stat().st_size
    return UpscaleSummary(method=plan.method, device=str(plan.device), frames_in=plan.frames_in,
                          frames_out=outcome.frames_out, fps_in=info.fps, fps_out=plan.fps_out,
                          size_in=(info.width, info.height), size_out=(info.width * scale, info.height * scale),
                          seconds=seconds, output=output, output_bytes=size,
                          notes=plan.notes + outcome.notes + _cut_notes(outcome.cuts), check=outcome.check,
                          scene_cuts=outcome.cuts)


def upscale_video(job: UpscaleJob) -> UpscaleSummary:
    """Read `job.input`, upscale it with the chosen method, and write the output atomically: plan, run (one stream,
    or resumable segments), summarise."""
    started = time.perf_counter()
    plan = plan_upscale(job)
    show = not job.quiet and sys.stderr.isatty()
    run = run_segments if job.resume is not None else run_stream
    lock = exclusive(plan.output) if job.resume is not None else nullcontext()
    with plan.reader, lock, tqdm(total=plan.frames_out, unit="frame", disable=not show, dynamic_ncols=True,
                                 leave=False) as bar:
        def advance(n: int) -> None:
            bar.update(n)
            if job.progress is not None:
                job.progress(n)

        outcome = run(plan, advance)
    return summarise(plan, outcome, time.perf_counter() - started)
