"""Joining video segments encoded one after the other (a resumable job writes one per stretch of input) into one
file, without re-encoding, and carrying the source's audio and subtitles into it.

Each segment is a complete file of the same codec and settings whose frames start at time 0; its packets are
copied in order with their timestamps moved by the frames before it (what FFmpeg's concat demuxer does). The
encoder's reordering delay is the same in every segment, so decoding timestamps stay increasing across joins.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from ..errors import InputError, OutputError
from .audio import StreamCopier
from .ffmpeg_log import use_native_ffmpeg_log


def join_segments(segments: list[Path], destination: Path, *, fps: Fraction, audio_from: Path | None = None,
                  subtitles: bool = True) -> list[str]:
    """Write the video of `segments` (in order) and the audio/subtitles of `audio_from` to `destination`.

    Returns notes (what happened to audio and subtitles). Frames are counted in 1/`fps` units: the segments must
    hold constant-rate video at `fps`.
    """
    if not segments:
        raise OutputError(f"no segments to join into {destination}")
    use_native_ffmpeg_log()
    tick = Fraction(1) / Fraction(fps)
    notes: list[str] = []
    try:
        with av.open(str(destination), "w") as output, av.open(str(segments[0])) as first:
            template = first.streams.video[0]
            video = output.add_stream_from_template(template)
            copier = None
            if audio_from is not None:  # added after the video so that the video is stream 0
                copier = StreamCopier(audio_from, output, subtitles=subtitles)
                notes.extend(copier.notes)
            delay = max(_reorder_delay(path, tick) for path in segments)
            offset = 0  # frames written by the segments before this one
            for path in segments:
                offset += _copy_video(path, output, video, offset, delay, tick, copier)
            if copier is not None:
                copier.finish()
    except av.error.FFmpegError as error:
        raise OutputError(f"joining the segments of {destination} failed: {error}") from None
    return notes


def _frames(path: Path, tick: Fraction):
    """The video packets of a segment, in decoding order, with their presentation time in frames from its start."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        base, start = stream.time_base, stream.start_time or 0
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue  # the demuxer's end-of-stream packet
            yield packet, round((packet.pts - start) * base / tick)


def _reorder_delay(path: Path, tick: Fraction) -> int:
    """How many frames decoding runs ahead of presentation (B-frames): the largest i - pts_i in decode order."""
    delay = 0
    for i, (_, frame) in enumerate(_frames(path, tick)):
        delay = max(delay, i - frame)
    return delay


def _copy_video(path: Path, output, video, offset: int, delay: int, tick: Fraction, copier) -> int:
    """Mux the video packets of one segment, shifted by `offset` frames; returns its frame count.

    Decoding timestamps are rebuilt as (decode index - delay): Matroska stores none for reordered frames, and
    one delay for all segments keeps them increasing across the joins and never after their presentation.
    """
    count = 0
    for count, (packet, frame) in enumerate(_frames(path, tick), start=1):
        packet.stream = video
        packet.time_base = tick
        packet.pts, packet.dts, packet.duration = frame + offset, count - 1 - delay + offset, 1
        output.mux(packet)
        if copier is not None:
            copier.advance(float((frame + offset + 1) * tick) + 0.5)
    if count == 0:
        raise InputError(f"segment {path} holds no video")
    return count
