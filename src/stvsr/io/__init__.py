"""Video in and out: the only place that knows about uint8, YUV, containers and FFmpeg (through PyAV).

The readers, writers and audio load on first use (PEP 562): probing and the output checks, which the command line
runs before anything else, do not pull in torch; and PyAV loads only when a container is opened, so training from
frame folders and packed clips runs where PyAV is not installed (a bare GPU machine).
"""

from importlib import import_module

from .outputs import check_destination, is_folder_output
from .probe import VideoInfo, probe

_LAZY = {"audio_duration": "audio", "VideoReader": "reader", "VideoWriter": "writer", "FrameFolderWriter": "writer", "open_writer": "writer"}

__all__ = ["VideoInfo", "VideoReader", "VideoWriter", "FrameFolderWriter", "audio_duration", "check_destination",
           "is_folder_output", "open_writer", "probe", "pyav_installed"]


def pyav_installed() -> bool:
    """Whether PyAV imports here: a lent GPU's image lacks it, so protocols that run a video codec need their inputs
    made elsewhere (train.pack)."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'stvsr.io' has no attribute {name!r}")
    return getattr(import_module(f".{_LAZY[name]}", __name__), name)
