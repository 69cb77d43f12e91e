"""FFmpeg's log messages go through FFmpeg's own C handler, never through Python.

PyAV can route FFmpeg's log lines into Python's `logging`; that callback takes the GIL from FFmpeg's codec
threads and deadlocks threaded decoding when a container is closed mid-stream (PyAV issues #751 and #367; seen
here as a hung test under load). stvsr therefore restores FFmpeg's native handler before it opens anything.
"""

from __future__ import annotations

import os

_done = False


def use_native_ffmpeg_log() -> None:
    """Switch (once) to FFmpeg's native log handler, showing errors only (FFmpeg's default, INFO, prints every
    encoder's statistics; stvsr raises its own errors for what matters). SVT-AV1 prints a 20-line banner with its
    own printf, past FFmpeg's log: its SVT_LOG variable asks it for errors only."""
    global _done
    if not _done:
        import av.logging  # here, not at import: frame folders and the packed training data need no PyAV

        os.environ.setdefault("SVT_LOG", "1")

        av.logging.restore_default_callback()
        av.logging.set_libav_level(av.logging.ERROR)
        _done = True


def silence_ffmpeg() -> None:
    """Native handler, and only fatal messages: for the command line, which reports problems itself."""
    import av.logging

    use_native_ffmpeg_log()
    av.logging.set_libav_level(av.logging.PANIC)
