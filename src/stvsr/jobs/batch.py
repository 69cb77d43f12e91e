"""`stvsr batch IN_DIR OUT_DIR`: every video directly in IN_DIR upscaled to OUT_DIR, resumably, by one or many
workers.

Each file runs as `stvsr upscale --resume` would: in segments kept beside its output, so a rerun after Ctrl-C,
kill -9 or a power loss skips the finished files (an output exists only once complete and self-checked) and
continues an unfinished one from its last segment. Several workers (processes, or machines sharing the folders:
a SLURM job array, a Kubernetes job) split the files by claims: `OUT_DIR/.NAME.stvsr-claim`, created atomically
(O_EXCL), naming its host and process and refreshed while the file is worked on. A claim whose process is gone
(same host) or that has not been refreshed for CLAIM_STALE_SECONDS (any host) is taken over.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OutputError, StvsrError, UsageError
from ..io.claims import Claim, try_claim
from ..io.outputs import sidecar
from ..io.probe import VIDEO_EXTENSIONS


@dataclass
class FileResult:
    name: str
    status: str  # done | skipped | elsewhere | failed
    detail: str = ""
    frames: int = 0
    seconds: float = 0.0
    exit_code: int = 0


@dataclass
class BatchResult:
    results: list[FileResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every file is done or was already; else the exit code of the first failure."""
        return next((r.exit_code for r in self.results if r.status == "failed"), 0)

    def table(self) -> str:
        width = max([len(r.name) for r in self.results] + [4])
        lines = [f"{'file':<{width}}  {'status':<9}  {'frames':>7}  {'seconds':>8}  detail"]
        for r in self.results:
            lines.append(f"{r.name:<{width}}  {r.status:<9}  {r.frames:>7}  {r.seconds:>8.1f}  {r.detail}".rstrip())
        counts = {s: sum(r.status == s for r in self.results) for s in ("done", "skipped", "elsewhere", "failed")}
        lines.append(", ".join(f"{n} {s}" for s, n in counts.items()))
        return "\n".join(lines)


def list_videos(folder: Path) -> list[Path]:
    """Video files directly in `folder` (not in sub-folders; hidden files skipped), sorted by name."""
    if not folder.is_dir():
        raise UsageError(f"input folder not found: {folder}")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in VIDEO_EXTENSIONS)


def output_for(source: Path, out_dir: Path, ext: str | None) -> Path:
    return out_dir / (f"{source.stem}.{ext.lstrip('.')}" if ext else source.name)


def check_unique_outputs(sources: list[Path], out_dir: Path, ext: str | None) -> None:
    """Two inputs that map to one output name (`take.mp4` and `take.mov` under `--ext mkv`) would lose one of
    them: a `UsageError` naming both, before anything runs."""
    seen: dict[str, Path] = {}
    for source in sources:
        name = output_for(source, out_dir, ext).name
        if name in seen:
            raise UsageError(f"{seen[name].name} and {source.name} would both be written to {name}: rename one, "
                             f"or run them in separate batches")
        seen[name] = source


# Job records ------------------------------------------------------------------------------------------------------
# A finished output has a record beside it, `.NAME.stvsr-job`: the input's fingerprint and the options that made
# it. A rerun skips an output only when its record matches the job asked for now; otherwise the output is another
# job's (other options, a replaced input, or made by hand) and is redone with --overwrite, or fails with one line.

JOB_TAG = ".stvsr-job"


def job_record(source: Path, template) -> dict:
    """What made an output: the input's fingerprint and the options that change what is written (UpscaleJob.record)."""
    from .segments import fingerprint

    input_print = fingerprint(source)
    del input_print["path"]  # the folder may be mounted elsewhere on another node: size and time identify it
    return {"input": {"name": source.name, **input_print}, "options": template.record()}


def _record_path(output: Path) -> Path:
    return sidecar(output, JOB_TAG)


def recorded_job(output: Path) -> dict | None:
    try:
        return json.loads(_record_path(output).read_text())
    except (OSError, ValueError):
        return None


def record_job(output: Path, record: dict) -> None:
    from ..atomic import atomic_write_text

    atomic_write_text(_record_path(output), json.dumps(record, sort_keys=True))


# The batch --------------------------------------------------------------------------------------------------------

def batch_sources(in_dir: Path, out_dir: Path, ext: str | None) -> list[Path]:
    """The videos of `in_dir`, after the checks every engine makes before any work: inputs exist, OUT_DIR is not
    IN_DIR (without --ext), OUT_DIR made if its parent exists, no two inputs mapping to one output."""
    sources = list_videos(in_dir)
    if not sources:
        raise UsageError(f"no video files in {in_dir} ({', '.join(VIDEO_EXTENSIONS[:6])}, ...)")
    if out_dir.resolve() == in_dir.resolve() and not ext:
        raise UsageError("OUT_DIR is IN_DIR: give another folder, or --ext to write under other names")
    if not out_dir.is_dir():
        if not out_dir.parent.is_dir():
            raise OutputError(f"output folder's parent does not exist: {out_dir.parent}")
        out_dir.mkdir(exist_ok=True)
    check_unique_outputs(sources, out_dir, ext)
    return sources


def claimed_files(sources: list[Path], out_dir: Path, ext: str | None, template, result: BatchResult
                  ) -> Iterator[tuple[Path, Path, dict, Claim, str]]:
    """(source, output, job record, claim, the claim's note) for each file this worker is to do; the files skipped (this job's
    output exists) or left to another worker (claimed) are recorded in `result`. The caller releases each claim."""
    for source in sources:
        output = output_for(source, out_dir, ext)
        record = job_record(source, template)
        verdict = _existing(output, record, template.overwrite)
        if verdict is None:
            claim, note = try_claim(output)
            if claim is None:
                result.results.append(FileResult(source.name, "elsewhere", note))
                continue
            verdict = _existing(output, record, template.overwrite)  # another worker may have finished it meanwhile
            if verdict is None:
                yield source, output, record, claim, note
                continue
            claim.release()
        result.results.append(verdict)


def run_batch(in_dir: Path, out_dir: Path, template, *, ext: str | None = None,
              on_file: Callable[[str, int], None] | None = None, progress: Callable[[int], None] | None = None,
              total_frames: Callable[[Path], int] | None = None) -> BatchResult:
    """Upscale every video of `in_dir` into `out_dir` with the options of `template` (an UpscaleJob), resumably.

    `progress(n)` is told each n output frames written; a failure of one file is recorded and the batch goes on.
    An existing output is skipped when its job record matches this job; another job's output is replaced when
    `template.overwrite`, and fails with one line otherwise.
    """
    from .options import Resume
    from .upscale import upscale_video

    sources = batch_sources(in_dir, out_dir, ext)
    result = BatchResult()
    for source, output, record, claim, note in claimed_files(sources, out_dir, ext, template, result):
        started = time.perf_counter()
        with claim:
            if on_file is not None:
                on_file(source.name, total_frames(source) if total_frames else 0)
            job = template.for_file(source, output, resume=template.resume or Resume(), quiet=True,
                                    progress=progress, overwrite=output.exists())
            try:
                summary = upscale_video(job)
                record_job(output, record)
            except StvsrError as error:
                result.results.append(FileResult(source.name, "failed", str(error),
                                                 seconds=time.perf_counter() - started,
                                                 exit_code=error.exit_code))
                continue
            detail = "; ".join(part for part in (note, summary.check.summary() if summary.check else "") if part)
            result.results.append(FileResult(source.name, "done", detail, summary.frames_out,
                                             time.perf_counter() - started))
    return result


def _existing(output: Path, record: dict, overwrite: bool) -> FileResult | None:
    """What to do about an output that exists: skip it (this job's), fail it (another job's, without leave to
    overwrite); None: (re)do it."""
    if not output.exists():
        return None
    name = record["input"]["name"]
    if recorded_job(output) == record:
        return FileResult(name, "skipped", "already complete")
    if overwrite:
        return None
    why = "with other options or from another input" if recorded_job(output) else "by another job"
    return FileResult(name, "failed", f"{output.name} exists, made {why} (use --overwrite to redo it)",
                      exit_code=OutputError.exit_code)
