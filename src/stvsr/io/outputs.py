"""Where output goes, checked before any frame is decoded: the destination, the encoder options, and the hidden
temporaries (`.NAME.<host>-<pid>-<tag>.stvsr-partial.EXT`) that writers rename into place when they finish.

Nothing here imports torch, so the command line can refuse a bad destination or option in a fraction of a second.
A temporary names the host and process that writes it: a later run to the same output removes the ones whose
process is gone (a kill -9, a power loss), which no signal handler can clean up.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
from pathlib import Path

from ..errors import OutputError, UsageError
from ..atomic import NAME_MAX, fitted_stem
from .probe import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

DEFAULT_CODEC = {".webm": "libvpx-vp9", ".gif": "gif"}
DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libvpx-vp9": 24}
# The ranges each encoder documents for its constant-quality mode (x264/x265: 0-51; libvpx and AOM: 0-63).
# Outside them x264 silently falls back to its default (-1) or clamps (99 -> 51), so they are checked here.
CRF_RANGE = {"libx264": (0, 51), "libx265": (0, 51), "libvpx-vp9": (0, 63), "libaom-av1": (0, 63),
             "libsvtav1": (0, 63)}
# x264's and x265's named presets (`x264 --fullhelp`, `x265 --help`).
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
PRESET_CODECS = ("libx264", "libx265")
PARTIAL_TAG = ".stvsr-partial"
# A temporary written from another host cannot be checked for a live process; it counts as stale after this long
# without a write (a live writer touches its file with every encoded frame).
FOREIGN_STALE_SECONDS = 3600


def is_folder_output(path: Path) -> bool:
    """An existing folder, or a path with no extension, receives numbered PNG frames."""
    try:
        return path.is_dir() or path.suffix == ""
    except OSError:  # a name the file system cannot hold: check_destination says so
        return path.suffix == ""


def check_writable_folder(folder: Path, what: str) -> None:
    """`folder` exists and takes a new file (tried for real: root passes `os.access` on folders that refuse files,
    such as /proc); an `OutputError` naming `what` otherwise."""
    if not folder.is_dir():
        raise OutputError(f"{what} folder does not exist: {folder}")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".stvsr-probe-"):
            pass
    except OSError:
        raise OutputError(f"{what} folder is not writable: {folder}") from None


def check_destination(path: Path, *, inputs: tuple[Path, ...] = (), overwrite: bool = False) -> None:
    """Refuse destinations that would destroy an input, overwrite without leave, or cannot be written."""
    if len(path.name.encode()) > NAME_MAX:
        raise OutputError(f"output name is {len(path.name.encode())} bytes; file names have at most {NAME_MAX}: "
                          f"{path.name[:40]}...")
    for source in inputs:
        if _same_path(path, source):
            raise OutputError(f"refusing to write over the input: {path}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output folder is not writable: {parent}")
    if is_folder_output(path):
        if path.exists() and not path.is_dir():
            raise OutputError(f"output exists and is not a folder: {path}")
        if path.is_dir() and any(path.iterdir()):
            if not overwrite:
                raise OutputError(f"output folder is not empty: {path} (use --overwrite to replace its frames)")
            strays = [p.name for p in path.iterdir() if p.suffix.lower() not in IMAGE_EXTENSIONS or p.is_dir()]
            if strays:
                raise OutputError(f"output folder holds files that are not frames ({strays[0]}, ...): {path}; "
                                  f"refusing to replace it")
        return
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise UsageError(f"unknown video extension '{path.suffix}' for {path}; use one of "
                         f"{', '.join(VIDEO_EXTENSIONS[:6])}, ... or a folder path without extension for PNG frames")
    if path.exists() and not overwrite:
        raise OutputError(f"output exists: {path} (use --overwrite to replace it)")
    if path.is_dir():
        raise OutputError(f"output is a folder: {path}")


def _same_path(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


# Encoder options --------------------------------------------------------------------------------------------------

def codec_for(path: Path, codec: str | None) -> str:
    return codec or DEFAULT_CODEC.get(path.suffix.lower(), "libx264")


def check_encoder_options(path: Path, *, codec: str | None = None, crf: int | None = None,
                          preset: str | None = None, pix_fmt: str | None = None) -> None:
    """Refuse encoder options the chosen codec would reject or silently change, before anything is decoded.

    Checks the codec exists as an encoder and fits the container of `path`, `crf` against the codec's documented
    range, `preset` against its named presets and `pix_fmt` against the formats it takes. Frame-folder outputs
    (PNG) take none of these options.
    """
    if is_folder_output(path):
        given = [f"--{name}" for name, value in (("codec", codec), ("crf", crf), ("preset", preset))
                 if value is not None]
        if given:
            raise UsageError(f"{', '.join(given)} apply to video files; {path} is a frame folder (PNG)")
        return
    import av  # here: what trains from frame folders and packed data needs no PyAV

    name = codec_for(path, codec)
    try:
        encoder = av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):
        raise UsageError(f"unknown encoder {name!r} (e.g. libx264, libx265, libvpx-vp9, ffv1, png)") from None
    if encoder.type != "video":
        raise UsageError(f"{name} is not a video encoder")
    if crf is not None:
        if name not in CRF_RANGE:
            raise UsageError(f"--crf applies to {', '.join(CRF_RANGE)}, not {name}")
        low, high = CRF_RANGE[name]
        if not low <= crf <= high:
            raise UsageError(f"--crf {crf} is outside {name}'s range {low}-{high} (lower is better; default "
                             f"{DEFAULT_CRF.get(name, 'the encoder default')})")
    if preset is not None:
        if name not in PRESET_CODECS:
            raise UsageError(f"--preset applies to libx264/libx265, not {name}")
        if preset not in PRESETS:
            raise UsageError(f"--preset {preset!r} is not a {name} preset; use one of {', '.join(PRESETS)}")
    formats = [f.name for f in encoder.video_formats or ()]
    if pix_fmt is not None and formats and pix_fmt not in formats:
        raise UsageError(f"codec {name} does not take pixel format {pix_fmt}; it takes "
                         f"{', '.join(formats[:8])}{' ...' if len(formats) > 8 else ''}")
    _check_container_takes(path, name)


def _check_container_takes(path: Path, codec: str) -> None:
    """The container chosen by `path`'s extension must be able to store `codec` (probed in memory)."""
    import av

    try:
        fmt = av.format.ContainerFormat(_muxer_for(path), "w").name
        with av.open(io.BytesIO(), "w", format=fmt) as container:
            supported = container.supported_codecs
    except (av.error.FFmpegError, ValueError):
        return  # the writer opens the real file and reports what FFmpeg says
    if codec not in supported:
        raise UsageError(f"codec {codec} cannot be stored in a {path.suffix} file")


def _muxer_for(path: Path) -> str:
    """FFmpeg's muxer name for an extension (what `av.open(path, 'w')` would guess)."""
    guess = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi",
             ".mpg": "mpeg", ".mpeg": "mpeg", ".ts": "mpegts", ".m2ts": "mpegts", ".flv": "flv", ".wmv": "asf",
             ".ogv": "ogg", ".gif": "gif", ".y4m": "yuv4mpegpipe", ".nut": "nut", ".3gp": "3gp"}
    return guess.get(path.suffix.lower(), path.suffix.lstrip(".").lower())


# Temporaries ------------------------------------------------------------------------------------------------------

def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:16] or "host"


_PARTIAL_EXTRA = 56  # '.', '.HOST-PID-TAG' and PARTIAL_TAG around a temporary's stem (host tag at most 16)


def sidecar(output: Path, tag: str) -> Path:
    """The hidden file or folder `.NAME<tag>` beside `output` (its work folder, claim, job record)."""
    return output.parent / f".{fitted_stem(output.name, 1 + len(tag.encode()))}{tag}"


def partial_path(path: Path, suffix: str) -> Path:
    """The hidden temporary beside `path` that this process writes to; its name says who owns it."""
    stem = fitted_stem(path.stem, _PARTIAL_EXTRA + len(suffix.encode()))
    return path.parent / f".{stem}.{_host_tag()}-{os.getpid()}-{uuid.uuid4().hex[:8]}{PARTIAL_TAG}{suffix}"


def _owner_alive(name: str, modified: float) -> bool:
    match = re.search(r"\.([A-Za-z0-9]+)-(\d+)-[0-9a-f]{8}" + re.escape(PARTIAL_TAG), name)
    if match is None or match.group(1) != _host_tag():  # older naming, or another machine: judge by its age
        return time.time() - modified < FOREIGN_STALE_SECONDS
    pid = int(match.group(2))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a live process of another user
        return True
    return True


def remove_stale_partials(path: Path) -> list[str]:
    """Remove the temporaries of `path` left by runs that were killed (their process is gone); returns notes."""
    parent = path.parent if str(path.parent) else Path(".")
    notes = []
    try:
        stem = fitted_stem(path.stem, _PARTIAL_EXTRA + len(path.suffix.encode()))
        candidates = list(parent.glob(f".{glob_escape(stem)}.*{PARTIAL_TAG}*"))
    except OSError:
        return notes
    for candidate in candidates:
        try:
            modified = candidate.stat().st_mtime
        except OSError:
            continue
        if _owner_alive(candidate.name, modified):
            continue
        size = _size(candidate)
        if candidate.is_dir():
            shutil.rmtree(candidate, ignore_errors=True)
        else:
            candidate.unlink(missing_ok=True)
        if not candidate.exists():
            notes.append(f"removed {candidate.name} ({size / 1e6:.1f} MB), left by an interrupted run")
    return notes


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _size(path: Path) -> int:
    try:
        if path.is_dir():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return path.stat().st_size
    except OSError:
        return 0
