"""The self-check of every output: the written file is probed and compared with what was promised (frame count,
exact frame rate, duration, audio length and start against the video, streams) before it is moved into place.

A mismatch is an error: the file never reaches its destination. Tolerances: frames and rate exact; video duration
within half an output frame; audio length and start within 25 ms of the source's (an AAC frame is 21 ms, and
re-encoding adds its priming), which is below the 45 ms at which viewers notice lip-sync errors (ITU-R BT.1359).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

from ..errors import InputError, OutputError
from .probe import list_frame_files, open_container, probe

AUDIO_TOLERANCE_S = 0.025


@dataclass
class AudioCheck:
    source_duration: float
    output_duration: float
    source_offset_ms: float  # audio start minus video start
    output_offset_ms: float

    @property
    def drift_ms(self) -> float:
        """How far the output's audio moved against its video, compared with the source (start and end)."""
        start = self.output_offset_ms - self.source_offset_ms
        end = start + 1000 * (self.output_duration - self.source_duration)
        return max(start, end, key=abs)


@dataclass
class OutputCheck:
    path: str
    frames: tuple[int, int]  # promised, found
    fps: tuple[str, str]
    duration: tuple[float, float]
    streams: list[str] = field(default_factory=list)
    audio: AudioCheck | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        if self.audio is not None:
            data["audio"]["drift_ms"] = round(self.audio.drift_ms, 2)
        return data

    def summary(self) -> str:
        text = f"{self.frames[1]} frames at {self.fps[1]} fps, {self.duration[1]:.3f} s"
        if self.audio is not None:
            text += f", audio drift {self.audio.drift_ms:+.1f} ms"
        return text + (" - OK" if self.ok else " - " + "; ".join(self.problems))


def _audio_offset(path: Path) -> tuple[float, float] | None:
    """(seconds of the first audio stream, its start minus the first video frame's time) from packets."""
    with open_container(path) as container:
        if not container.streams.audio:
            return None
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0]
        first_video, start, end = None, None, None
        for packet in container.demux(*([audio] + ([video] if video is not None else []))):
            if packet.pts is None:
                continue
            time = packet.pts * packet.time_base
            if packet.stream is video:
                first_video = time if first_video is None else min(first_video, time)
                continue
            finish = time + (packet.duration or 0) * packet.time_base
            start = time if start is None else min(start, time)
            end = finish if end is None else max(end, finish)
        if start is None:
            return None
        return float(end - start), float(start - (first_video or 0))


def verify_output(path: Path, *, frames: int, fps: Fraction, audio_from: Path | None, shown_as: Path) -> OutputCheck:
    """Probe `path` (a finished temporary, or a frame folder) and compare it with the promise; `shown_as` is the
    name reported (the destination). Raises OutputError listing every mismatch."""
    path = Path(path)
    if path.is_dir():
        found = len(list_frame_files(path))
        check = OutputCheck(str(shown_as), (frames, found), (str(fps), str(fps)),
                            (round(float(frames / fps), 6), round(float(found / fps), 6)),
                            streams=["frames png"])
        if found != frames:
            check.problems.append(f"{found} frames written, {frames} promised")
        return _raise_if_bad(check)
    try:
        info = probe(path)
    except InputError as error:
        raise OutputError(f"output failed its self-check: it cannot be read back ({error})") from None
    promised = float(frames / fps)
    check = OutputCheck(str(shown_as), (frames, info.frame_count), (str(fps), str(info.fps)),
                        (round(promised, 6), round(info.duration, 6)),
                        streams=[f"{s.kind} {s.codec}" for s in info.streams])
    if info.frame_count != frames:
        check.problems.append(f"{info.frame_count} frames written, {frames} promised")
    if info.fps != fps:
        check.problems.append(f"frame rate {info.fps}, {fps} promised")
    if abs(info.duration - promised) > 0.5 / float(fps):
        check.problems.append(f"duration {info.duration:.3f} s, {promised:.3f} s promised")
    source = _audio_offset(audio_from) if audio_from is not None else None
    if source is not None:
        output = _audio_offset(path)
        if output is None:
            check.problems.append("the source's audio is missing")
        else:
            check.audio = AudioCheck(source[0], output[0], 1000 * source[1], 1000 * output[1])
            if abs(check.audio.drift_ms) > 1000 * AUDIO_TOLERANCE_S:
                check.problems.append(f"audio drifts {check.audio.drift_ms:+.1f} ms against the video")
    return _raise_if_bad(check)


class SelfCheckError(OutputError):
    """The written output is not what was promised (exit 4); `check` holds what was found."""

    def __init__(self, check: OutputCheck):
        super().__init__(f"output failed its self-check ({'; '.join(check.problems)}); nothing was written to "
                         f"{check.path}")
        self.check = check


def _raise_if_bad(check: OutputCheck) -> OutputCheck:
    if check.problems:
        raise SelfCheckError(check)
    return check
