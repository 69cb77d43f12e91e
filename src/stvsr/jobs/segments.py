"""Resumable jobs: a video is upscaled in segments of input frames, each encoded to its own file in a hidden work
folder beside the output (`.NAME.stvsr-work/`) and kept once complete; the segments are joined (no re-encoding),
the audio added, the result self-checked and only then moved to its name.

An interrupted job (Ctrl-C, kill, kill -9, power loss) loses at most the segment it was writing: the same command
with `--resume` finds the work folder, checks that it was made from the same input with the same options
(`job.json`), and continues with the first missing segment. Each segment is computed from its input frames plus
`context` frames on each side, so temporal models and scene detection see what they would in one pass.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import atomic_write_text
from ..io.concat import join_segments
from ..io.outputs import partial_path, sidecar
from ..io.verify import OutputCheck, verify_output

if TYPE_CHECKING:
    from torch import Tensor

WORK_TAG = ".stvsr-work"
DEFAULT_SEGMENT_SECONDS = 10.0


def work_dir(output: Path) -> Path:
    return sidecar(output, WORK_TAG)


def fingerprint(path: Path) -> dict:
    """What identifies an input file for a resumed job: its resolved path, size and modification time."""
    stat = path.stat()
    return {"path": str(path.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


@dataclass
class SegmentPlan:
    frames_in: int  # input frames of the whole job
    segment_frames: int
    time_factor: int
    context: int  # input frames read before and after each segment

    @property
    def count(self) -> int:
        return -(-self.frames_in // self.segment_frames)

    def span(self, index: int) -> tuple[int, int]:
        """Input frames [start, stop) whose outputs segment `index` holds."""
        start = index * self.segment_frames
        return start, min(start + self.segment_frames, self.frames_in)

    def read_span(self, index: int) -> tuple[int, int]:
        start, stop = self.span(index)
        return max(0, start - self.context), min(self.frames_in, stop + self.context)


def open_work(output: Path, job: dict) -> tuple[Path, list[str]]:
    """The work folder of `output` for `job` (made if missing); work from another input or other options is
    discarded. Returns the folder and notes."""
    folder = work_dir(output)
    notes = []
    manifest = folder / "job.json"
    if folder.is_dir():
        try:
            previous = json.loads(manifest.read_text())
        except (OSError, ValueError):
            previous = None
        if previous == job:
            done = len(list(folder.glob("segment_*")))
            notes.append(f"resumed: {done} finished segment{'s' if done != 1 else ''} kept from an earlier run")
            return folder, notes
        shutil.rmtree(folder, ignore_errors=True)
        notes.append("earlier work for this output came from another input or other options: started afresh")
    folder.mkdir()
    atomic_write_text(manifest, json.dumps(job, indent=2, sort_keys=True))
    return folder, notes


def write_segments(plan: SegmentPlan, folder: Path, *, suffix: str, fps: Fraction,
                   outputs_of: Callable[[int, int], Iterator[Tensor]], encoder: dict,
                   progress: Callable[[int], None]) -> list[Path]:
    """Encode every missing segment into `folder`; returns all segment files in order (see `write_segment`)."""
    return [write_segment(plan, folder, index, suffix=suffix, fps=fps, outputs_of=outputs_of, encoder=encoder,
                          progress=progress) for index in range(plan.count)]


def segment_path(folder: Path, index: int, suffix: str) -> Path:
    return folder / f"segment_{index:05d}{suffix}"


def write_segment(plan: SegmentPlan, folder: Path, index: int, *, suffix: str, fps: Fraction,
                  outputs_of: Callable[[int, int], Iterator[Tensor]], encoder: dict,
                  progress: Callable[[int], None]) -> Path:
    """Encode segment `index` into `folder` unless it is there already (then its frames are reported done).

    `outputs_of(start, stop)` yields the output frames of input frames [start, stop), as one pass over them
    would (k per input frame, the last held k - 1 times); `encoder` holds VideoWriter's codec options. The segment
    appears only once complete and checked (VideoWriter writes a temporary and renames it), so two workers that
    both computed it leave one good file.
    """
    k = plan.time_factor
    start, stop = plan.span(index)
    path = segment_path(folder, index, suffix)
    if path.exists():
        progress((stop - start) * k)
        return path
    first, last = plan.read_span(index)
    keep = range((start - first) * k, (stop - first) * k)

    def complete(written: Path, expected: int = len(keep)) -> OutputCheck:
        return verify_output(written, frames=expected, fps=fps, audio_from=None, shown_as=path)

    from ..io.writer import VideoWriter  # here: importing it imports torch, which the option checks do without

    with VideoWriter(path, fps=fps, check=complete, overwrite=True, **encoder) as writer:
        for i, frame in enumerate(outputs_of(first, last)):
            if i in keep:
                writer.write(frame)
                progress(1)
            elif i >= keep.stop:
                break
    return path


def finish(files: list[Path], output: Path, *, fps: Fraction, frames: int, audio_from: Path | None,
           overwrite: bool) -> tuple[OutputCheck, list[str]]:
    """Join the segments into a temporary beside `output`, self-check it, move it into place, drop the work."""
    temporary = partial_path(output, output.suffix)
    try:
        notes = join_segments(files, temporary, fps=fps, audio_from=audio_from)
        check = verify_output(temporary, frames=frames, fps=fps, audio_from=audio_from, shown_as=output)
        if output.exists() and not overwrite:
            from ..errors import OutputError

            raise OutputError(f"output exists: {output} (use --overwrite to replace it)")
        os.replace(temporary, output)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    shutil.rmtree(files[0].parent, ignore_errors=True)
    return check, notes
