"""Carrying a source's audio and subtitle streams into an output, interleaved with the video as it is written.

Packets are copied as they are when the output container accepts their codec; audio it refuses is re-encoded
(AAC, or Opus for WebM); subtitles it refuses are dropped with a note. The source is demuxed lazily, a little
ahead of the video, so memory stays flat however long the film.
"""

from __future__ import annotations

from pathlib import Path

import av

from .probe import open_container


class StreamCopier:
    def __init__(self, source: Path, output: av.container.OutputContainer, *, audio: bool = True,
                 subtitles: bool = True):
        self.notes: list[str] = []
        self._output = output
        self._container = open_container(source)
        video = self._container.streams.video[0] if self._container.streams.video else None
        # The output video starts at 0; keep every other stream where it was relative to the source video.
        self._start = float(video.start_time * video.time_base) if video and video.start_time is not None else 0.0
        self._routes: dict[int, tuple] = {}
        wanted = []
        for stream in self._container.streams:
            if stream.type == "audio" and audio:
                route = self._route_audio(stream)
            elif stream.type == "subtitle" and subtitles:
                route = self._route_subtitle(stream)
            else:
                continue
            if route is not None:
                self._routes[stream.index] = route
                wanted.append(stream)
        self._packets = self._container.demux(*wanted) if wanted else iter(())
        self._pending = None
        self._finished = not wanted

    @property
    def active(self) -> bool:
        return bool(self._routes)

    def _route_audio(self, stream):
        name = stream.codec_context.name
        if name in self._output.supported_codecs:
            self.notes.append(f"audio stream {stream.index} ({name}) copied")
            return ("copy", self._output.add_stream_from_template(stream))
        codec = "libopus" if "libopus" in self._output.supported_codecs and "aac" not in self._output.supported_codecs \
            else "aac"
        rate = stream.codec_context.sample_rate or 48000
        if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
            rate = 48000
        out = self._output.add_stream(codec, rate=rate)
        out.layout = stream.codec_context.layout.name if stream.codec_context.layout else "stereo"
        resampler = av.AudioResampler(format=out.codec_context.format.name if out.codec_context.format else "fltp",
                                      layout=out.layout, rate=rate)
        self.notes.append(f"audio stream {stream.index} ({name}) re-encoded to {codec}: the container refuses {name}")
        return ("encode", out, resampler)

    def _route_subtitle(self, stream):
        name = stream.codec_context.name
        if name in self._output.supported_codecs:
            self.notes.append(f"subtitle stream {stream.index} ({name}) copied")
            return ("copy", self._output.add_stream_from_template(stream))
        self.notes.append(f"subtitle stream {stream.index} ({name}) dropped: the container refuses it")
        return None

    def advance(self, until: float | None) -> None:
        """Mux source packets whose time (relative to the video start) is before `until` seconds; None: all."""
        while not self._finished:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None:
                self._finished = True
                break
            if packet.dts is None and packet.pts is None:
                continue  # the demuxer's flush packet
            time = float((packet.pts if packet.pts is not None else packet.dts) * packet.time_base) - self._start
            if until is not None and time >= until:
                self._pending = packet
                return
            self._mux(packet)

    def _mux(self, packet) -> None:
        route = self._routes[packet.stream.index]
        shift = round(self._start / packet.time_base) if self._start else 0
        if route[0] == "copy":
            if shift:
                packet.pts = packet.pts - shift if packet.pts is not None else None
                packet.dts = packet.dts - shift if packet.dts is not None else None
            packet.stream = route[1]
            self._output.mux(packet)
            return
        _, out, resampler = route
        for frame in packet.decode():
            frame.pts = None  # let the encoder count samples from 0
            for resampled in resampler.resample(frame):
                self._output.mux(out.encode(resampled))

    def finish(self) -> None:
        self.advance(None)
        for route in self._routes.values():
            if route[0] == "encode":
                _, out, resampler = route
                for resampled in resampler.resample(None):
                    self._output.mux(out.encode(resampled))
                self._output.mux(out.encode(None))
        self.close()

    def close(self) -> None:
        self._container.close()


def audio_duration(path: Path) -> float | None:
    """Seconds of the first audio stream of `path` (from its packets), or None when it has none."""
    with open_container(Path(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        start = end = None
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            begin = packet.pts * stream.time_base
            finish = begin + (packet.duration or 0) * stream.time_base
            start = begin if start is None else min(start, begin)
            end = finish if end is None else max(end, finish)
        return float(end - start) if start is not None else None
