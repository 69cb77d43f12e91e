"""Video in and out: the only place that knows about uint8, YUV, containers and FFmpeg (through PyAV)."""

from .audio import audio_duration
from .probe import VideoInfo, probe
from .reader import VideoReader
from .writer import FrameFolderWriter, VideoWriter, check_destination, is_folder_output, open_writer

__all__ = ["VideoInfo", "VideoReader", "VideoWriter", "FrameFolderWriter", "audio_duration", "check_destination",
           "is_folder_output", "open_writer", "probe"]
